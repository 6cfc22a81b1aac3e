"""Every path out: how the client reaches each relay, and over how many routes at once.

Strategy: two layers of ``Network`` (see ``payk.client.router``).

``TransportNetwork`` opens one pinned connection to a relay over the profile's transport:
direct TCP, a SOCKS5 proxy (names resolved by the proxy, so Tor and ``.onion`` relays work)
or an obfs4 bridge (``obfs4proxy`` started as a managed pluggable transport on first use and
stopped with the client; with a proxy too, the bridge is dialled through the proxy).

``PathNetwork`` gives the pool one ``MultiLink`` per relay that holds every path to it: the
transport path, and, when the profile names a forwarding relay ("reach everything through
this relay"), a forward path that hands envelopes to that relay's ``Forward`` command. A send
(one envelope, or several with ``send_many``, each judged on its own) goes over every path
that is up, concurrently; arrivals are de-duplicated by envelope id on
the receiving side, so a copy taking two routes is shown once. Each path has its own
exponential backoff, so a dead path is skipped until its retry time and never blocks another
(a relay's refusal, such as a full mailbox, is an answer, not a dead path).
Reading a mailbox needs the relay itself, so fetches use the transport path only. Every
attempt is recorded; ``report`` gives what ``payk sync --json`` shows as ``paths``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from payk.client.config import Config
from payk.errors import FingerprintMismatchError, NetworkError, PaykError, RelayRefusedError
from payk.net.obfs4 import Bridge, ManagedClient
from payk.net.relay import MailboxCreds, RelayConnection
from payk.net.socks import SocksRoute, parse_proxy
from payk.protocol.address import MailboxAddress, RelayAddress

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = [
    "MultiLink",
    "PathNetwork",
    "PathOutcome",
    "TransportNetwork",
    "network_for",
    "path_report",
    "use_paths",
]

Opener = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PathOutcome:
    """The last attempt over one path to one relay."""

    path: str
    relay: str
    ok: bool
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        """The ``paths`` entry of ``payk sync --json``."""
        return {"path": self.path, "relay": self.relay, "ok": self.ok, "error": self.error}


class TransportNetwork:
    """Pinned relay connections over direct TCP, SOCKS5 or an obfs4 bridge."""

    def __init__(self, *, proxy: str | None = None, bridge: str | None = None) -> None:
        """Raises ``UsageError`` for a malformed proxy URL or bridge line."""
        self.proxy: SocksRoute | None = parse_proxy(proxy) if proxy else None
        self.bridge: Bridge | None = Bridge.parse(bridge) if bridge else None
        self._transport: ManagedClient | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """``obfs4``, ``socks5`` or ``direct``."""
        return "obfs4" if self.bridge else "socks5" if self.proxy else "direct"

    async def connect(self, address: RelayAddress, *, timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        """Open a connection (the fingerprint in ``address`` is enforced)."""
        return await RelayConnection.connect(address, proxy=await self._route(), timeout=timeout)

    async def _route(self) -> SocksRoute | None:
        if self.bridge is None:
            return self.proxy
        async with self._lock:
            if self._transport is None:
                self._transport = await ManagedClient.start(upstream=self.proxy)
            return self._transport.route(self.bridge)

    @staticmethod
    def creds(recv_id: bytes, send_id: bytes, auth_seed: bytes) -> Any:
        """Rebuild the credentials of a mailbox we created."""
        return MailboxCreds(recv_id=recv_id, send_id=send_id, auth_seed=auth_seed)

    async def shutdown(self) -> None:
        """Stop the bridge transport, if one was started."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()


