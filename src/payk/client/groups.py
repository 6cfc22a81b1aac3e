"""Groups on the client: create, invite, join, approve, remove, leave, send, sync, history.

Strategy: all group logic is ``payk.protocol.group_member.GroupMember``; this module stores it
(one row of ``groups`` per group, the protocol state as bytes, the next feed offset), moves
its entries to and from the group's feed (``feeds``), and turns its events into stored
messages and warnings. Every step that changes the state loads it, changes it, saves it and
queues the entries it produced in one transaction; appends happen after the commit, in
order. Our own ops are applied only when read back from the feed, like everyone else's.
Rejected entries become warnings (``client.warnings``), so nothing bad passes silently.
The façade calls ``is_feed``/``send_text``/``sync_all``/``history`` for names that are groups or
channels; channels are handled by ``payk.client.channels``. Disappearing messages (a text's
``expire``, the group default set with ``GroupTimer``) are kept by
``payk.client.disappearing``; ``history`` purges due messages before reading.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from payk.client import channels, disappearing, feed_mirrors, feed_rows, feeds
from payk.client.disappearing import TimerSetting
from payk.client.feed_rows import (
    FeedRow,
    by_name,
    check_new_name,
    describe,
    feed_row,
    insert_row,
    messages_by_rowid,
    store_message,
)
from payk.client.messages import Message
from payk.client.store.sqlcipher import Database
from payk.errors import LocalProtocolError, NetworkError, RemoteProtocolError, UsageError
from payk.net.relay import FeedCreds
from payk.protocol import group_content as gc
from payk.protocol import primitives
from payk.protocol.content import MAX_EXPIRE
from payk.protocol.group_link import GroupLink, decode_group_link, encode_group_link
from payk.protocol.group_member import (
    GroupEvent,
    GroupMember,
    JoinRequested,
    Received,
    Rejected,
    Rescan,
)
from payk.protocol.identity import Identity

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = [
    "MemberInfo",
    "Roster",
    "approve",
    "create",
    "history",
    "invite",
    "is_feed",
    "join",
    "leave",
    "members",
    "remove",
    "send_content",
    "send_text",
    "set_timer",
    "sync_all",
    "timer",
]

MAX_REKEY_ROUNDS = 2
_Make = Callable[[GroupMember, Identity, int], list[bytes]]


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberInfo:
    """A member as ``payk group members`` shows it."""

    name: str
    role: str
    you: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Roster:
    """A group's members, pending requests (admins see them), status and epoch."""

    group: str
    status: str
    epoch: int
    members: list[MemberInfo]
    pending: list[str]


def _load(client: Client, row_id: int) -> tuple[FeedRow, GroupMember]:
    row = feed_row(client.profile.db.one("SELECT * FROM groups WHERE id = ?", (row_id,)))
    return row, GroupMember.from_parts(row.state, row.roster, client.profile.pickle_key)


def _save(db: Database, row_id: int, member: GroupMember, offset: int | None = None) -> None:
    core, roster = member.to_parts()
    db.execute("UPDATE groups SET state = ? WHERE id = ?", (core, row_id))
    if roster is not None:
        db.execute("UPDATE groups SET roster = ? WHERE id = ?", (roster, row_id))
    if offset is not None:
        db.execute("UPDATE groups SET next_offset = ? WHERE id = ?", (offset, row_id))


# --- creating and joining --------------------------------------------------------------------


async def create(client: Client, name: str) -> str:
    """Create a group on our first relays (a copy of its feed on each), us its owner.

    Returns its name.

    Raises:
        UsageError: the name is taken.
        NetworkError: the relay could not create the feed.
    """
    db = client.profile.db
    name = check_new_name(db, name)
    relay = client.relays[0]
    creds = await feeds.create_feed(client.pool, relay)
    later = client.relays[1 : feed_mirrors.MAX_COPIES]
    copies = await feeds.create_copies(client.pool, later, client.warnings, "the group")
    identity = client.profile.identity()
    member, entries = GroupMember.create(
        identity,
        name=name,
        member_name=client.name,
        now=client.clock(),
        pickle_key=client.profile.pickle_key,
    )
    with db.transaction():
        row_id = insert_row(
            db,
            kind="group",
            name=name,
            relay=relay,
            feed_id=creds.feed_id,
            writer_seed=creds.writer_seed,
            state=member.to_parts()[0],
            now=client.clock(),
        )
        for other, other_creds in copies:
            feed_mirrors.add(db, row_id, other, other_creds)
        feeds.enqueue(db, row_id, entries, None)
    await _push_and_read(client, row_id)
    return name


