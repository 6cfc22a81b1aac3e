"""A relay behind a TLS-terminating front proxy (the nginx/Caddy setup), on one machine.

The front proxy here is a few lines of asyncio: TLS with its own certificate, bytes piped to
the relay's plain loopback port. The relay's address must pin the proxy's key and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from payk.net.relay import RelayConnection
from payk.protocol.primitives import self_signed_certificate, spki_fingerprint
from tests.relay.harness import start_relay

pytestmark = pytest.mark.e2e


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def test_relay_behind_a_tls_front_proxy(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(now=datetime.datetime.now(datetime.UTC))
    pem = tmp_path / "front.pem"
    pem.write_bytes(key + cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    upstream: list[int] = []

    async def front(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream[0])
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(front, "127.0.0.1", 0, ssl=context)
    front_port = server.sockets[0].getsockname()[1]
    relay = await start_relay(
        tmp_path / "relay", "--tls-terminated-by", str(pem), "--public-port", str(front_port)
    )
    try:
        assert relay.address.fingerprint == spki_fingerprint(cert)
        assert relay.address.port == front_port
        upstream.append(int(_bound_port(relay.log())))
        async with await RelayConnection.connect(relay.address) as conn:
            box = await conn.create_mailbox()
            await conn.send(box.send_id, b"via the front")
            assert [d.envelope for d in await conn.fetch(box)] == [b"via the front"]
    finally:
        assert await relay.terminate() == 0
        server.close()


def _bound_port(log: str) -> str:
    return log.split("relay listening on port ")[1].split()[0]


def test_plain_mode_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    cert, _ = self_signed_certificate(now=datetime.datetime.now(datetime.UTC))
    (tmp_path / "front.pem").write_bytes(cert)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "payk",
            "relay",
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--data",
            str(tmp_path / "r"),
            "--tls-terminated-by",
            str(tmp_path / "front.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "loopback" in result.stderr or "127.0.0.1" in result.stderr