class _Path:
    """One route to one relay: its open link, failures and next retry time."""

    def __init__(self, name: str, relay: str, opener: Opener, network: PathNetwork) -> None:
        self.name, self.relay, self._opener, self._network = name, relay, opener, network
        self.link: Any = None
        self.failures = 0
        self.retry_at = 0.0
        self.error: PaykError | None = None

    async def get(self, timeout: float) -> Any:  # noqa: ASYNC109
        """The open link, or None while this path is down and waiting for its retry."""
        if self.link is not None and not getattr(self.link, "closed", False):
            return self.link
        if time.monotonic() < self.retry_at:
            return None
        try:
            async with asyncio.timeout(timeout):
                self.link = await self._opener(timeout)
        except (PaykError, OSError, TimeoutError) as exc:
            self.fail(exc)
            return None
        return self.link

    def fail(self, exc: BaseException) -> None:
        """Record a failure and back off (doubling, capped)."""
        self.link = None
        self.error = exc if isinstance(exc, PaykError) else NetworkError(str(exc) or "timed out")
        self.failures += 1
        delay = min(self._network.backoff_max, self._network.backoff_base * 2**self.failures)
        self.retry_at = time.monotonic() + delay
        self._network.record(self, ok=False)

    def worked(self) -> None:
        """Record a success; the backoff starts over."""
        self.failures, self.retry_at, self.error = 0, 0.0, None
        self._network.record(self, ok=True)


class _ForwardLink:
    """Sends to mailboxes on ``target`` by asking the forwarding relay to deliver them."""

    def __init__(self, via: Any, target: RelayAddress) -> None:
        self._via, self._target = via, target

    @property
    def closed(self) -> bool:
        return bool(getattr(self._via, "closed", False))

    async def send(self, send_id: bytes, envelope: bytes) -> None:
        await self._via.forward(MailboxAddress(relay=self._target, send_id=send_id), envelope)

    async def send_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[PaykError | None]:
        """Forward each envelope on its own, concurrently (``Forward`` takes one at a time).

        Raises:
            NetworkError: the forwarding relay could not be reached for some envelope.
        """
        results = await asyncio.gather(
            *(self.send(send_id, envelope) for send_id, envelope in items), return_exceptions=True
        )
        outcomes: list[PaykError | None] = []
        for result in results:
            if _item_outcome(result):  # an answer about that envelope, not a dead path
                outcomes.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                outcomes.append(None)
        return outcomes


