"""Store-carry-forward: envelopes this profile carries for other people's mailboxes.

Strategy: envelopes that arrive by bundle or from a LAN peer and are not for one of our own
mailboxes are kept in ``carried`` (schema 0005) and handed on later: to their relay on the next
flush, to a LAN peer that asks for their mailbox, or into the next exported bundle. A digest of
``send_id || envelope`` makes carrying the same envelope twice a no-op. Carrying is bounded:
at most ``max_count`` envelopes and ``max_bytes`` bytes (the oldest go first) and nothing
older than ``max_age`` seconds, so a stranger cannot fill a device. Each envelope is delivered
to its relay once and then forgotten; copies taking other routes are de-duplicated by the
recipient.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from payk.client.router import RelayLink, RelayPool
from payk.client.store.sqlcipher import Database
from payk.protocol.bundle import BundleItem
from payk.protocol.primitives import sha256

__all__ = ["CarryLimits", "carried", "carry", "digest", "flush_carried", "outgoing", "prune"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CarryLimits:
    """How much a profile carries for others."""

    max_count: int = 10_000
    max_bytes: int = 256 * 1024 * 1024
    max_age: int = 14 * 86400


def digest(item: BundleItem) -> bytes:
    """What identifies one envelope for one mailbox."""
    return sha256(item.send_id + item.envelope)


def carry(db: Database, items: Iterable[BundleItem], *, now: int, limits: CarryLimits) -> int:
    """Keep ``items`` for later (call inside a transaction); returns how many new ones stayed."""
    fresh = [(digest(i), i) for i in items if now - i.created_at < limits.max_age]
    new = [(d, i) for d, i in fresh if not _known(db, d)]
    db.execute_many(
        "INSERT OR IGNORE INTO carried (digest, relay, send_id, envelope, created_at, "
        "received_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(d, i.relay, i.send_id, i.envelope, i.created_at, now) for d, i in new],
    )
    prune(db, now=now, limits=limits)
    return sum(_known(db, d) for d, _ in dict(new).items())


def _known(db: Database, key: bytes) -> bool:
    return db.one("SELECT 1 FROM carried WHERE digest = ?", (key,)) is not None


def prune(db: Database, *, now: int, limits: CarryLimits) -> None:
    """Drop what is too old, then the oldest until count and size are within the limits."""
    db.execute("DELETE FROM carried WHERE created_at <= ?", (now - limits.max_age,))
    db.execute(
        "DELETE FROM carried WHERE id NOT IN (SELECT id FROM carried "
        "ORDER BY created_at DESC, id DESC LIMIT ?)",
        (limits.max_count,),
    )
    db.execute(
        "DELETE FROM carried WHERE id IN (SELECT id FROM (SELECT id, sum(length(envelope)) "
        "OVER (ORDER BY created_at DESC, id DESC) AS total FROM carried) WHERE total > ?)",
        (limits.max_bytes,),
    )


def carried(db: Database, *, send_ids: set[bytes] | None = None) -> list[BundleItem]:
    """Everything carried (or only what is for ``send_ids``), oldest first."""
    rows = db.query(
        "SELECT relay, send_id, envelope, created_at FROM carried ORDER BY created_at, id"
    )
    items = [
        BundleItem(relay=r[0], send_id=bytes(r[1]), envelope=bytes(r[2]), created_at=r[3])
        for r in rows
    ]
    return items if send_ids is None else [i for i in items if i.send_id in send_ids]


def outgoing(db: Database, *, now: int) -> list[BundleItem]:
    """Our own envelopes still waiting for a relay, one per (envelope, mailbox)."""
    db.sync()  # as outbox.pending: nothing leaves before its ratchet step is on disk
    rows = db.query("SELECT DISTINCT relay, send_id, envelope FROM outbox ORDER BY id")
    return [
        BundleItem(relay=r[0], send_id=bytes(r[1]), envelope=bytes(r[2]), created_at=now)
        for r in rows
    ]


async def flush_carried(db: Database, pool: RelayPool) -> int:
    """Hand carried envelopes to their relays; returns how many were taken."""
    rows = db.query("SELECT id, relay, send_id, envelope FROM carried ORDER BY id")
    done = 0
    for row_id, relay, send_id, envelope in rows:
        if relay in pool.errors:
            continue
        if await pool.call(relay, _sender(bytes(send_id), bytes(envelope))):
            db.execute("DELETE FROM carried WHERE id = ?", (row_id,))
            done += 1
    return done


def _sender(send_id: bytes, envelope: bytes) -> Callable[[RelayLink], Awaitable[bool]]:
    async def send(link: RelayLink) -> bool:
        await link.send(send_id, envelope)
        return True

    return send