async def invite(client: Client, name: str) -> str:
    """A new invite link for the group (anyone with it may ask; an admin must approve).

    Raises:
        UsageError: no such group.
        RemoteProtocolError: we are not an admin of it.
    """
    db = client.profile.db
    row = by_name(db, name)
    await _sync_one(client, row.id)
    with db.transaction():
        row, member = _load(client, row.id)
        invite_id, secret, entries = member.invite(client.profile.identity(), now=client.clock())
        _save(db, row.id, member)
        feeds.enqueue(db, row.id, entries, None)
    await _push_and_read(client, row.id)
    state = member.state
    if state is None:
        raise LocalProtocolError("the group has no state")
    link = GroupLink(
        name=state.name,
        relay=row.relay,
        feed=row.feed_id,
        writer=row.creds.writer_seed,
        group=member.group,
        genesis=member.genesis,
        invite=invite_id,
        secret=secret,
        mirrors=feed_mirrors.link_places(db, row.id),
    )
    return encode_group_link(link)


async def join(client: Client, text: str, *, alias: str | None = None) -> str:
    """Ask to join the group of an invite link; an admin must approve. Returns its name.

    Raises:
        InvitationError: the link is garbled.
        UsageError: the name is taken.
    """
    link = decode_group_link(text)
    db = client.profile.db
    member = GroupMember.joining(
        group=link.group, genesis=link.genesis, pickle_key=client.profile.pickle_key
    )
    entry = member.join_request(
        client.profile.identity(), name=client.name, invite=link.invite, secret=link.secret
    )
    known = db.one("SELECT * FROM groups WHERE relay = ? AND feed_id = ?", (link.relay, link.feed))
    if known is not None:
        return await _rejoin(client, feed_row(known), member, entry, link.writer)
    name = check_new_name(db, alias or link.name)
    creds = FeedCreds(feed_id=link.feed, writer_seed=link.writer)
    with db.transaction():
        row_id = insert_row(
            db,
            kind="group",
            name=name,
            relay=link.relay,
            feed_id=creds.feed_id,
            writer_seed=creds.writer_seed,
            state=member.to_parts()[0],
            now=client.clock(),
        )
        for place in link.mirrors:
            feed_mirrors.add(
                db, row_id, place.relay, FeedCreds(feed_id=place.feed, writer_seed=place.writer)
            )
        feeds.enqueue(db, row_id, [entry], None)
    await _flush(client, by_name(db, name))
    return name


async def _rejoin(
    client: Client, row: FeedRow, member: GroupMember, entry: bytes, writer: bytes
) -> str:
    """Ask again after a removal or a leave: same name and history, the log read afresh."""
    old = GroupMember.from_parts(row.state, row.roster, client.profile.pickle_key)
    if old.status not in ("removed", "left"):
        raise UsageError("you already belong to (or asked to join) this group")
    db = client.profile.db
    with db.transaction():
        db.execute(
            "UPDATE groups SET state = ?, roster = x'', next_offset = 0, writer_seed = ? "
            "WHERE id = ?",
            (member.to_parts()[0], writer, row.id),
        )
        feed_mirrors.reset(db, row.id)
        feeds.enqueue(db, row.id, [entry], None)
    await _flush(client, by_name(db, row.name))
    return row.name


# --- admin operations ------------------------------------------------------------------------


async def approve(client: Client, name: str, who: str) -> int:
    """Let ``who`` in (they asked with one of our links); starts a new epoch. Returns it."""
    return await _operate(client, name, lambda m, i, now: m.approve(i, who, now=now))


async def remove(client: Client, name: str, who: str) -> int:
    """Remove ``who`` and re-key: they read nothing sent afterwards. Returns the new epoch."""
    return await _operate(client, name, lambda m, i, now: m.remove(i, who, now=now))


async def leave(client: Client, name: str) -> None:
    """Leave the group (an admin re-keys when they see it)."""
    me = client.profile.identity().public.ed25519
    await _operate(client, name, lambda m, i, now: m.operate(i, "leave", now=now, target=me))


async def _operate(client: Client, name: str, make: _Make) -> int:
    db = client.profile.db
    row = by_name(db, name)
    await _sync_one(client, row.id)
    with db.transaction():
        row, member = _load(client, row.id)
        entries = make(member, client.profile.identity(), client.clock())
        _save(db, row.id, member)
        feeds.enqueue(db, row.id, entries, None)
    await _push_and_read(client, row.id)
    _, member = _load(client, row.id)
    return member.state.epoch if member.state is not None else 0


def members(client: Client, name: str) -> Roster:
    """The group's members as the verified log says, and pending requests."""
    row = by_name(client.profile.db, name)
    member = GroupMember.from_parts(row.state, row.roster, client.profile.pickle_key)
    me = client.profile.identity().public.ed25519
    state = member.state
    listed = [
        MemberInfo(name=m.name, role=m.role, you=m.key == me)
        for m in (state.members.values() if state is not None else [])
    ]
    return Roster(
        group=row.name,
        status=member.status,
        epoch=state.epoch if state else 0,
        members=listed,
        pending=sorted(m.name for m in member.requests.values()),
    )