class MultiLink:
    """Every path to one relay, behind the ``RelayConnection`` operations the client uses.

    Only ``send`` goes over every path; everything else (mailboxes, feeds) needs the relay
    itself and uses the transport path.
    """

    def __init__(self, paths: Sequence[_Path], timeout: float) -> None:
        self.paths = list(paths)
        self.timeout = timeout

    async def send(self, send_id: bytes, envelope: bytes) -> None:
        """Send over every path that is up; fine if at least one relay took it.

        Raises:
            RelayRefusedError: every relay that answered refused (e.g. the mailbox is full).
            NetworkError: no path is up.
        """
        outcomes = await asyncio.gather(*(self._send(p, send_id, envelope) for p in self.paths))
        if None not in outcomes:
            raise _worst(outcomes)

    async def _send(self, path: _Path, send_id: bytes, envelope: bytes) -> PaykError | None:
        link = await path.get(self.timeout)
        if link is None:
            return path.error or NetworkError("the path is down")
        try:
            await link.send(send_id, envelope)
        except RelayRefusedError as exc:  # the relay answered: the path itself works
            path.worked()
            return exc
        except NetworkError as exc:
            path.fail(exc)
            return exc
        path.worked()
        return None

    async def send_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[PaykError | None]:
        """``send`` for several envelopes: each goes over every path that is up, and each is
        fine if at least one relay took it; else its outcome is the worst error, as ``send``
        would raise it. Never raises: a path that is down fails all its items."""
        items = list(items)
        per_path = await asyncio.gather(*(self._send_many(p, items) for p in self.paths))
        return [
            None if None in outcomes else _worst_for_item(outcomes)
            for outcomes in zip(*per_path, strict=True)
        ]

    async def _send_many(
        self, path: _Path, items: list[tuple[bytes, bytes]]
    ) -> Sequence[PaykError | None]:
        link = await path.get(self.timeout)
        if link is None:
            return [path.error or NetworkError("the path is down")] * len(items)
        try:
            outcomes: Sequence[PaykError | None] = await link.send_many(items)
        except NetworkError as exc:
            path.fail(exc)
            return [exc] * len(items)
        path.worked()  # the relay answered, even if it refused some items
        return outcomes

    async def _direct(self) -> Any:
        path = self.paths[0]
        link = await path.get(self.timeout)
        if link is None:
            raise _worst([path.error])
        return link

    async def create_mailbox(self) -> Any:
        return await (await self._direct()).create_mailbox()

    async def fetch(self, creds: Any, *, limit: int = 100) -> Sequence[Any]:
        return await (await self._direct()).fetch(creds, limit=limit)  # type: ignore[no-any-return]

    async def ack(self, creds: Any, ids: Sequence[Any], *, quiet: bool = False) -> None:
        await (await self._direct()).ack(creds, ids, quiet=quiet)

    async def subscribe(self, creds: Any) -> None:
        await (await self._direct()).subscribe(creds)

    async def delete_mailbox(self, creds: Any) -> None:
        await (await self._direct()).delete_mailbox(creds)

    async def create_feed(self) -> Any:
        return await (await self._direct()).create_feed()

    async def append(self, feed: Any, envelope: bytes) -> int:
        return int(await (await self._direct()).append(feed, envelope))

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int = 100) -> Any:
        return await (await self._direct()).read_feed(feed_id, offset=offset, limit=limit)

    async def unsubscribe(self, creds: Any) -> None:
        await (await self._direct()).unsubscribe(creds)

    async def forward(self, target: MailboxAddress, envelope: bytes) -> None:
        await (await self._direct()).forward(target, envelope)

    async def ping(self) -> None:
        await (await self._direct()).ping()

    async def deliveries(self) -> AsyncIterator[Any]:
        async for delivery in (await self._direct()).deliveries():
            yield delivery

    async def close(self) -> None:
        """Close the transport path (a forward path shares the forwarding relay's link)."""
        link, self.paths[0].link = self.paths[0].link, None
        if link is not None:
            await link.close()


def _worst(errors: Sequence[PaykError | None]) -> NetworkError:
    """An impostor first, then a relay's own refusal, then any outage."""
    for kind in (FingerprintMismatchError, RelayRefusedError, NetworkError):
        for exc in errors:
            if isinstance(exc, kind):
                return exc
    return NetworkError("no path to the relay is up")


def _item_outcome(result: object) -> TypeGuard[PaykError]:
    """Whether a forward's result is an outcome of its envelope: a refusal, or an envelope
    this side will not send (``LocalProtocolError``), rather than an outage."""
    return isinstance(result, RelayRefusedError) or (
        isinstance(result, PaykError) and not isinstance(result, NetworkError)
    )


def _worst_for_item(errors: Sequence[PaykError | None]) -> PaykError:
    """``_worst`` for one envelope of ``send_many``, where an envelope refused before it was
    sent (too large) is the most telling."""
    for exc in errors:
        if exc is not None and not isinstance(exc, NetworkError):
            return exc
    return _worst(errors)


