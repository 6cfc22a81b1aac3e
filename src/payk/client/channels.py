"""Channels on the client: create, link, subscribe, post (admins), read (everyone).

Strategy: a channel is a row of ``groups`` with ``kind = 'channel'``; its state is the
channel's keys (with the signing key for admins) and the highest post number seen. Posting is
one append to the channel's feed (queued in ``group_outbox`` like group entries). Reading is a
plain HTTP GET of the feed (``feed_http``), never a relay session, so subscribers stay
anonymous and any web cache can serve them. Each post is checked by
``payk.protocol.channel.open_post``; refused posts become warnings, never messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from payk.client import feed_http, feeds
from payk.client.feed_rows import (
    FeedRow,
    by_name,
    check_new_name,
    describe,
    feed_row,
    insert_row,
    store_message,
)
from payk.errors import PaykError, RemoteProtocolError, UsageError
from payk.protocol import channel as ch
from payk.protocol import group_content as gc
from payk.protocol import primitives
from payk.protocol.address import RelayAddress

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["ChannelState", "create", "link", "post", "subscribe", "sync_one"]


class ChannelState(msgspec.Struct, kw_only=True):
    """What the profile keeps about a channel."""

    keys: ch.ChannelKeys
    last_seq: int = -1
    next_seq: int = 0


def _state(row: FeedRow) -> ChannelState:
    try:
        return msgspec.msgpack.decode(row.state, type=ChannelState)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RemoteProtocolError("a damaged channel record") from exc


def _save(client: Client, row_id: int, state: ChannelState, offset: int | None = None) -> None:
    db = client.profile.db
    db.execute("UPDATE groups SET state = ? WHERE id = ?", (msgspec.msgpack.encode(state), row_id))
    if offset is not None:
        db.execute("UPDATE groups SET next_offset = ? WHERE id = ?", (offset, row_id))


async def create(client: Client, name: str) -> str:
    """Create a channel on our first relay, with us as its admin. Returns its name."""
    db = client.profile.db
    name = check_new_name(db, name)
    relay = client.relays[0]
    creds = await feeds.create_feed(client.pool, relay)
    state = ChannelState(keys=ch.new_channel())
    with db.transaction():
        insert_row(
            db,
            kind="channel",
            name=name,
            relay=relay,
            feed_id=creds.feed_id,
            writer_seed=creds.writer_seed,
            state=msgspec.msgpack.encode(state),
            now=client.clock(),
        )
    return name


def link(client: Client, name: str) -> str:
    """The subscription link of a channel (anyone with it can read, nobody can post)."""
    row = by_name(client.profile.db, name, kind="channel")
    keys = _state(row).keys
    text = ch.ChannelLink(
        name=row.name,
        relay=row.relay,
        feed=row.feed_id,
        channel=keys.channel,
        content_key=keys.content_key,
        verify_key=keys.verify_key,
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
        insert_row(
            db,
            kind="channel",
            name=name,
            relay=parsed.relay,
            feed_id=parsed.feed,
            writer_seed=None,
            state=msgspec.msgpack.encode(state),
            now=client.clock(),
        )
    return name


async def post(
    client: Client, row: FeedRow, item: gc.GroupContent, *, text: str | None
) -> tuple[str, int]:
    """Post to a channel we run: one signed, sealed append to its feed."""
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
    await feeds.flush_feed(db, client.pool, row.id, row.relay, row.creds)
    status = db.one("SELECT status FROM group_messages WHERE rowid_ = ?", (rowid,))
    return item.id.hex(), int(status is not None and status[0] == "sent")


async def sync_one(client: Client, row: FeedRow) -> list[int]:
    """Read new posts of a channel by HTTP GET; returns the new message rows."""
    if row.writer_seed:
        await feeds.flush_feed(client.profile.db, client.pool, row.id, row.relay, row.creds)
    relay = RelayAddress.parse(row.relay)
    new: list[int] = []
    offset = row.next_offset
    while True:
        page = await feed_http.get_feed(
            relay, row.feed_id, offset, timeout=client.config.network_timeout
        )
        if not page:
            return new
        offset = _process(client, row, page, new)


def _process(client: Client, row: FeedRow, page: list[tuple[int, bytes]], new: list[int]) -> int:
    db = client.profile.db
    with db.transaction():
        state = _state(feed_row(db.one("SELECT * FROM groups WHERE id = ?", (row.id,))))
        offset = 0
        for position, data in page:
            offset = position + 1
            try:
                item_post = ch.open_post(state.keys, data, last_seq=state.last_seq)
                item = gc.decode(item_post.content)
            except PaykError as exc:
                client.warnings.append(f"channel {row.name}: rejected a post ({exc})")
                continue
            state.last_seq = item_post.seq
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
        _save(client, row.id, state, offset)
    return offset
