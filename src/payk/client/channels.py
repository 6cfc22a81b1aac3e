"""Channels on the client: create, link, subscribe, post (admins), read (everyone).

Strategy: a channel is a row of ``groups`` with ``kind = 'channel'``; its state is the
channel's keys (with the signing key for admins), the highest post number seen and the numbers
below it not read yet. A channel created by a profile with two or more relays has a copy of its
feed on each of the first two (``payk.client.feed_mirrors``; the admin holds each copy's writer
key, the link names every copy). Posting is one append to each copy (queued in ``group_outbox``
and ``mirror_outbox`` like group entries, appended in order). Reading is a plain HTTP GET of
every copy (``feed_http``), never a relay session, so subscribers stay anonymous and any web
cache can serve them. With several copies each is read from its own offset, at once; an entry
already read from another copy is skipped by its SHA-256 before it is opened, and a post whose
number one copy skipped is still taken when another copy serves it later. A copy that cannot be
read is skipped; the channel fails only when none can be. Each post is checked by
``payk.protocol.channel.open_post``; refused posts become warnings, never messages.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec

from payk.client import feed_http, feed_mirrors, feeds
from payk.client.feed_rows import (
    FeedRow,
    by_name,
    check_new_name,
    describe,
    feed_row,
    insert_row,
    store_message,
)
from payk.errors import (
    FingerprintMismatchError,
    NetworkError,
    PaykError,
    RemoteProtocolError,
    UsageError,
)
from payk.protocol import channel as ch
from payk.protocol import group_content as gc
from payk.protocol import primitives
from payk.protocol.address import RelayAddress

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["MAX_MISSING", "ChannelState", "create", "link", "post", "subscribe", "sync_one"]

MAX_MISSING = 1000  # skipped post numbers remembered (the most recent ones)


class ChannelState(msgspec.Struct, kw_only=True):
    """What the profile keeps about a channel."""

    keys: ch.ChannelKeys
    last_seq: int = -1
    next_seq: int = 0
    missing: list[int] = []  # numbers below last_seq not read yet (channels with copies)


def _state(row: FeedRow) -> ChannelState:
    try:
        return msgspec.msgpack.decode(row.state, type=ChannelState)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RemoteProtocolError("a damaged channel record") from exc


def _save(client: Client, row_id: int, state: ChannelState) -> None:
    db = client.profile.db
    db.execute("UPDATE groups SET state = ? WHERE id = ?", (msgspec.msgpack.encode(state), row_id))


async def create(client: Client, name: str) -> str:
    """Create a channel on our first relays (a copy of its feed on each), us its admin.

    Returns its name.

    Raises:
        UsageError: the name is taken.
        NetworkError: the first relay could not create the feed.
    """
    db = client.profile.db
    name = check_new_name(db, name)
    relay = client.relays[0]
    creds = await feeds.create_feed(client.pool, relay)
    later = client.relays[1 : feed_mirrors.MAX_COPIES]
    copies = await feeds.create_copies(client.pool, later, client.warnings, "the channel")
    state = ChannelState(keys=ch.new_channel())
    with db.transaction():
        row_id = insert_row(
            db,
            kind="channel",
            name=name,
            relay=relay,
            feed_id=creds.feed_id,
            writer_seed=creds.writer_seed,
            state=msgspec.msgpack.encode(state),
            now=client.clock(),
        )
        for other, other_creds in copies:
            feed_mirrors.add(db, row_id, other, other_creds)
    return name


def link(client: Client, name: str) -> str:
    """The subscription link of a channel (anyone with it can read, nobody can post)."""
    db = client.profile.db
    row = by_name(db, name, kind="channel")
    keys = _state(row).keys
    mirrors = [
        ch.ChannelMirror(relay=place.relay, feed=place.feed_id)
        for place in feed_mirrors.places(db, row)[1:]
    ]
    text = ch.ChannelLink(
        name=row.name,
        relay=row.relay,
        feed=row.feed_id,
        channel=keys.channel,
        content_key=keys.content_key,
        verify_key=keys.verify_key,
        mirrors=mirrors,
    )
    return ch.encode_channel_link(text)


async def subscribe(client: Client, text: str, *, alias: str | None = None) -> str:
    """Follow the channel of a link; returns its local name (posts arrive with ``sync``)."""
    parsed = ch.decode_channel_link(text)
    db = client.profile.db
    if db.one("SELECT 1 FROM groups WHERE relay = ? AND feed_id = ?", (parsed.relay, parsed.feed)):
        raise UsageError("you already follow this channel")
    name = check_new_name(db, alias or parsed.name)
    state = ChannelState(keys=parsed.keys())
    with db.transaction():
        row_id = insert_row(
            db,
            kind="channel",
            name=name,
            relay=parsed.relay,
            feed_id=parsed.feed,
            writer_seed=None,
            state=msgspec.msgpack.encode(state),
            now=client.clock(),
        )
        for mirror in parsed.mirrors:
            feed_mirrors.add_reader(db, row_id, mirror.relay, mirror.feed)
    return name


async def post(
    client: Client, row: FeedRow, item: gc.GroupContent, *, text: str | None
) -> tuple[str, int]:
    """Post to a channel we run: one signed, sealed append to each copy of its feed.

    Returns the message id and how many copies took it (0: it waits for the next sync).
    """
    db = client.profile.db
    state = _state(row)
    if not state.keys.signing_seed:
        raise UsageError(f"only the admins of {row.name!r} can post to it")
    with db.transaction():
        envelope = ch.seal_post(
            state.keys, state.next_seq, gc.encode(item), envelope_id=primitives.random_bytes(16)
        )
        state.next_seq += 1
        _save(client, row.id, state)
        rowid = store_message(
            db, row.id, item, sender=row.name, outgoing=True, now=client.clock(), text=text
        )
        feeds.enqueue(db, row.id, [envelope], rowid)
    return item.id.hex(), await _flush(client, row)


async def _flush(client: Client, row: FeedRow) -> int:
    """Append what waits to every copy we can reach; returns how many copies hold it all.

    A post counts as sent once any copy holds it (each copy is appended in order, so a copy
    with nothing waiting holds every post).
    """
    db = client.profile.db
    await feeds.flush_feed(db, client.pool, row.id, row.relay, row.creds)
    await feeds.flush_mirrors(db, client.pool, row.id)
    first = db.one("SELECT count(*) FROM group_outbox WHERE group_ref = ?", (row.id,))
    done = int(first is None or not first[0])
    done += sum(1 for _, _, rows in feed_mirrors.waiting(db, row.id) if not rows)
    if done:
        db.execute(
            "UPDATE group_messages SET status = 'sent' WHERE group_ref = ? AND outgoing = 1 "
            "AND status = 'queued'",
            (row.id,),
        )
    return done


async def sync_one(client: Client, row: FeedRow) -> list[int]:
    """Read new posts of every copy of a channel by HTTP GET; returns the new message rows.

    Raises:
        NetworkError: no copy could be read.
    """
    if row.writer_seed:
        await _flush(client, row)
    places = feed_mirrors.places(client.profile.db, row)
    new: list[int] = []
    results = await asyncio.gather(
        *(_read_place(client, row, place, new, dedup=len(places) > 1) for place in places),
        return_exceptions=True,
    )
    failures: list[NetworkError] = []
    for result in results:
        if isinstance(result, NetworkError):
            failures.append(result)
        elif isinstance(result, BaseException):
            raise result
    if len(failures) == len(places):
        raise failures[0]
    for failure in failures:  # a copy served under another TLS key is reported, not skipped
        if isinstance(failure, FingerprintMismatchError):
            client.warnings.append(f"channel {row.name}: {failure}")
    return new


async def _read_place(
    client: Client, row: FeedRow, place: feed_mirrors.Place, new: list[int], *, dedup: bool
) -> None:
    relay = RelayAddress.parse(place.relay)
    offset = place.next_offset
    while True:
        page = await feed_http.get_feed(
            relay, place.feed_id, offset, timeout=client.config.network_timeout
        )
        if not page:
            return
        offset = _process(client, row, place, page, new, dedup=dedup)


def _process(
    client: Client,
    row: FeedRow,
    place: feed_mirrors.Place,
    page: list[tuple[int, bytes]],
    new: list[int],
    *,
    dedup: bool,
) -> int:
    db = client.profile.db
    with db.transaction():
        state = _state(feed_row(db.one("SELECT * FROM groups WHERE id = ?", (row.id,))))
        offset = 0
        for position, data in page:
            offset = position + 1
            if dedup and not feed_mirrors.first_time(db, row.id, data):
                continue  # the same post, already read from another copy
            try:
                item_post = ch.open_post(
                    state.keys, data, last_seq=state.last_seq, missing=state.missing
                )
                item = gc.decode(item_post.content)
            except PaykError as exc:
                client.warnings.append(f"channel {row.name}: rejected a post ({exc})")
                continue
            _seen(state, item_post.seq, gaps=dedup)
            outgoing = bool(state.keys.signing_seed)
            rowid = store_message(
                db,
                row.id,
                item,
                sender=row.name,
                outgoing=outgoing,
                now=client.clock(),
                text=describe(item),
            )
            if rowid and not outgoing:
                new.append(rowid)
        _save(client, row.id, state)
        feed_mirrors.save_offset(db, row.id, place, offset)
    return offset


def _seen(state: ChannelState, seq: int, *, gaps: bool) -> None:
    """Record post ``seq`` as read; with copies, remember the numbers it skipped over."""
    if seq <= state.last_seq:
        state.missing.remove(seq)  # open_post took it, so it was missing
        return
    if gaps:
        skipped = range(max(state.last_seq + 1, seq - MAX_MISSING), seq)
        state.missing = (state.missing + list(skipped))[-MAX_MISSING:]
    state.last_seq = seq
