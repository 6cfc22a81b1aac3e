"""The outbox: sealed envelopes wait here until a relay has taken them.

Strategy: sealing and queueing happen in the caller's transaction (with the ratchet step and
the message row), one row per (envelope, target mailbox); delivery happens after the commit,
so a crash can neither lose a message nor send one whose key state was not saved. ``flush``
sends to every relay concurrently; within one target mailbox rows are written in order (a
handshake always precedes the messages that depend on it) and the first failure stops that
target. The first row of a target goes alone (it may be the handshake the rest depend on); the
rest go in windows of ``WINDOW``, each handed to the connection as one ``send_many`` (one or a
few ``SendMany`` frames, one answer each), so a burst costs one round trip and a frame or two
per window, not a frame and an answer per envelope; the items before the first one refused
are taken. A relay that failed gets exponential backoff (``retry_base`` doubling up to
``retry_max``); commands run by a person pass ``force`` and try everything at once. A row is
deleted once its relay acknowledged it (which the relay does only once it is durable); the
deletes of one flush share one commit that does not wait for the disk (``_settle``), since a
lost delete only sends an envelope twice and the receiver drops the copy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from payk.client.router import RelayLink, RelayPool
from payk.client.store.sqlcipher import Database
from payk.errors import PaykError
from payk.protocol.address import MailboxAddress

__all__ = ["FlushReport", "OutboxItem", "enqueue", "flush", "pending", "pending_count"]

Progress = Callable[[int], None]
SETTLE_EVERY = 256  # rows a long flush deletes per commit
WINDOW = 32  # envelopes on their way to one mailbox at once


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    """One envelope for one target mailbox."""

    id: int
    contact_id: int
    message: int | None
    envelope: bytes
    relay: str
    send_id: bytes
    attempts: int


@dataclass(slots=True, kw_only=True)
class FlushReport:
    """What a flush achieved."""

    sent: int = 0
    failed: int = 0
    messages: set[int] = field(default_factory=set)


def enqueue(
    db: Database,
    *,
    contact_id: int,
    envelopes: Sequence[bytes],
    targets: Sequence[MailboxAddress],
    message: int | None,
) -> None:
    """Queue ``envelopes`` (in order) for every target (call inside the sealing transaction)."""
    db.execute_many(
        "INSERT INTO outbox (contact_id, message, envelope, relay, send_id) VALUES (?, ?, ?, ?, ?)",
        [
            (contact_id, message, envelope, str(t.relay), t.send_id)
            for t in targets
            for envelope in envelopes
        ],
    )


def pending(db: Database, *, now: float | None = None) -> list[OutboxItem]:
    """Rows waiting for a relay, oldest first; with ``now``, only those due by then.

    First makes every commit durable: a row may come from a seal committed without waiting
    for the disk, and no envelope leaves before its ratchet step is on disk.
    """
    db.sync()
    rows = db.query(
        "SELECT id, contact_id, message, envelope, relay, send_id, attempts FROM outbox "
        "WHERE ? IS NULL OR next_attempt_at <= ? ORDER BY id",
        (now, now),
    )
    return [
        OutboxItem(
            id=r[0],
            contact_id=r[1],
            message=r[2],
            envelope=bytes(r[3]),
            relay=r[4],
            send_id=bytes(r[5]),
            attempts=r[6],
        )
        for r in rows
    ]


def pending_count(db: Database) -> int:
    """How many (envelope, target) rows still wait."""
    row = db.one("SELECT count(*) FROM outbox")
    return int(row[0]) if row else 0


async def flush(
    db: Database,
    pool: RelayPool,
    *,
    now: float,
    retry_base: float,
    retry_max: float,
    force: bool = False,
    progress: Progress | None = None,
) -> FlushReport:
    """Try to hand every due envelope to its relay; never raises for a relay being down."""
    report = FlushReport()
    by_relay: dict[str, dict[bytes, list[OutboxItem]]] = {}
    for item in pending(db, now=None if force else now):
        by_relay.setdefault(item.relay, {}).setdefault(item.send_id, []).append(item)
    backoff = _Backoff(now=now, base=retry_base, maximum=retry_max)
    done: list[int] = []
    try:
        await asyncio.gather(
            *(
                _flush_relay(db, pool, relay, targets, report, backoff, progress, done)
                for relay, targets in by_relay.items()
            )
        )
    finally:
        _settle(db, done, report.messages)
    return report


@dataclass(frozen=True, slots=True, kw_only=True)
class _Backoff:
    now: float
    base: float
    maximum: float

    def next_at(self, attempts: int) -> float:
        delay: float = min(self.maximum, self.base * 2.0 ** min(attempts, 30))
        return self.now + delay


async def _flush_relay(
    db: Database,
    pool: RelayPool,
    relay: str,
    targets: dict[bytes, list[OutboxItem]],
    report: FlushReport,
    backoff: _Backoff,
    progress: Progress | None,
    done: list[int],
) -> None:
    for items in targets.values():
        start = 0
        while start < len(items):
            window = items[start : start + (WINDOW if start else 1)]
            taken = await _send_window(pool, relay, window)
            for item in window[:taken]:
                done.append(item.id)
                report.sent += 1
                if item.message is not None:
                    report.messages.add(item.message)
                if progress is not None:
                    progress(1)
            if len(done) >= SETTLE_EVERY:
                _settle(db, done, set())
            if taken < len(window):
                _failed(db, items[start + taken :], backoff, report)
                break
            start += len(window)


async def _send_window(pool: RelayPool, relay: str, window: list[OutboxItem]) -> int:
    """Hand ``window`` to the relay in one call; how many items, from the first, it took.

    A refused item makes the call fail as a refused ``send`` does (the pool notes the
    relay's error and drops the connection), after its outcomes were read.
    """
    outcomes: list[PaykError | None] = []

    async def send(link: RelayLink) -> None:
        outcomes.extend(await link.send_many([(i.send_id, i.envelope) for i in window]))
        refusal = next((exc for exc in outcomes if exc is not None), None)
        if refusal is not None:
            raise refusal

    await pool.call(relay, send)
    return next((i for i, exc in enumerate(outcomes) if exc is not None), len(outcomes))


def _failed(db: Database, items: list[OutboxItem], backoff: _Backoff, report: FlushReport) -> None:
    report.failed += len(items)
    attempts = items[0].attempts + 1
    db.execute_many(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?",
        [(attempts, backoff.next_at(attempts), item.id) for item in items],
    )


def _settle(db: Database, done: list[int], messages: set[int]) -> None:
    """Delete the rows relays took and update their messages, in one commit that does not
    wait for the disk: were it lost, the rows would be sent again and dropped as copies."""
    if not done and not messages:
        return
    with db.transaction(durable=False):
        db.execute_many("DELETE FROM outbox WHERE id = ?", [(row,) for row in done])
        _update_paths(db, messages)
    done.clear()


def _update_paths(db: Database, messages: set[int]) -> None:
    """A message's ``paths`` is the number of target mailboxes that hold all of it: its
    contact's targets less the mailboxes it still waits for (one pass over the outbox for all
    the messages, not one per message)."""
    if not messages:
        return
    ordered = sorted(messages)
    waiting = dict(
        db.query(
            "SELECT message, count(*) FROM (SELECT DISTINCT message, relay, send_id FROM outbox "
            "WHERE message IN (SELECT value FROM json_each(?))) GROUP BY message",
            (json.dumps(ordered),),
        )
    )
    db.execute_many(
        "UPDATE messages SET "
        "paths = (SELECT count(*) FROM targets t WHERE t.contact_id = messages.contact_id) - ?,"
        " status = CASE WHEN status = 'queued' THEN 'sent' ELSE status END "
        "WHERE rowid_ = ?",
        [(waiting.get(message, 0), message) for message in ordered],
    )
