"""The rows behind groups and channels: names, feeds, stored messages, and their views.

Strategy: groups and channels share one table (``groups``, with a ``kind``) and one message
table (``group_messages``), so ``send``, ``sync`` and ``history`` treat a group's or channel's
name alike; ``payk.client.groups`` and ``payk.client.channels`` build on these helpers.
Content is stored with its encoded form so polls, votes and events can be re-read later.
A text's disappearing timer starts in the transaction that stores it (a row of
``group_expiry``), on every member's device alike, and a text that disappeared is never
stored again (``group_gone``). ``GroupTimer`` items are settings, kept by
``payk.client.disappearing``, never messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from payk.client.messages import Message
from payk.client.store.sqlcipher import Database, Row
from payk.errors import RemoteProtocolError, UsageError
from payk.net.relay import FeedCreds
from payk.protocol import group_content as gc

__all__ = [
    "FeedRow",
    "Reminder",
    "all_rows",
    "by_name",
    "check_new_name",
    "describe",
    "due_reminders",
    "feed_row",
    "history",
    "insert_row",
    "is_feed",
    "messages_by_rowid",
    "store_message",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedRow:
    """One row of ``groups``: a group or a channel."""

    id: int
    kind: str
    name: str
    relay: str
    feed_id: bytes
    writer_seed: bytes | None
    state: bytes
    roster: bytes
    next_offset: int

    @property
    def creds(self) -> FeedCreds:
        """The writer creds of the feed (members of a group, admins of a channel)."""
        if self.writer_seed is None:
            raise UsageError(f"only the admins of {self.name!r} can post to it")
        return FeedCreds(feed_id=self.feed_id, writer_seed=self.writer_seed)


def feed_row(row: Row) -> FeedRow:
    seed = row["writer_seed"]
    return FeedRow(
        id=int(row["id"]),
        kind=str(row["kind"]),
        name=str(row["name"]),
        relay=str(row["relay"]),
        feed_id=bytes(row["feed_id"]),
        writer_seed=bytes(seed) if seed is not None else None,
        state=bytes(row["state"]),
        roster=bytes(row["roster"]),
        next_offset=int(row["next_offset"]),
    )


def by_name(db: Database, name: str, kind: str | None = "group") -> FeedRow:
    row = db.one("SELECT * FROM groups WHERE name = ?", (" ".join(name.split()),))
    if row is None or (kind is not None and row["kind"] != kind):
        raise UsageError(f"there is no {kind or 'group or channel'} called {name!r}")
    return feed_row(row)


def all_rows(db: Database) -> list[FeedRow]:
    """Every group and channel, by name (the terminal app's conversation list)."""
    return [feed_row(r) for r in db.query("SELECT * FROM groups ORDER BY name COLLATE NOCASE")]


def is_feed(db: Database, name: str) -> bool:
    """Whether ``name`` is one of our groups or channels (for send/history)."""
    return db.one("SELECT 1 FROM groups WHERE name = ?", (" ".join(name.split()),)) is not None


def check_new_name(db: Database, name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise UsageError("a group or channel name is 1 to 200 characters")
    if is_feed(db, name) or db.one("SELECT 1 FROM contacts WHERE alias = ?", (name,)):
        raise UsageError(f"the name {name!r} is already used by a contact, group or channel")
    return name


def insert_row(
    db: Database,
    *,
    kind: str,
    name: str,
    relay: str,
    feed_id: bytes,
    writer_seed: bytes | None,
    state: bytes,
    now: int,
) -> int:
    """Add a group or channel row (inside the caller's transaction)."""
    return db.execute(
        "INSERT INTO groups (kind, name, relay, feed_id, writer_seed, state, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, name, relay, feed_id, writer_seed, state, now),
    )


def store_message(
    db: Database,
    row_id: int,
    item: gc.GroupContent,
    *,
    sender: str,
    outgoing: bool,
    now: int,
    text: str | None,
) -> int:
    """Store group or channel content; 0 when it was already stored.

    A text with an ``expire`` gets its timer, starting ``now``, in the same transaction.
    """
    kind = {gc.GroupText: "text", gc.Poll: "poll", gc.Vote: "vote", gc.Event: "event"}[type(item)]
    if (
        isinstance(item, gc.GroupText)
        and item.expire > 0
        and db.one("SELECT 1 FROM group_gone WHERE group_ref = ? AND msg_id = ?", (row_id, item.id))
    ):
        return 0  # it disappeared here already; a second read of the feed must not revive it
    inserted = db.changes(
        "INSERT OR IGNORE INTO group_messages (group_ref, msg_id, sender, outgoing, kind, text, "
        "data, sent_at, stored_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row_id,
            item.id,
            sender,
            int(outgoing),
            kind,
            text,
            gc.encode(item),
            item.sent_at,
            now,
            "queued" if outgoing else "received",
        ),
    )
    last = db.one("SELECT last_insert_rowid()") if inserted else None
    if last is None:
        return 0
    rowid = int(last[0])
    if isinstance(item, gc.GroupText) and item.expire > 0:
        db.execute(
            "INSERT OR IGNORE INTO group_expiry (message, expires_at) VALUES (?, ?)",
            (rowid, now + item.expire),
        )
    return rowid


def describe(item: gc.GroupContent) -> str:
    """The text shown for a piece of group content."""
    if isinstance(item, gc.GroupText):
        return item.text
    if isinstance(item, gc.Poll):
        kind = "anonymous poll" if item.anonymous else "poll"
        options = " / ".join(f"{i + 1}. {o}" for i, o in enumerate(item.options))
        return f"[{kind}] {item.question} {options}"
    if isinstance(item, gc.Vote):
        return f"[vote] option {item.choice + 1}"
    return f"[event] {item.title} at {item.place or 'a place to be announced'} ({item.starts_at})"


_SELECT = (
    "SELECT m.rowid_, m.msg_id, g.name, m.sender, m.outgoing, m.text, m.sent_at, m.status, "
    "e.expires_at FROM group_messages m JOIN groups g ON g.id = m.group_ref "
    "LEFT JOIN group_expiry e ON e.message = m.rowid_ "
)


def _message(row: Row) -> Message:
    return Message(
        id=bytes(row["msg_id"]).hex(),
        conversation=str(row["name"]),
        sender=str(row["sender"]),
        outgoing=bool(row["outgoing"]),
        text=row["text"],
        file=None,
        file_name=None,
        file_size=None,
        sent_at=int(row["sent_at"]),
        status=str(row["status"]),
        paths=int(row["status"] != "queued"),
        expires_at=None if row["expires_at"] is None else int(row["expires_at"]),
    )


def messages_by_rowid(db: Database, rowids: list[int]) -> list[Message]:
    """The group and channel messages with these row ids, in the order given."""
    rows = [db.one(_SELECT + "WHERE m.rowid_ = ?", (rowid,)) for rowid in rowids]
    return [_message(row) for row in rows if row is not None]


def history(db: Database, name: str, *, limit: int = 50) -> list[Message]:
    """The last ``limit`` messages of a group or channel, oldest first."""
    row = by_name(db, name, kind=None)
    rows = db.query(
        _SELECT + "WHERE m.group_ref = ? ORDER BY m.rowid_ DESC LIMIT ?", (row.id, limit)
    )
    return [_message(r) for r in reversed(rows)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """An event whose reminder time has come."""

    group: str
    title: str
    starts_at: int
    place: str


def due_reminders(db: Database, now: int) -> list[Reminder]:
    """Events whose reminder time has passed, each reported once."""
    due = []
    with db.transaction():
        for row in db.query(
            "SELECT m.rowid_, m.data, g.name FROM group_messages m JOIN groups g "
            "ON g.id = m.group_ref WHERE m.kind = 'event' AND m.status != 'reminded'"
        ):
            try:
                item = gc.decode(bytes(row["data"]))
            except RemoteProtocolError:
                continue
            if isinstance(item, gc.Event) and item.remind_at <= now:
                due.append(
                    Reminder(
                        group=str(row["name"]),
                        title=item.title,
                        starts_at=item.starts_at,
                        place=item.place,
                    )
                )
                db.execute(
                    "UPDATE group_messages SET status = 'reminded' WHERE rowid_ = ?",
                    (row["rowid_"],),
                )
    return due