# --- messages --------------------------------------------------------------------------------


async def send_text(
    client: Client, name: str, text: str, *, expire: int | None = None
) -> tuple[str, int]:
    """Send text to a group or channel: (message id, relays that took it).

    ``expire``: seconds it lives on each member's device once stored (default: the group's
    timer). Channels have no timers.

    Raises:
        UsageError: an ``expire`` for a channel, or out of range.
    """
    db = client.profile.db
    row = by_name(db, name, kind=None)
    if row.kind == "channel":
        if expire:
            raise UsageError("--expire works with contacts and groups, not in channels")
        seconds = 0
    else:
        seconds = disappearing.group_timer_for(db, row.id, expire)
    msg_id = primitives.random_bytes(16)
    item = gc.GroupText(id=msg_id, text=text, sent_at=client.clock(), expire=seconds)
    return await send_content(client, name, item, text=text)


def _group_only(db: Database, name: str) -> FeedRow:
    row = by_name(db, name, kind=None)
    if row.kind == "channel":
        raise UsageError("disappearing timers work with contacts and groups, not channels")
    return row


def timer(client: Client, name: str) -> TimerSetting:
    """The group's default disappearing timer.

    Raises:
        UsageError: no such group, or it is a channel.
    """
    row = _group_only(client.profile.db, name)
    return disappearing.group_timer(client.profile.db, row.id, row.name)


async def set_timer(client: Client, name: str, seconds: int) -> TimerSetting:
    """Set the group's default timer for every member (0 turns it off).

    Never raises for relays being down: the change waits to be sent.

    Raises:
        UsageError: no such group, a channel, out of range, or we cannot write to it yet.
    """
    if not 0 <= seconds <= MAX_EXPIRE:
        raise UsageError("a disappearing timer is between 1 second and 365 days")
    row = _group_only(client.profile.db, name)
    await send_content(client, row.name, gc.GroupTimer(seconds=seconds, set_at=client.clock()))
    return timer(client, row.name)


async def send_content(
    client: Client, name: str, item: gc.GroupItem, *, text: str | None = None
) -> tuple[str, int]:
    """Send any group content (text, poll, vote, event, timer) with one upload to the feed.

    A ``GroupTimer`` takes effect here at once (it is not a message); every other item is
    stored as our message. Returns (message id, relays that took it); a timer has no id.
    """
    db = client.profile.db
    row = by_name(db, name, kind=None)
    if row.kind == "channel":
        if isinstance(item, gc.GroupTimer):
            raise UsageError("disappearing timers work with contacts and groups, not channels")
        return await channels.post(client, row, item, text=text)
    try:
        await _sync_one(client, row.id)  # catch up first, so we send in the current epoch
    except NetworkError as exc:
        client.warnings.append(f"group {row.name}: {exc}; the message waits to be sent")
    now = client.clock()
    with db.transaction():
        row, member = _load(client, row.id)
        try:
            entries = member.send(client.profile.identity(), gc.encode(item))
        except LocalProtocolError as exc:
            raise UsageError(f"you cannot write to {name!r} yet: {exc}") from exc
        _save(db, row.id, member)
        rowid: int | None = None
        if isinstance(item, gc.GroupTimer):
            disappearing.group_timer_received(db, row.id, item, by=client.name, mine=True, now=now)
        else:
            rowid = store_message(
                db, row.id, item, sender=client.name, outgoing=True, now=now, text=text
            )
        feeds.enqueue(db, row.id, entries, rowid)
    await _flush(client, row)
    if rowid is None or isinstance(item, gc.GroupTimer):
        return "", 0
    status = db.one("SELECT status FROM group_messages WHERE rowid_ = ?", (rowid,))
    return item.id.hex(), int(status is not None and status[0] == "sent")


# --- syncing ---------------------------------------------------------------------------------


async def sync_all(client: Client) -> list[Message]:
    """Push queued entries and read every group and channel feed; new messages, in order."""
    db = client.profile.db
    rowids: list[int] = []
    for row in [feed_row(r) for r in db.query("SELECT * FROM groups ORDER BY id")]:
        try:
            if row.kind == "channel":
                rowids += await channels.sync_one(client, row)
            else:
                rowids += await _sync_one(client, row.id)
        except NetworkError as exc:
            client.warnings.append(f"{row.kind} {row.name}: {exc}")
    for due in feed_rows.due_reminders(db, client.clock()):
        client.warnings.append(
            f"reminder: {due.title} ({due.group}) at {_when(due.starts_at)}, {due.place}"
        )
    return messages_by_rowid(db, rowids)


