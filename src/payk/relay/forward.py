"""Store-and-forward: deliver queued envelopes to mailboxes on other relays.

Strategy: a ``Forward`` request only queues a job durably in the store (that is what the
client's ``Ok`` means). This loop claims due jobs (the store leases them, so several relay
processes never deliver one job twice at once), groups them by target relay, opens one pinned
connection per target and sends each envelope. A job is done when the target says durable or
says the mailbox does not exist (retrying cannot help); anything else is retried with
exponential backoff between ``retry_min`` and ``retry_max`` seconds. Jobs expire with the
store's TTL. Logs carry counts only, never a target or a mailbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from payk.errors import NetworkError, RelayRefusedError, UsageError
from payk.protocol.address import RelayAddress
from payk.relay.store.base import ForwardJob, RelayStore

__all__ = ["Forwarder", "Sender"]

BATCH = 100
_log = logging.getLogger(__name__)


class Sender(Protocol):
    """The part of a relay connection the forwarder uses."""

    async def send(self, send_id: bytes, envelope: bytes) -> None: ...

    async def close(self) -> None: ...


Connect = Callable[[RelayAddress], Awaitable[Sender]]


class Forwarder:
    """The background loop that empties the forward queue."""

    def __init__(
        self,
        store: RelayStore,
        connect: Connect,
        *,
        retry_min: float = 5.0,
        retry_max: float = 3600.0,
        clock: Callable[[], int] = lambda: int(time.time()),
        on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self._store = store
        self._connect = connect
        self._retry_min = max(1, round(retry_min))
        self._retry_max = max(self._retry_min, round(retry_max))
        self._clock = clock
        self._on_outcome = on_outcome
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was queued: look at the queue now."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver due jobs until cancelled."""
        while True:
            try:
                worked = await self.run_once()
            except Exception as exc:  # a broken store must not end the loop
                _log.error("forwarding failed: %s", type(exc).__name__)
                worked = 0
            if not worked:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._retry_min)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """Claim and attempt one batch of due jobs; returns how many were attempted."""
        jobs = await self._store.due_forwards(now=self._clock(), limit=BATCH)
        by_target: dict[str, list[ForwardJob]] = {}
        for job in jobs:
            by_target.setdefault(job.target, []).append(job)
        await asyncio.gather(*(self._deliver(t, js) for t, js in by_target.items()))
        return len(jobs)

    async def _deliver(self, target: str, jobs: list[ForwardJob]) -> None:
        try:
            address = RelayAddress.parse(target)
        except UsageError:
            for job in jobs:
                await self._finish(job, "dropped")
            return
        try:
            connection = await self._connect(address)
        except NetworkError:
            for job in jobs:
                await self._retry(job)
            return
        try:
            await self._send_all(connection, jobs)
        finally:
            await connection.close()

    async def _send_all(self, connection: Sender, jobs: list[ForwardJob]) -> None:
        for index, job in enumerate(jobs):
            try:
                await connection.send(job.send_id, job.body)
            except RelayRefusedError as exc:
                if exc.code == "UNKNOWN":
                    await self._finish(job, "dropped")
                else:
                    await self._retry(job)
            except NetworkError:
                for rest in jobs[index:]:
                    await self._retry(rest)
                return
            else:
                await self._finish(job, "delivered")

    async def _finish(self, job: ForwardJob, outcome: str) -> None:
        await self._store.forward_done(job.id)
        self._on_outcome(outcome)

    async def _retry(self, job: ForwardJob) -> None:
        delay = min(self._retry_max, self._retry_min * 2 ** min(job.attempts, 20))
        await self._store.forward_retry(job.id, next_at=self._clock() + delay)
        self._on_outcome("retry")
