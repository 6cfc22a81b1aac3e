"""Reaching a relay through a SOCKS5 proxy that resolves names itself (as Tor must for .onion).

The proxy here is a minimal SOCKS5 server in the test: it records the host it was asked for
and maps the made-up name ``relay.invalid`` to the loopback relay, so a client that resolved
the name locally would fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
from collections.abc import AsyncIterator

import pytest

from payk.errors import NetworkError, UsageError
from payk.net.relay import RelayConnection
from tests.relay.harness import RelayProcess

pytestmark = pytest.mark.e2e


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def socks5_proxy(asked: list[str], relay_port: int) -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _version, methods = await reader.readexactly(2)
        await reader.readexactly(methods)
        writer.write(b"\x05\x00")
        _ver, _cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp != 3:  # only names: an IP here would mean local resolution
            writer.close()
            return
        host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        (port,) = struct.unpack(">H", await reader.readexactly(2))
        asked.append(f"{host}:{port}")
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", relay_port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_connect_through_socks5_with_remote_name_resolution(relay: RelayProcess) -> None:
    asked: list[str] = []
    hidden = dataclasses.replace(relay.address, host="relay.invalid")
    async with socks5_proxy(asked, relay.address.port) as proxy_port:
        proxy = f"socks5://127.0.0.1:{proxy_port}"
        async with await RelayConnection.connect(hidden, proxy=proxy) as conn:
            box = await conn.create_mailbox()
            await conn.send(box.send_id, b"through the proxy")
            assert [d.envelope for d in await conn.fetch(box)] == [b"through the proxy"]
    assert asked == [f"relay.invalid:{relay.address.port}"]


async def test_without_the_proxy_the_name_does_not_resolve(relay: RelayProcess) -> None:
    hidden = dataclasses.replace(relay.address, host="relay.invalid")
    with pytest.raises(NetworkError):
        await RelayConnection.connect(hidden, timeout=5)


async def test_unusable_proxies_are_refused(relay: RelayProcess) -> None:
    with pytest.raises(UsageError):
        await RelayConnection.connect(relay.address, proxy="http://127.0.0.1:1")
    with pytest.raises(NetworkError):
        await RelayConnection.connect(relay.address, proxy="socks5://127.0.0.1:1", timeout=5)
