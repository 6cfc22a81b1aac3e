"""Reaching relays: one connection per relay per client, failures isolated per relay.

Strategy: the client talks to relays through the small ``Network`` protocol (connect, rebuild
mailbox credentials), implemented by ``RelayNetwork`` over ``payk.net.relay`` and by the
in-memory twin in ``payk.net.memory``. ``RelayPool`` opens each relay at most once per
client, bounds every operation with the configured timeout, and remembers why a relay failed
so that one dead or hostile relay never blocks the others: callers ask ``pool.link(relay)``
and get ``None`` for a relay that is down. A relay that presents the wrong key is never used
and its failure is reported above all others (it is an attack, not an outage).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from payk.errors import FingerprintMismatchError, NetworkError, PaykError
from payk.net.relay import MailboxCreds, RelayConnection
from payk.protocol.address import RelayAddress

__all__ = ["Network", "RelayLink", "RelayNetwork", "RelayPool", "unreachable"]

T = TypeVar("T")


class RelayLink(Protocol):
    """The relay operations the client uses (see ``payk.net.relay.RelayConnection``)."""

    async def create_mailbox(self) -> Any: ...
    async def send(self, send_id: bytes, envelope: bytes) -> None: ...
    async def send_many(
        self, items: Sequence[tuple[bytes, bytes]]
    ) -> Sequence[PaykError | None]: ...
    async def fetch(self, creds: Any, *, limit: int = 100) -> Sequence[Any]: ...
    async def ack(self, creds: Any, ids: Sequence[Any], *, quiet: bool = False) -> None: ...
    async def subscribe(self, creds: Any) -> None: ...
    async def delete_mailbox(self, creds: Any) -> None: ...
    def deliveries(self) -> AsyncIterator[Any]: ...
    async def close(self) -> None: ...


class Network(Protocol):
    """How to open a relay connection and rebuild stored mailbox credentials."""

    async def connect(self, address: RelayAddress, *, timeout: float = 10.0) -> Any: ...  # noqa: ASYNC109
    def creds(self, recv_id: bytes, send_id: bytes, auth_seed: bytes) -> Any: ...


class RelayNetwork:
    """The real network: TLS + WebSocket connections with pinned fingerprints."""

    def __init__(self, proxy: str | None = None) -> None:
        self.proxy = proxy

    async def connect(self, address: RelayAddress, *, timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        """Open a connection (the fingerprint in ``address`` is enforced)."""
        return await RelayConnection.connect(address, proxy=self.proxy, timeout=timeout)

    def creds(self, recv_id: bytes, send_id: bytes, auth_seed: bytes) -> Any:
        """Rebuild the credentials of a mailbox we created."""
        return MailboxCreds(recv_id=recv_id, send_id=send_id, auth_seed=auth_seed)


def unreachable(errors: dict[str, PaykError]) -> NetworkError:
    """The error to raise when no relay could be used: an impostor first, else an outage."""
    for relay, exc in errors.items():
        if isinstance(exc, FingerprintMismatchError):
            return FingerprintMismatchError(
                f"refusing {relay}: it presented a key other than the one its address pins "
                "(someone may be intercepting the connection)"
            )
    detail = "; ".join(f"{relay}: {exc}" for relay, exc in errors.items())
    return NetworkError(f"no relay could be reached ({detail or 'no relays configured'})")


class RelayPool:
    """At most one connection per relay; failures recorded, never propagated across relays."""

    def __init__(self, network: Network, *, timeout: float, cooldown: float = 5.0) -> None:
        self.network = network
        self.timeout = timeout
        self.cooldown = cooldown
        self.errors: dict[str, PaykError] = {}
        self._failed_at: dict[str, float] = {}
        self._links: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def link(self, relay: str) -> RelayLink | None:
        """The connection to ``relay``, or None if it cannot be used right now."""
        if relay in self._links:
            return self._links[relay]  # type: ignore[no-any-return]
        if relay in self.errors:
            if time.monotonic() - self._failed_at.get(relay, 0.0) < self.cooldown:
                return None
            del self.errors[relay]
        async with self._locks.setdefault(relay, asyncio.Lock()):
            if relay not in self._links and relay not in self.errors:
                await self._open(relay)
        return self._links.get(relay)

    async def _open(self, relay: str) -> None:
        try:
            address = RelayAddress.parse(relay)
            async with asyncio.timeout(self.timeout):
                self._links[relay] = await self.network.connect(address, timeout=self.timeout)
        except PaykError as exc:
            self._fail(relay, exc)
        except (TimeoutError, OSError) as exc:
            self._fail(relay, NetworkError(f"cannot reach the relay: {exc or 'timed out'}"))

    def _fail(self, relay: str, exc: PaykError) -> None:
        self.errors[relay] = exc
        self._failed_at[relay] = time.monotonic()

    async def call(self, relay: str, op: Callable[[RelayLink], Awaitable[T]]) -> T | None:
        """Run ``op`` on the relay's connection with the timeout; None if it failed.

        A failed operation drops the connection, so the next call reconnects.
        """
        link = await self.link(relay)
        if link is None:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                return await op(link)
        except (NetworkError, TimeoutError, OSError) as exc:
            self._fail(relay, exc if isinstance(exc, PaykError) else NetworkError(str(exc)))
            await self.drop(relay)
            return None

    async def drop(self, relay: str) -> None:
        """Close the connection to ``relay`` (errors closing it are irrelevant)."""
        link = self._links.pop(relay, None)
        if link is not None:
            try:
                await link.close()
            except (PaykError, OSError):
                pass

    def forget_errors(self) -> None:
        """Let every relay be tried again."""
        self.errors.clear()

    async def close(self) -> None:
        """Close every connection."""
        for relay in list(self._links):
            await self.drop(relay)
        shutdown = getattr(self.network, "shutdown", None)  # e.g. a bridge transport
        if shutdown is not None:
            await shutdown()
