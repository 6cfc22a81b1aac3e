"""An in-memory twin of the relay connection, for unit tests of everything above ``net``.

Strategy: ``MemoryRelay`` keeps mailboxes in dicts with the same semantics the real relay
promises (capabilities, at-least-once delivery until acked, per-mailbox quota, pushes to
subscribers); ``MemoryRelayConnection`` exposes the same coroutine API as
``payk.net.relay.RelayConnection``. ``MemoryNetwork`` maps relay addresses to relays and can
take one down (``down``) or make it present another key (``impostor``), so tests can exercise
failures without sockets. Not for production: nothing here is durable.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from payk.errors import (
    FingerprintMismatchError,
    NetworkError,
    PaykError,
    QuotaError,
    RelayRefusedError,
)
from payk.net.relay import Delivery, MailboxCreds
from payk.protocol import primitives
from payk.protocol.address import MailboxAddress, RelayAddress

__all__ = [
    "MemoryNetwork",
    "MemoryRelay",
    "MemoryRelayConnection",
]


@dataclass(slots=True)
class _Mailbox:
    creds: MailboxCreds
    queue: dict[bytes, bytes] = field(default_factory=dict)


class MemoryRelay:
    """The state of one relay: mailboxes keyed by send id and by receive id."""

    def __init__(self, *, quota: int = 10_000) -> None:
        self.quota = quota
        self._by_send: dict[bytes, _Mailbox] = {}
        self._by_recv: dict[bytes, _Mailbox] = {}
        self._ids = itertools.count(1)
        self._subscribers: dict[bytes, list[asyncio.Queue[Delivery]]] = {}

    def create_mailbox(self) -> MailboxCreds:
        """A new mailbox with fresh random ids."""
        creds = MailboxCreds(
            recv_id=primitives.random_bytes(16),
            send_id=primitives.random_bytes(16),
            auth_seed=primitives.random_bytes(32),
        )
        box = _Mailbox(creds)
        self._by_send[creds.send_id] = box
        self._by_recv[creds.recv_id] = box
        return creds

    def send(self, send_id: bytes, envelope: bytes) -> None:
        """Store an envelope for the mailbox with this send id."""
        box = self._by_send.get(send_id)
        if box is None:
            raise RelayRefusedError("no such mailbox", code="NOT_FOUND")
        if len(box.queue) >= self.quota:
            raise QuotaError()
        delivery_id = next(self._ids).to_bytes(8, "big")
        box.queue[delivery_id] = envelope
        delivery = Delivery(recv_id=box.creds.recv_id, id=delivery_id, envelope=envelope)
        for queue in self._subscribers.get(box.creds.recv_id, []):
            queue.put_nowait(delivery)

    def _owned(self, creds: MailboxCreds) -> _Mailbox:
        box = self._by_recv.get(creds.recv_id)
        if box is None or box.creds.auth_seed != creds.auth_seed:
            raise RelayRefusedError("not authorised", code="AUTH")
        return box

    def fetch(self, creds: MailboxCreds, limit: int) -> list[Delivery]:
        """Unacked envelopes, oldest first."""
        box = self._owned(creds)
        items = sorted(box.queue.items())[:limit]
        return [Delivery(recv_id=creds.recv_id, id=i, envelope=e) for i, e in items]

    def ack(self, creds: MailboxCreds, ids: Sequence[bytes]) -> None:
        """Forget acknowledged envelopes."""
        box = self._owned(creds)
        for delivery_id in ids:
            box.queue.pop(delivery_id, None)

    def stored(self) -> list[bytes]:
        """Every envelope still held (what a seized relay would show)."""
        return [e for box in self._by_send.values() for e in box.queue.values()]

    def _subscribe(self, creds: MailboxCreds, queue: asyncio.Queue[Delivery]) -> None:
        self._owned(creds)
        self._subscribers.setdefault(creds.recv_id, []).append(queue)

    def _unsubscribe(self, queue: asyncio.Queue[Delivery]) -> None:
        for queues in self._subscribers.values():
            if queue in queues:
                queues.remove(queue)


class MemoryNetwork:
    """Relays reachable by address, with switches to simulate outages and impostors."""

    def __init__(self) -> None:
        self.relays: dict[RelayAddress, MemoryRelay] = {}
        self.down: set[RelayAddress] = set()
        self.impostor: set[RelayAddress] = set()
        self.connections = 0

    def add_relay(self, port: int) -> RelayAddress:
        """Start a new in-memory relay and return its address."""
        address = RelayAddress(fingerprint=primitives.random_bytes(32), host="127.0.0.1", port=port)
        self.relays[address] = MemoryRelay()
        return address

    async def connect(
        self,
        address: RelayAddress,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> MemoryRelayConnection:
        """Connect like ``RelayConnection.connect``.

        Raises:
            NetworkError: the relay is down or unknown.
            FingerprintMismatchError: the relay presents another key.
        """
        await asyncio.sleep(0)
        if address in self.impostor:
            raise FingerprintMismatchError(
                f"the relay at {address.host}:{address.port} "
                "presented another key than its address pins"
            )
        relay = self.relays.get(address)
        if relay is None or address in self.down:
            raise NetworkError(f"cannot reach the relay at {address.host}:{address.port}")
        self.connections += 1
        return MemoryRelayConnection(self, address, relay)

    @staticmethod
    def creds(recv_id: bytes, send_id: bytes, auth_seed: bytes) -> MailboxCreds:
        """Rebuild stored mailbox credentials."""
        return MailboxCreds(recv_id=recv_id, send_id=send_id, auth_seed=auth_seed)


class MemoryRelayConnection:
    """The same coroutine API as the real relay connection, over a ``MemoryRelay``."""

    def __init__(self, network: MemoryNetwork, address: RelayAddress, relay: MemoryRelay) -> None:
        self._network = network
        self._address = address
        self._relay = relay
        self._pushes: asyncio.Queue[Delivery] = asyncio.Queue()
        self._closed = False

    def _check(self) -> MemoryRelay:
        if self._closed or self._address in self._network.down:
            raise NetworkError("the connection to the relay was lost")
        return self._relay

    async def create_mailbox(self) -> MailboxCreds:
        await asyncio.sleep(0)
        return self._check().create_mailbox()

    async def send(self, send_id: bytes, envelope: bytes) -> None:
        await asyncio.sleep(0)
        self._check().send(send_id, envelope)

    async def send_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[PaykError | None]:
        """Store each ``(send_id, envelope)`` in order; one outcome per item, as the real
        connection gives (None stored, else the refusal)."""
        await asyncio.sleep(0)
        relay = self._check()
        outcomes: list[PaykError | None] = []
        for send_id, envelope in items:
            try:
                relay.send(send_id, envelope)
            except RelayRefusedError as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    async def forward(self, target: MailboxAddress, envelope: bytes) -> None:
        await asyncio.sleep(0)
        relay = self._network.relays.get(target.relay)
        if relay is None or target.relay in self._network.down:
            raise RelayRefusedError("the target relay is unreachable", code="FORWARD")
        self._check()
        relay.send(target.send_id, envelope)

    async def fetch(self, creds: MailboxCreds, *, limit: int = 100) -> list[Delivery]:
        await asyncio.sleep(0)
        return self._check().fetch(creds, limit)

    async def ack(self, creds: MailboxCreds, ids: Sequence[bytes], *, quiet: bool = False) -> None:
        """Forget acknowledged envelopes; ``quiet`` changes nothing here (no answer to skip)."""
        await asyncio.sleep(0)
        self._check().ack(creds, ids)

    async def subscribe(self, creds: MailboxCreds) -> None:
        await asyncio.sleep(0)
        self._check()._subscribe(creds, self._pushes)

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Envelopes pushed to subscribed mailboxes, as they arrive."""
        while True:
            self._check()
            try:
                yield await asyncio.wait_for(self._pushes.get(), timeout=0.05)
            except TimeoutError:
                continue

    async def delete_mailbox(self, creds: MailboxCreds) -> None:
        await asyncio.sleep(0)
        self._check()._owned(creds)

    async def close(self) -> None:
        self._closed = True
        self._relay._unsubscribe(self._pushes)

    async def __aenter__(self) -> MemoryRelayConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
