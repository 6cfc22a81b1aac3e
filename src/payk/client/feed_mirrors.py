"""A group's or channel's feed on several relays: the copies, outboxes, offsets, de-duplication.

Strategy: a group's first feed stays in the ``groups`` row; further copies (on other relays,
each with its own writer key) are rows of ``feed_mirrors``. Every entry queued for the group is
queued for each copy too (``mirror_outbox``) and appended to each in order, so a message still
costs one upload per relay, whatever the number of members. Readers read every copy from its
own offset and hand each entry to the group state once: the SHA-256 of every entry read is
kept in ``feed_seen``, so the same entry served by two relays is handled once. A copy whose
relay is down is skipped; the group works while any copy can be reached. Channels use the same
tables (a channel is a ``groups`` row): their admin holds each copy's writer key, their
subscribers know only where each copy is (``add_reader``: no writer key, nothing to push).
"""

from __future__ import annotations

from dataclasses import dataclass

from payk.client.feed_rows import FeedRow
from payk.client.store.sqlcipher import Database
from payk.net.relay import FeedCreds
from payk.protocol import primitives
from payk.protocol.group_link import FeedPlace

__all__ = [
    "MAX_COPIES",
    "Place",
    "add",
    "add_reader",
    "enqueue",
    "first_time",
    "link_places",
    "places",
    "reset",
    "save_offset",
    "sent",
    "waiting",
]

MAX_COPIES = 2  # feeds a new group gets, each on another of its creator's relays


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """One copy of a group's feed; ``mirror`` is None for the first (the ``groups`` row)."""

    mirror: int | None
    relay: str
    feed_id: bytes
    next_offset: int


def places(db: Database, row: FeedRow) -> list[Place]:
    """Every copy of the group's feed, the first one first."""
    first = Place(mirror=None, relay=row.relay, feed_id=row.feed_id, next_offset=row.next_offset)
    more = db.query("SELECT * FROM feed_mirrors WHERE group_ref = ? ORDER BY id", (row.id,))
    return [first] + [
        Place(
            mirror=int(r["id"]),
            relay=str(r["relay"]),
            feed_id=bytes(r["feed_id"]),
            next_offset=int(r["next_offset"]),
        )
        for r in more
    ]


def link_places(db: Database, group_ref: int) -> list[FeedPlace]:
    """The further copies as an invite link carries them."""
    rows = db.query(
        "SELECT relay, feed_id, writer_seed FROM feed_mirrors WHERE group_ref = ? "
        "AND writer_seed IS NOT NULL ORDER BY id",
        (group_ref,),
    )
    return [
        FeedPlace(relay=str(r["relay"]), feed=bytes(r["feed_id"]), writer=bytes(r["writer_seed"]))
        for r in rows
    ]


def add(db: Database, group_ref: int, relay: str, creds: FeedCreds) -> None:
    """Record a further copy (inside the caller's transaction)."""
    db.execute(
        "INSERT OR IGNORE INTO feed_mirrors (group_ref, relay, feed_id, writer_seed) "
        "VALUES (?, ?, ?, ?)",
        (group_ref, relay, creds.feed_id, creds.writer_seed),
    )


def add_reader(db: Database, group_ref: int, relay: str, feed_id: bytes) -> None:
    """Record a further copy we only read (a channel's, for a subscriber)."""
    db.execute(
        "INSERT OR IGNORE INTO feed_mirrors (group_ref, relay, feed_id, writer_seed) "
        "VALUES (?, ?, ?, NULL)",
        (group_ref, relay, feed_id),
    )


def enqueue(db: Database, group_ref: int, entries: list[bytes]) -> None:
    """Queue entries for every further copy (inside the caller's transaction)."""
    mirrors = db.query("SELECT id FROM feed_mirrors WHERE group_ref = ? ORDER BY id", (group_ref,))
    db.execute_many(
        "INSERT INTO mirror_outbox (mirror_ref, envelope) VALUES (?, ?)",
        [(m["id"], entry) for m in mirrors for entry in entries],
    )


def waiting(db: Database, group_ref: int) -> list[tuple[str, FeedCreds, list[tuple[int, bytes]]]]:
    """Per writable copy: its relay, creds and the ``(id, entry)`` pairs waiting, in order."""
    out = []
    for mirror in db.query(
        "SELECT * FROM feed_mirrors WHERE group_ref = ? AND writer_seed IS NOT NULL ORDER BY id",
        (group_ref,),
    ):
        creds = FeedCreds(
            feed_id=bytes(mirror["feed_id"]), writer_seed=bytes(mirror["writer_seed"])
        )
        rows = db.query(
            "SELECT id, envelope FROM mirror_outbox WHERE mirror_ref = ? ORDER BY id",
            (mirror["id"],),
        )
        out.append(
            (str(mirror["relay"]), creds, [(int(r["id"]), bytes(r["envelope"])) for r in rows])
        )
    return out


def sent(db: Database, outbox_id: int) -> None:
    """One waiting entry reached its copy."""
    db.execute("DELETE FROM mirror_outbox WHERE id = ?", (outbox_id,))


def save_offset(db: Database, group_ref: int, place: Place, offset: int) -> None:
    """Where the next read of ``place`` starts (inside the caller's transaction)."""
    if place.mirror is None:
        db.execute("UPDATE groups SET next_offset = ? WHERE id = ?", (offset, group_ref))
    else:
        db.execute("UPDATE feed_mirrors SET next_offset = ? WHERE id = ?", (offset, place.mirror))


def first_time(db: Database, group_ref: int, entry: bytes) -> bool:
    """Whether this entry was not read before from any copy (and remember it)."""
    return bool(
        db.changes(
            "INSERT OR IGNORE INTO feed_seen (group_ref, digest) VALUES (?, ?)",
            (group_ref, primitives.sha256(entry)),
        )
    )


def reset(db: Database, group_ref: int) -> None:
    """Read every copy again from its start (the group state is read afresh from its root)."""
    db.execute("UPDATE groups SET next_offset = 0 WHERE id = ?", (group_ref,))
    db.execute("UPDATE feed_mirrors SET next_offset = 0 WHERE group_ref = ?", (group_ref,))
    db.execute("DELETE FROM feed_seen WHERE group_ref = ?", (group_ref,))
