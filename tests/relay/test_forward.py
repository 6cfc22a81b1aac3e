"""The forward loop over the memory store, with scripted target relays."""

from __future__ import annotations

import pytest

from payk.errors import NetworkError, QuotaError, RelayRefusedError
from payk.protocol.address import RelayAddress
from payk.relay.forward import Forwarder, Sender
from payk.relay.store.memory import MemoryStore

TARGET = str(RelayAddress(fingerprint=b"f" * 32, host="relay.example", port=443))
NOW = 10_000


class Target:
    """A scripted relay: ``outcomes`` are raised (or not) for successive sends."""

    def __init__(self, *outcomes: Exception | None, reachable: bool = True) -> None:
        self.outcomes = list(outcomes)
        self.reachable = reachable
        self.received: list[bytes] = []
        self.closed = 0

    async def connect(self, address: RelayAddress) -> Sender:
        assert str(address) == TARGET
        if not self.reachable:
            raise NetworkError("down")
        return self

    async def send(self, send_id: bytes, envelope: bytes) -> None:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.received.append(envelope)

    async def close(self) -> None:
        self.closed += 1


async def _setup(target: Target, *bodies: bytes) -> tuple[MemoryStore, Forwarder, list[str]]:
    store = MemoryStore()
    await store.open()
    outcomes: list[str] = []
    forwarder = Forwarder(
        store,
        target.connect,
        retry_min=2,
        retry_max=8,
        clock=lambda: NOW,
        on_outcome=outcomes.append,
    )
    for body in bodies:
        await store.enqueue_forward(target=TARGET, send_id=b"s" * 16, body=body, now=NOW)
    return store, forwarder, outcomes


async def test_due_jobs_are_delivered_once_over_one_connection() -> None:
    target = Target()
    _store, forwarder, outcomes = await _setup(target, b"a", b"b")
    assert await forwarder.run_once() == 2
    assert target.received == [b"a", b"b"] and target.closed == 1
    assert outcomes == ["delivered", "delivered"]
    assert await forwarder.run_once() == 0


async def test_an_unreachable_target_is_retried_with_backoff() -> None:
    target = Target(reachable=False)
    store, forwarder, outcomes = await _setup(target, b"a")
    await forwarder.run_once()
    assert outcomes == ["retry"]
    assert await store.due_forwards(now=NOW + 1, limit=10) == []
    jobs = await store.due_forwards(now=NOW + 2, limit=10)
    assert [job.attempts for job in jobs] == [1]


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RelayRefusedError("no", code="UNKNOWN"), "dropped"),
        (QuotaError(), "retry"),
        (RelayRefusedError("slow", code="RATE_LIMITED"), "retry"),
    ],
)
async def test_refusals_drop_or_retry(error: Exception, outcome: str) -> None:
    target = Target(error)
    _store, forwarder, outcomes = await _setup(target, b"a")
    await forwarder.run_once()
    assert outcomes == [outcome]


async def test_a_connection_lost_midway_retries_the_rest() -> None:
    target = Target(None, NetworkError("lost"))
    _store, forwarder, outcomes = await _setup(target, b"a", b"b", b"c")
    await forwarder.run_once()
    assert target.received == [b"a"]
    assert outcomes == ["delivered", "retry", "retry"]


async def test_an_invalid_target_is_dropped() -> None:
    target = Target()
    store = MemoryStore()
    await store.open()
    outcomes: list[str] = []
    forwarder = Forwarder(store, target.connect, clock=lambda: NOW, on_outcome=outcomes.append)
    await store.enqueue_forward(target="not an address", send_id=b"s" * 16, body=b"x", now=NOW)
    await forwarder.run_once()
    assert outcomes == ["dropped"] and target.received == []
