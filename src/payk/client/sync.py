"""Fetching: pull every mailbox on every relay, concurrently, and commit before acking.

Strategy: mailboxes are grouped by relay and each relay is drained in its own task, so a slow
or dead relay delays nobody. A batch fetched from one mailbox is processed in one transaction
(``inbox.receive`` per envelope, duplicates dropped by envelope id), committed, and only then
acknowledged to the relay; a crash or Ctrl-C before the ack means the relay delivers the
batch again and nothing is lost or doubled. ``listen_relay`` does the same for pushes on a
subscribed connection: pushes are read ahead (``_Pushes``) and all that arrived during one
commit go in the next, and acks go in the background (``_Acks``), so a burst costs a commit
per batch rather than per envelope. Those commits do not wait for the disk; the acker makes
them durable with one fsync before it acknowledges them. It reconnects with backoff when the
relay goes away.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from payk.client.inbox import InboxResult, receive
from payk.client.mailboxes import OwnMailbox, all_mailboxes
from payk.client.profile import Profile
from payk.client.router import RelayLink, RelayPool
from payk.client.store.sqlcipher import Database
from payk.errors import NetworkError, PaykError

__all__ = ["Listeners", "fetch_all", "listen_relay"]

FETCH_LIMIT = 100
MAX_PUSHES = 256  # pushes committed together at most
Clock = Callable[[], int]
OnBatch = Callable[[InboxResult], None]


def _by_relay(mailboxes: Sequence[OwnMailbox]) -> dict[str, list[OwnMailbox]]:
    grouped: dict[str, list[OwnMailbox]] = {}
    for mailbox in mailboxes:
        grouped.setdefault(mailbox.relay, []).append(mailbox)
    return grouped


async def fetch_all(profile: Profile, pool: RelayPool, *, clock: Clock) -> InboxResult:
    """Fetch, process and ack everything waiting in all our mailboxes on all relays."""
    result = InboxResult()
    grouped = _by_relay(all_mailboxes(profile.db))
    await asyncio.gather(
        *(
            _drain_relay(profile, pool, relay, mailboxes, clock, result)
            for relay, mailboxes in grouped.items()
        )
    )
    return result


async def _drain_relay(
    profile: Profile,
    pool: RelayPool,
    relay: str,
    mailboxes: list[OwnMailbox],
    clock: Clock,
    result: InboxResult,
) -> None:
    for mailbox in mailboxes:
        creds = pool.network.creds(mailbox.recv_id, mailbox.send_id, mailbox.auth_seed)
        while True:
            batch = await pool.call(relay, _fetcher(creds))
            if batch is None:
                return
            if not batch:
                break
            _process(profile, mailbox.id, relay, [d.envelope for d in batch], clock, result)
            ids = [d.id for d in batch]
            if await pool.call(relay, _acker(creds, ids)) is None:
                return


def _fetcher(creds: Any) -> Callable[[RelayLink], Awaitable[list[Any]]]:
    async def fetch(link: RelayLink) -> list[Any]:
        return list(await link.fetch(creds, limit=FETCH_LIMIT))

    return fetch


def _acker(creds: Any, ids: list[Any]) -> Callable[[RelayLink], Awaitable[bool]]:
    async def ack(link: RelayLink) -> bool:
        await link.ack(creds, ids)
        return True

    return ack


def _process(
    profile: Profile,
    mailbox_id: int,
    relay: str,
    envelopes: list[bytes],
    clock: Clock,
    result: InboxResult,
) -> None:
    now = clock()
    with profile.db.transaction():
        for data in envelopes:
            receive(profile, mailbox_id, relay, data, now=now, result=result)


async def listen_relay(
    profile: Profile,
    pool: RelayPool,
    relay: str,
    *,
    clock: Clock,
    on_batch: OnBatch,
    retry_base: float = 1.0,
    retry_max: float = 60.0,
) -> None:
    """Stay subscribed to our mailboxes on ``relay``, reconnecting with backoff, forever."""
    delay = retry_base
    while True:
        try:
            await _listen_once(profile, pool, relay, clock=clock, on_batch=on_batch)
            delay = retry_base
        except (PaykError, OSError, TimeoutError):
            pass
        await pool.drop(relay)
        pool.errors.pop(relay, None)
        await asyncio.sleep(delay)
        delay = min(retry_max, delay * 2)


class Listeners:
    """One ``listen_relay`` task per relay we have mailboxes on, kept in step with the store:
    ``refresh`` restarts the task of a relay whose mailboxes changed (a new contact, an
    invitation made by another payk process, an expired one deleted), starts one for a new
    relay and stops one for a relay no longer used. A restarted task drains its mailboxes by
    fetching before it listens, so nothing that arrived in between is missed."""

    def __init__(
        self,
        profile: Profile,
        pool: RelayPool,
        *,
        clock: Clock,
        on_batch: OnBatch,
        retry_base: float,
        retry_max: float,
    ) -> None:
        self._run = functools.partial(
            listen_relay,
            profile,
            pool,
            clock=clock,
            on_batch=on_batch,
            retry_base=retry_base,
            retry_max=retry_max,
        )
        self._profile = profile
        self._tasks: dict[str, tuple[frozenset[int], asyncio.Task[None]]] = {}

    def refresh(self) -> None:
        """Start, restart or stop relay tasks so they match the stored mailboxes."""
        wanted: dict[str, set[int]] = {}
        for mailbox in all_mailboxes(self._profile.db):
            wanted.setdefault(mailbox.relay, set()).add(mailbox.id)
        for relay in [r for r in self._tasks if r not in wanted]:
            self._tasks.pop(relay)[1].cancel()
        for relay, ids in wanted.items():
            known = self._tasks.get(relay)
            if known is not None and known[0] == ids:
                continue
            if known is not None:
                known[1].cancel()
            self._tasks[relay] = (frozenset(ids), asyncio.create_task(self._run(relay)))

    async def watch(self, every: float) -> None:
        """``refresh`` every ``every`` seconds, forever."""
        while True:
            await asyncio.sleep(every)
            self.refresh()

    async def stop(self) -> None:
        """Cancel every relay task and wait for them."""
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _listen_once(
    profile: Profile, pool: RelayPool, relay: str, *, clock: Clock, on_batch: OnBatch
) -> None:
    mailboxes = [m for m in all_mailboxes(profile.db) if m.relay == relay]
    link = await pool.link(relay)
    if link is None or not mailboxes:
        raise NetworkError(f"cannot listen on {relay}")
    by_recv: dict[bytes, tuple[OwnMailbox, Any]] = {}
    for mailbox in mailboxes:
        creds = pool.network.creds(mailbox.recv_id, mailbox.send_id, mailbox.auth_seed)
        by_recv[mailbox.recv_id] = (mailbox, creds)
        await link.subscribe(creds)
    result = InboxResult()
    await _drain_relay(profile, pool, relay, mailboxes, clock, result)
    on_batch(result)
    acks = _Acks(link, profile.db)
    pushes = _Pushes(link)
    try:
        while True:
            batch = [d for d in await pushes.next_batch() if d.recv_id in by_recv]
            result = InboxResult()
            # one commit for everything that arrived meanwhile; it need not wait for the disk,
            # since nothing is acked before _Acks makes it durable
            with profile.db.transaction(durable=False):
                for delivery in batch:
                    mailbox, _ = by_recv[delivery.recv_id]
                    _process(profile, mailbox.id, relay, [delivery.envelope], clock, result)
            for delivery in batch:  # after the commit: an ack lost only re-delivers
                acks.add(delivery.recv_id, by_recv[delivery.recv_id][1], delivery.id)
            on_batch(result)
            acks.check()
    finally:
        await acks.close()
        await pushes.close()


class _Pushes:
    """The connection's pushes, read ahead in the background so that whatever arrived while
    the last batch was being committed is taken as the next batch (at most ``MAX_PUSHES``)."""

    def __init__(self, link: RelayLink) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._failure: BaseException | None = None
        self._task = asyncio.create_task(self._read(link))

    async def _read(self, link: RelayLink) -> None:
        try:
            async for delivery in link.deliveries():
                self._queue.put_nowait(delivery)
        except (PaykError, OSError, TimeoutError) as exc:
            self._failure = exc
        self._queue.put_nowait(None)

    async def next_batch(self) -> list[Any]:
        """One or more pushes.

        Raises:
            NetworkError: the connection ended (or the error that broke it).
        """
        batch = [await self._queue.get()]
        while not self._queue.empty() and len(batch) < MAX_PUSHES:
            batch.append(self._queue.get_nowait())
        if None in batch:
            self._queue.put_nowait(None)
            batch = batch[: batch.index(None)]
            if not batch:
                raise self._failure or NetworkError("the relay ended the subscription")
        return batch

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class _Acks:
    """Acknowledgements sent in the background, so the next push is processed meanwhile:
    whatever piled up since the last round goes in the next (one frame per mailbox). Acks ask
    for no answer: a lost one only means the relay pushes those envelopes again later, and
    the seen table drops the copies.
    Each round first makes the commits it acknowledges durable (one fsync for all of them),
    so a relay never deletes an envelope that a power cut could still take from the store."""

    def __init__(self, link: RelayLink, db: Database) -> None:
        self._link = link
        self._db = db
        self._waiting: dict[bytes, tuple[Any, list[Any]]] = {}
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None
        self._task = asyncio.create_task(self._run())

    def add(self, recv_id: bytes, creds: Any, envelope_id: Any) -> None:
        self._waiting.setdefault(recv_id, (creds, []))[1].append(envelope_id)
        self._ready.set()

    def check(self) -> None:
        """Raise the error that stopped the acks (the connection is then broken)."""
        if self._failure is not None:
            raise self._failure

    async def _run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                waiting, self._waiting = self._waiting, {}
                self._db.sync()
                for creds, ids in waiting.values():
                    await self._link.ack(creds, ids, quiet=True)
        except (PaykError, OSError, TimeoutError) as exc:
            self._failure = exc

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
