"""Active probing: what a censor's scanner learns by poking at a relay's port.

A prober sends random bytes, a TLS hello, plain HTTP requests after TLS, and replays the
bytes a real client once sent. The relay must answer like an ordinary HTTPS web server with
a WebSocket endpoint: TLS alerts or silence for junk, a standard TLS handshake, ``404 not
found`` for pages it does not have, ``426`` on its WebSocket path without an upgrade, and
nothing at all beyond the TLS handshake for a replayed session. What it answers is written
down in docs/security.md ("Active probing").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payk.net.relay import RelayConnection
from payk.protocol.address import RelayAddress
from tests.relay.harness import RelayProcess, http_get, start_relay, unverified_context

pytestmark = pytest.mark.e2e
_TLS_ALERT = 0x15


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    process = await start_relay(tmp_path / "relay", "--handshake-timeout", "2")
    yield process
    await process.terminate()


async def _exchange(port: int, data: bytes, *, wait: float = 3.0) -> bytes:
    """Send ``data`` on raw TCP; everything the server sends back until it closes or waits."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    got = b""
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                got += chunk
    writer.close()
    return got


def _records(data: bytes) -> list[tuple[int, int]]:
    """(content type, length) of each TLS record in a byte stream."""
    out, pos = [], 0
    while pos + 5 <= len(data):
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        out.append((data[pos], length))
        pos += 5 + length
    return out


async def test_random_bytes_get_silence_or_a_tls_alert(relay: RelayProcess) -> None:
    for size in (1, 64, 1500, 9000):
        answer = await _exchange(relay.address.port, os.urandom(size))
        assert answer == b"" or {t for t, _ in _records(answer)} == {_TLS_ALERT}, answer[:40]
        assert b"payk" not in answer.lower()


async def test_a_tls_hello_gets_a_standard_handshake_and_no_name(relay: RelayProcess) -> None:
    from cryptography import x509

    _, _, _, der = await http_get(relay.address, "/")
    cert = x509.load_der_x509_certificate(der)
    assert "payk" not in cert.subject.rfc4514_string().lower()
    assert "payk" not in cert.issuer.rfc4514_string().lower()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", relay.address.port, ssl=unverified_context()
    )
    assert writer.get_extra_info("ssl_object").version() == "TLSv1.3"
    writer.close()
    del reader


@pytest.mark.parametrize("path", ["/", "/index.html", "/admin", "/api/v1/users", "/.env"])
async def test_unknown_pages_are_a_plain_404(relay: RelayProcess, path: str) -> None:
    status, headers, body, _ = await http_get(relay.address, path)
    assert (status, body) == (404, b"not found\n")
    assert "server" not in headers
    assert "payk" not in repr(headers).lower()


async def test_the_websocket_path_without_an_upgrade_is_a_426(relay: RelayProcess) -> None:
    status, headers, body, _ = await http_get(relay.address, "/ws")
    assert status == 426 and headers.get("upgrade") == "websocket"
    assert b"payk" not in body.lower() and "payk" not in repr(headers).lower()


async def _record_a_session(address: RelayAddress) -> bytes:
    """The bytes a real client sends to the relay for a whole session (via a TCP tap)."""
    sent = bytearray()

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, tap: bool) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                if tap:
                    sent.extend(data)
                dst.write(data)
                await dst.drain()
        dst.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", address.port)
        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    tap = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = tap.sockets[0].getsockname()[1]
    via = RelayAddress(fingerprint=address.fingerprint, host="127.0.0.1", port=port)
    async with await RelayConnection.connect(via) as conn:
        await conn.ping()
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"recorded")
    tap.close()
    return bytes(sent)


async def test_a_replayed_session_gets_nothing_beyond_a_tls_handshake(relay: RelayProcess) -> None:
    recorded = await _record_a_session(relay.address)
    first = _records(recorded)[0]
    assert first[0] == 0x16  # the client's hello
    hello = recorded[: 5 + first[1]]
    handshake_only = await _exchange(relay.address.port, hello, wait=2.5)
    replayed = await _exchange(relay.address.port, recorded, wait=2.5)
    assert _records(handshake_only)[0][0] == 0x16  # a bare hello gets a server hello
    # The replay gets at most the handshake a bare hello gets (here: nothing at all): no
    # WebSocket upgrade, no challenge, nothing of the session.
    assert len(replayed) <= len(handshake_only) + 64, (len(handshake_only), len(replayed))


async def test_metrics_do_not_identify_the_relay_to_a_prober(relay: RelayProcess) -> None:
    status, _, body, _ = await http_get(relay.address, "/metrics")
    assert status == 404 or b"payk" not in body.lower()


def test_unverified_context_is_what_a_prober_uses() -> None:
    context = unverified_context()
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
