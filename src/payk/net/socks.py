"""SOCKS5 routes: how a TCP connection to a relay is opened through a proxy.

Strategy: a ``SocksRoute`` names the proxy, optional username/password (the pluggable-transport
spec passes a bridge's arguments there) and optionally a fixed destination that replaces the
relay's own host and port (an obfs4 bridge is dialled, not the relay behind it). Names are
always resolved by the proxy (SOCKS5 with remote DNS), never locally, so a ``.onion`` relay or
a blocked name never reaches the local resolver. ``open_socket`` returns a connected,
non-blocking socket for the TLS layer; every failure becomes ``NetworkError`` and a malformed
proxy URL is a ``UsageError``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from payk.errors import NetworkError, UsageError

__all__ = ["SocksRoute", "open_socket", "parse_proxy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SocksRoute:
    """A SOCKS5 proxy, its credentials, and (for bridges) the destination to ask it for."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    dest_host: str | None = None
    dest_port: int | None = None

    def describe(self) -> str:
        """The proxy as ``socks5://HOST:PORT`` (credentials never shown)."""
        return f"socks5://{self.host}:{self.port}"


def parse_proxy(url: str) -> SocksRoute:
    """Parse ``socks5://[USER:PASS@]HOST:PORT`` (``socks5h://`` is accepted as the same).

    Raises:
        UsageError: not a SOCKS5 URL with a host and a port.
    """
    text = url.strip()
    if not text.startswith(("socks5://", "socks5h://")):
        raise UsageError(f"the proxy must be socks5://HOST:PORT, got {url!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"the proxy must be socks5://HOST:PORT, got {url!r}") from exc
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        raise UsageError(f"the proxy must be socks5://HOST:PORT, got {url!r}")
    return SocksRoute(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


async def open_socket(
    route: SocksRoute,
    host: str,
    port: int,
    timeout: float,  # noqa: ASYNC109 - the proxy handshake as a whole
) -> socket.socket:
    """A TCP connection to ``host:port`` (or the route's fixed destination) via the proxy.

    Raises:
        NetworkError: the proxy is unreachable, refuses, or cannot reach the destination.
    """
    from python_socks import ProxyType
    from python_socks.async_.asyncio import Proxy

    proxy = Proxy(
        proxy_type=ProxyType.SOCKS5,
        host=route.host,
        port=route.port,
        username=route.username,
        password=route.password,
        rdns=True,
    )
    dest_host = route.dest_host if route.dest_host is not None else host
    dest_port = route.dest_port if route.dest_port is not None else port
    try:
        return await proxy.connect(dest_host=dest_host, dest_port=dest_port, timeout=timeout)
    except Exception as exc:  # python-socks raises its own error types
        raise NetworkError(f"the proxy {route.describe()} did not connect: {exc}") from exc
