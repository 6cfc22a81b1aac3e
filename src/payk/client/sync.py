"""Fetching: pull every mailbox on every relay, concurrently, and commit before acking.

Strategy: mailboxes are grouped by relay and each relay is drained in its own task, so a slow
or dead relay delays nobody. A batch fetched from one mailbox is processed in one transaction
(``inbox.receive`` per envelope, duplicates dropped by envelope id), committed, and only then
acknowledged to the relay; a crash or Ctrl-C before the ack means the relay delivers the
batch again and nothing is lost or doubled. ``listen_relay`` does the same for pushes on a
subscribed connection and reconnects with backoff when the relay goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from payk.client.inbox import InboxResult, receive
from payk.client.mailboxes import OwnMailbox, all_mailboxes
from payk.client.profile import Profile
from payk.client.router import RelayLink, RelayPool
from payk.errors import NetworkError, PaykError

__all__ = ["fetch_all", "listen_relay"]

FETCH_LIMIT = 100
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
    async for delivery in link.deliveries():
        if delivery.recv_id not in by_recv:
            continue
        mailbox, creds = by_recv[delivery.recv_id]
        result = InboxResult()
        _process(profile, mailbox.id, relay, [delivery.envelope], clock, result)
        await link.ack(creds, [delivery.id])
        on_batch(result)