def _when(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _push_and_read(client: Client, row_id: int) -> None:
    await _sync_one(client, row_id)  # flushes first, then reads our own entries back


async def _flush(client: Client, row: FeedRow) -> None:
    pending = client.profile.db.one(
        "SELECT count(*) FROM group_outbox WHERE group_ref = ?", (row.id,)
    )
    if pending and pending[0]:
        await feeds.flush_feed(client.profile.db, client.pool, row.id, row.relay, row.creds)
    await feeds.flush_mirrors(client.profile.db, client.pool, row.id)


async def _sync_one(client: Client, row_id: int) -> list[int]:
    new: list[int] = []
    for _ in range(MAX_REKEY_ROUNDS):
        row, member = _load(client, row_id)
        await _flush(client, row)
        if member.status in ("removed", "left"):
            return new
        new += await _read_all(client, row)
        if not _rekey_if_due(client, row_id):
            break
    return new


async def _read_all(client: Client, row: FeedRow) -> list[int]:
    """Read every copy of the feed; raises only when none could be read."""
    new: list[int] = []
    places = feed_mirrors.places(client.profile.db, row)
    failures: list[NetworkError] = []
    for place in places:
        try:
            await _read_place(client, row, place, new, dedup=len(places) > 1)
        except NetworkError as exc:
            failures.append(exc)
    if len(failures) == len(places):
        raise failures[0]
    return new


async def _read_place(
    client: Client, row: FeedRow, place: feed_mirrors.Place, new: list[int], *, dedup: bool
) -> None:
    offset = place.next_offset
    while True:
        batch = await feeds.read_feed(client.pool, place.relay, place.feed_id, offset)
        if batch is None:
            raise client.pool.errors.get(place.relay) or NetworkError("the feed could not be read")
        if not batch:
            return
        offset = _process(client, row, place, batch, new, dedup=dedup)


def _process(
    client: Client,
    row: FeedRow,
    place: feed_mirrors.Place,
    batch: list[tuple[int, bytes]],
    new: list[int],
    *,
    dedup: bool,
) -> int:
    db = client.profile.db
    identity = client.profile.identity()
    with db.transaction():
        _, member = _load(client, row.id)
        offset = 0
        for position, data in batch:
            offset = position + 1
            if dedup and not feed_mirrors.first_time(db, row.id, data):
                continue
            events = member.receive(identity, data)
            if _handle(client, row, member, events, new):
                offset = 0
                feed_mirrors.reset(db, row.id)
                break
        _save(db, row.id, member)
        feed_mirrors.save_offset(db, row.id, place, offset)
    return offset


def _handle(
    client: Client, row: FeedRow, member: GroupMember, events: list[GroupEvent], new: list[int]
) -> bool:
    rescan = False
    me = client.profile.identity().public.ed25519
    for event in events:
        if isinstance(event, Received):
            rowid = _store_received(client, row, event, outgoing=event.sender == me)
            if rowid and event.sender != me:
                new.append(rowid)
        elif isinstance(event, Rejected):
            client.warnings.append(f"group {row.name}: rejected {event.reason}")
        elif isinstance(event, JoinRequested):
            client.warnings.append(
                f"{event.member.name} asks to join {row.name}: "
                f"payk group approve {row.name!r} {event.member.name!r}"
            )
        elif isinstance(event, Rescan):
            rescan = True
    return rescan


def _store_received(client: Client, row: FeedRow, event: Received, *, outgoing: bool) -> int:
    try:
        item = gc.decode_item(event.plaintext)
    except RemoteProtocolError as exc:
        client.warnings.append(f"group {row.name}: rejected a message from {event.name} ({exc})")
        return 0
    if isinstance(item, gc.GroupTimer):
        return disappearing.group_timer_received(  # a notice when the default changed
            client.profile.db, row.id, item, by=event.name, mine=outgoing, now=client.clock()
        )
    return store_message(
        client.profile.db,
        row.id,
        item,
        sender=event.name,
        outgoing=outgoing,
        now=client.clock(),
        text=describe(item),
    )


def _rekey_if_due(client: Client, row_id: int) -> bool:
    db = client.profile.db
    with db.transaction():
        _, member = _load(client, row_id)
        state = member.state
        me = client.profile.identity().public.ed25519
        if state is None or not state.rekey_due or state.role_of(me) not in ("owner", "admin"):
            return False
        entries = member.operate(client.profile.identity(), "rekey", now=client.clock())
        _save(db, row_id, member)
        feeds.enqueue(db, row_id, entries, None)
    return True


def is_feed(db: Database, name: str) -> bool:
    """Whether ``name`` is one of our groups or channels (for send/history)."""
    return feed_rows.is_feed(db, name)


def history(client: Client, name: str, *, limit: int = 50) -> list[Message]:
    """The last ``limit`` messages of a group or channel, oldest first (due ones purged)."""
    disappearing.purge(client.profile.db, client.clock())
    return feed_rows.history(client.profile.db, name, limit=limit)
