"""Crash campaign against the relay: SIGKILL it at random moments under load, many times.

Strategy: one relay data folder (SQLite) or one PostgreSQL schema lives through every round.
Each round starts a relay process on it, lets ``senders`` connections send unique payloads
as fast as the relay acknowledges them while one receiver fetches, hands each payload to an
``App`` (which drops copies by payload id, as the client drops them by envelope id) and acks
them, then kills the relay with SIGKILL after a random delay. A send cut off by the kill is
*in doubt*: the sender retries it in the next round (at-least-once), which may leave a copy
at the relay. At the end a last relay drains everything, and the report counts:

* ``lost``: payloads the relay acknowledged that never reached the app (must be 0);
* ``duplicates_to_app``: payloads the app was handed twice after de-duplication (must be 0);
* ``resurrected``: deliveries the relay handed out again after it confirmed their ack
  (acks are durable too; must be 0);
* ``copies_dropped``: copies the de-duplication removed (expected, from retried sends).

``tests/relay/test_durability_e2e.py`` checks acknowledged sends alone; this harness adds
the receiver, acks under fire, retries, PostgreSQL, and long runs (``tools.crash_campaign``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.relay.harness import RelayProcess, start_relay

from payk.errors import NetworkError, PaykError
from payk.net.relay import MailboxCreds, RelayConnection

__all__ = ["App", "RelayReport", "run_relay_campaign"]

ROUND_TIMEOUT = 30.0


@dataclass
class RelayReport:
    """What a relay campaign did and found; the three failure counts must stay 0."""

    kills: int = 0
    acked: int = 0
    delivered: int = 0
    copies_dropped: int = 0
    duplicates_to_app: int = 0
    resurrected: int = 0
    lost: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost == self.duplicates_to_app == self.resurrected == 0


@dataclass
class App:
    """The receiving application: shows each payload once, whatever the relay repeats."""

    seen: set[bytes] = field(default_factory=set)
    shown: list[bytes] = field(default_factory=list)
    copies: int = 0

    def deliver(self, payload: bytes) -> None:
        if payload in self.seen:
            self.copies += 1
            return
        self.seen.add(payload)
        self.shown.append(payload)


@dataclass
class _State:
    box: MailboxCreds
    app: App = field(default_factory=App)
    acked: set[bytes] = field(default_factory=set)
    in_doubt: list[bytes] = field(default_factory=list)
    confirmed_acks: set[bytes] = field(default_factory=set)
    resurrected: int = 0
    next_id: int = 0

    def fresh(self, sender: int) -> bytes:
        self.next_id += 1
        return f"payload-{sender}-{self.next_id}".encode()


async def _sender(relay: RelayProcess, state: _State, n: int, started: asyncio.Event) -> None:
    payload = state.in_doubt.pop() if state.in_doubt else state.fresh(n)
    try:
        async with await RelayConnection.connect(relay.address) as conn:
            while True:
                await conn.send(state.box.send_id, payload)
                state.acked.add(payload)
                started.set()
                payload = state.in_doubt.pop() if state.in_doubt else state.fresh(n)
    except PaykError:
        state.in_doubt.append(payload)  # cut off: the relay may or may not hold it


async def _receiver(relay: RelayProcess, state: _State) -> None:
    with contextlib.suppress(PaykError):
        async with await RelayConnection.connect(relay.address) as conn:
            while True:
                await _drain_once(conn, state)
                await asyncio.sleep(0.005)


async def _drain_once(conn: RelayConnection, state: _State) -> int:
    batch = await conn.fetch(state.box, limit=200)
    for delivery in batch:
        if delivery.id in state.confirmed_acks:
            state.resurrected += 1
        state.app.deliver(delivery.envelope)
    if batch:
        ids = [d.id for d in batch]
        await conn.ack(state.box, ids)
        state.confirmed_acks.update(ids)
    return len(batch)


async def _round(relay: RelayProcess, state: _State, senders: int, rng: random.Random) -> None:
    started = asyncio.Event()
    tasks = [asyncio.create_task(_sender(relay, state, n, started)) for n in range(senders)]
    tasks.append(asyncio.create_task(_receiver(relay, state)))
    try:
        await asyncio.wait_for(started.wait(), ROUND_TIMEOUT)
        await asyncio.sleep(rng.uniform(0.0, 0.3))  # a random moment under load
    finally:
        await relay.kill()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), ROUND_TIMEOUT)


async def _final_drain(relay: RelayProcess, state: _State) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        while state.in_doubt:
            await conn.send(state.box.send_id, state.in_doubt.pop())
        while await _drain_once(conn, state):
            pass


async def run_relay_campaign(
    work: Path, *, kills: int, senders: int = 4, db_url: str | None = None, seed: int = 1
) -> RelayReport:
    """Kill a relay ``kills`` times under load; ``db_url`` selects PostgreSQL."""
    extra = ("--db", db_url) if db_url else ()
    rng, began = random.Random(seed), time.monotonic()  # noqa: S311 - timing, not secrets
    relay = await start_relay(work / "relay", *extra)
    try:
        async with await RelayConnection.connect(relay.address) as conn:
            state = _State(box=await conn.create_mailbox())
        report = RelayReport()
        for _ in range(kills):
            await _round(relay, state, senders, rng)
            report.kills += 1
            relay = await start_relay(work / "relay", *extra)
        await _final_drain(relay, state)
    except NetworkError:
        await relay.kill()
        raise
    await relay.terminate()
    return _report(report, state, time.monotonic() - began)


def _report(report: RelayReport, state: _State, seconds: float) -> RelayReport:
    shown = state.app.shown
    report.acked = len(state.acked)
    report.delivered = len(shown)
    report.copies_dropped = state.app.copies
    report.duplicates_to_app = len(shown) - len(set(shown))
    report.resurrected = state.resurrected
    report.lost = len(state.acked - set(shown))
    report.seconds = round(seconds, 1)
    return report
