"""Reading a feed anonymously: one plain HTTP GET per page, over TLS pinned to the relay.

Strategy: channel readers need no account, no mailbox and no WebSocket session, only
``GET /feed/<id>?offset=N`` (which any HTTP cache or CDN in front of the relay can answer).
The TLS key is checked against the relay address before the request is written, so a cache
or proxy that presents another key never sees which feed is read. The answer is the relay's
``FeedEntries`` message; its size is bounded before it is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
from contextlib import suppress

from payk.errors import NetworkError, RemoteProtocolError
from payk.net.tls import check_pinned, client_context
from payk.protocol import mailbox as mb
from payk.protocol.address import RelayAddress, b64u_encode

__all__ = ["MAX_ANSWER", "get_feed"]

MAX_ANSWER = 16 * 1024 * 1024


async def get_feed(
    relay: RelayAddress,
    feed_id: bytes,
    offset: int,
    *,
    limit: int = 100,
    timeout: float = 10.0,  # noqa: ASYNC109 - covers connect, TLS, request and answer
) -> list[tuple[int, bytes]]:
    """Entries ``(offset, envelope)`` of a feed from ``offset`` on; [] past the end.

    Raises:
        FingerprintMismatchError: the server presented another TLS key.
        NetworkError: unreachable, too slow, or an answer that is not a feed page.
    """
    path = f"/feed/{b64u_encode(feed_id)}?offset={offset}&limit={limit}"
    try:
        async with asyncio.timeout(timeout):
            status, body = await _get(relay, path)
    except (OSError, TimeoutError) as exc:
        raise NetworkError(
            f"could not read the feed on {relay.host}: {exc or 'timed out'}"
        ) from exc
    if status == 404:
        raise NetworkError(f"the relay at {relay.host} has no such feed")
    if status != 200:
        raise NetworkError(f"the relay at {relay.host} answered HTTP {status}")
    try:
        answer = mb.response_codec().decode(body)
    except RemoteProtocolError as exc:
        raise NetworkError("the relay's answer is not a feed page") from exc
    if not isinstance(answer, mb.FeedEntries):
        raise NetworkError("the relay's answer is not a feed page")
    return [(entry.offset, entry.body) for entry in answer.entries]


async def _get(relay: RelayAddress, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(
        relay.connect_host, relay.port, ssl=client_context(), server_hostname=_sni(relay) or ""
    )
    try:
        check_pinned(writer.get_extra_info("ssl_object"), relay.fingerprint)
        request = f"GET {path} HTTP/1.1\r\nHost: {relay.host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("ascii"))
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()
        with suppress(OSError, asyncio.TimeoutError):
            await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise NetworkError("the relay did not answer in HTTP")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "-1") or -1)
    if length > MAX_ANSWER:
        raise NetworkError("the relay's answer is too large")
    body = await (reader.readexactly(length) if length >= 0 else reader.read(MAX_ANSWER))
    return int(parts[1]), body


def _sni(relay: RelayAddress) -> str | None:
    try:
        ipaddress.ip_address(relay.connect_host)
    except ValueError:
        return relay.connect_host
    return None