class PathNetwork:
    """One ``MultiLink`` per relay over the transport and, optionally, a forwarding relay."""

    def __init__(
        self,
        inner: Any,
        *,
        via: str | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
    ) -> None:
        """``inner`` opens single connections (a ``TransportNetwork`` or a test twin)."""
        self.inner = inner
        self.via = RelayAddress.parse(via) if via else None
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.outcomes: dict[tuple[str, str], PathOutcome] = {}
        self._via_path: _Path | None = None
        self._paths: dict[tuple[str, str], _Path] = {}

    @property
    def transport_name(self) -> str:
        return str(getattr(self.inner, "name", "direct"))

    async def connect(self, address: RelayAddress, *, timeout: float = 10.0) -> MultiLink:  # noqa: ASYNC109
        """Every path to ``address``; raises the most telling error if none is up."""
        relay = str(address)
        paths = [self._path(self.transport_name, relay, self._opener(address))]
        if self.via is not None and address != self.via:
            paths.append(self._path("forward", relay, self._forward_opener(self.via, address)))
        for path in paths:  # the pool asks again only after its own cooldown: try them all
            path.retry_at = 0.0
        links = await asyncio.gather(*(p.get(timeout) for p in paths))
        if not any(link is not None for link in links):
            raise _worst([p.error for p in paths])
        for path, link in zip(paths, links, strict=True):
            if link is not None:
                path.worked()
        return MultiLink(paths, timeout)

    def _path(self, name: str, relay: str, opener: Opener) -> _Path:
        """The path's state lives as long as the network, so its backoff survives reconnects."""
        return self._paths.setdefault((name, relay), _Path(name, relay, opener, self))

    def _opener(self, address: RelayAddress) -> Opener:
        async def open_(timeout: float) -> Any:  # noqa: ASYNC109
            return await self.inner.connect(address, timeout=timeout)

        return open_

    def _forward_opener(self, via: RelayAddress, target: RelayAddress) -> Opener:
        async def open_(timeout: float) -> Any:  # noqa: ASYNC109
            return _ForwardLink(await self._via_link(via, timeout), target)

        return open_

    async def _via_link(self, via: RelayAddress, timeout: float) -> Any:  # noqa: ASYNC109
        if self._via_path is None:
            self._via_path = _Path("via", str(via), self._opener(via), self)
        self._via_path.retry_at = 0.0  # the forward path keeps its own backoff
        link = await self._via_path.get(timeout)
        if link is None:
            raise _worst([self._via_path.error])
        return link

    def creds(self, recv_id: bytes, send_id: bytes, auth_seed: bytes) -> Any:
        """Rebuild mailbox credentials (the transport decides their type)."""
        return self.inner.creds(recv_id, send_id, auth_seed)

    def record(self, path: _Path, *, ok: bool) -> None:
        """Remember the latest outcome of ``path`` for the report."""
        if path.name == "via":
            return
        error = None if ok or path.error is None else str(path.error)
        self.outcomes[(path.name, path.relay)] = PathOutcome(
            path=path.name, relay=path.relay, ok=ok, error=error
        )

    def report(self) -> list[PathOutcome]:
        """The latest outcome of every path tried, transport paths first."""
        return sorted(self.outcomes.values(), key=lambda o: (o.path == "forward", o.relay))

    async def shutdown(self) -> None:
        """Close the forwarding relay's link and stop any bridge transport."""
        if self._via_path is not None and self._via_path.link is not None:
            link, self._via_path.link = self._via_path.link, None
            await link.close()
        shutdown = getattr(self.inner, "shutdown", None)
        if shutdown is not None:
            await shutdown()


def network_for(config: Config) -> PathNetwork:
    """The network a profile's settings ask for.

    Raises:
        UsageError: a malformed proxy URL, bridge line or forwarding relay address.
    """
    inner = TransportNetwork(proxy=config.proxy, bridge=config.bridge)
    return PathNetwork(inner, via=config.via, backoff_max=config.retry_max)


def use_paths(
    client: Client,
    *,
    proxy: str | None = None,
    bridge: str | None = None,
    via: str | None = None,
) -> None:
    """Apply command-line path options over the profile's ``config.toml`` (before any I/O)."""
    if not (proxy or bridge or via):
        return
    old = client.config
    client.config = dataclasses.replace(
        old, proxy=proxy or old.proxy, bridge=bridge or old.bridge, via=via or old.via
    )
    client.pool.network = network_for(client.config)


def path_report(client: Client) -> list[PathOutcome]:
    """What each path did during this run (empty for networks that do not record it)."""
    report = getattr(client.pool.network, "report", None)
    return list(report()) if report is not None else []
