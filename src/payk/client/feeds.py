"""Group and channel feeds on relays: create, append in order, read from an offset.

Strategy: a group's or channel's feed has a first copy here and may have further copies on
other relays (``create_copies``; ``payk.client.feed_mirrors`` keeps them, and they get every
queued entry too). Entries to append wait in ``group_outbox`` and are
appended strictly in the order they were queued, so an op is always on the feed before the
key wraps that follow it; the first failure stops the flush of that feed (order matters more
than speed) and the entries wait for the next try.
Reads go through the relay connection (members) and return ``(offset, entry)`` pairs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from payk.client import feed_mirrors
from payk.client.router import RelayLink, RelayPool
from payk.client.store.sqlcipher import Database
from payk.errors import NetworkError
from payk.net.relay import FeedCreds

__all__ = [
    "READ_LIMIT",
    "create_copies",
    "create_feed",
    "enqueue",
    "flush_feed",
    "flush_mirrors",
    "read_feed",
]

READ_LIMIT = 100


async def create_feed(pool: RelayPool, relay: str) -> FeedCreds:
    """A new feed on ``relay``, writable with the returned creds.

    Raises:
        NetworkError: the relay could not be reached.
    """

    async def create(link: RelayLink) -> FeedCreds:
        creds: FeedCreds = await _any(link).create_feed()
        return creds

    creds = await pool.call(relay, create)
    if creds is None:
        raise pool.errors.get(relay) or NetworkError(f"cannot reach the relay {relay}")
    return creds


async def create_copies(
    pool: RelayPool, relays: Sequence[str], warnings: list[str], what: str
) -> list[tuple[str, FeedCreds]]:
    """Further copies of a new feed, one on each of ``relays``; a relay that is down is
    skipped, with a warning naming ``what`` (e.g. "the group")."""
    copies = []
    for relay in relays:
        try:
            copies.append((relay, await create_feed(pool, relay)))
        except NetworkError as exc:
            warnings.append(f"{what} has no copy on {relay}: {exc}")
    return copies


def enqueue(db: Database, group_ref: int, entries: list[bytes], message: int | None) -> None:
    """Queue entries for the feed of ``group_ref`` (inside the caller's transaction)."""
    db.execute_many(
        "INSERT INTO group_outbox (group_ref, envelope, message) VALUES (?, ?, ?)",
        [(group_ref, entry, message) for entry in entries],
    )
    feed_mirrors.enqueue(db, group_ref, entries)


async def flush_feed(
    db: Database, pool: RelayPool, group_ref: int, relay: str, creds: FeedCreds
) -> int:
    """Append queued entries in order until one fails; returns how many went out."""
    rows = db.query(
        "SELECT id, envelope, message FROM group_outbox WHERE group_ref = ? ORDER BY id",
        (group_ref,),
    )
    done = 0
    for row in rows:
        if await pool.call(relay, _appender(creds, bytes(row["envelope"]))) is None:
            break
        with db.transaction():
            db.execute("DELETE FROM group_outbox WHERE id = ?", (row["id"],))
            if row["message"] is not None:
                db.execute(
                    "UPDATE group_messages SET status = 'sent' WHERE rowid_ = ? "
                    "AND status = 'queued'",
                    (row["message"],),
                )
        done += 1
    return done


async def flush_mirrors(db: Database, pool: RelayPool, group_ref: int) -> None:
    """Append what waits for each further copy of the feed, in order, until its relay fails."""
    for relay, creds, rows in feed_mirrors.waiting(db, group_ref):
        for outbox_id, envelope in rows:
            if await pool.call(relay, _appender(creds, envelope)) is None:
                break
            with db.transaction():
                feed_mirrors.sent(db, outbox_id)


def _appender(creds: FeedCreds, envelope: bytes) -> Callable[[RelayLink], Awaitable[int]]:
    async def append(link: RelayLink) -> int:
        offset: int = await _any(link).append(creds, envelope)
        return offset

    return append


async def read_feed(
    pool: RelayPool, relay: str, feed_id: bytes, offset: int
) -> list[tuple[int, bytes]] | None:
    """Up to ``READ_LIMIT`` entries from ``offset``; None if the relay could not be read."""

    async def read(link: RelayLink) -> list[tuple[int, bytes]]:
        entries: list[tuple[int, bytes]] = await _any(link).read_feed(
            feed_id, offset=offset, limit=READ_LIMIT
        )
        return entries

    return await pool.call(relay, read)


def _any(link: RelayLink) -> Any:
    return link  # feeds are on RelayConnection (and test twins), not in the RelayLink protocol
