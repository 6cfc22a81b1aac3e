"""Bad input, one test per class: each gets an error answer or a disconnect, never a crash.

After every attack the relay must still serve a well-behaved client (``_still_serves``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from payk.errors import NetworkError
from payk.net.relay import RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol.primitives import sign
from tests.relay.harness import (
    RelayProcess,
    http_get,
    raw_websocket,
    start_relay,
    unverified_context,
)

pytestmark = pytest.mark.e2e
REQUESTS = mb.request_codec()
ANSWERS = mb.response_codec()
CLOSED_WITHIN = 15.0


@pytest.fixture
async def strict_relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    """A relay with short timeouts and a small rate limit, so attacks end quickly."""
    process = await start_relay(
        tmp_path / "relay",
        "--handshake-timeout",
        "1",
        "--idle-timeout",
        "2",
        "--ping-interval",
        "2",
        "--rate",
        "50",
        "--burst",
        "50",
    )
    yield process
    assert await process.terminate() == 0, process.log()


async def _ask(ws: ClientConnection, frame: bytes | str) -> mb.Response:
    await ws.send(frame)
    return ANSWERS.decode(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[arg-type]


async def _still_serves(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"fine")
        assert [d.envelope for d in await conn.fetch(box)] == [b"fine"]


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            while await reader.read(4096):
                pass
    except (ConnectionError, OSError):
        pass
    return True


async def test_garbage_bytes_on_the_tcp_socket(strict_relay: RelayProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_relay.address.port)
    writer.write(os.urandom(4096))
    await writer.drain()
    assert await _closed_by_server(reader)
    writer.close()
    await _still_serves(strict_relay)


async def test_garbage_http_after_tls(strict_relay: RelayProcess) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", strict_relay.address.port, ssl=unverified_context()
    )
    writer.write(b"\x00\xffNOT HTTP AT ALL\r\n\r\n" + os.urandom(200))
    await writer.drain()
    assert await _closed_by_server(reader)
    writer.close()
    await _still_serves(strict_relay)


async def test_garbage_frames_get_malformed_answers(strict_relay: RelayProcess) -> None:
    ws, _ = await raw_websocket(strict_relay)
    async with ws:
        for frame in (os.urandom(300), b"\x01", b"\x01\x00\x00\x00\x00\xc1"):
            answer = await _ask(ws, frame)
            assert isinstance(answer, mb.Error) and answer.code == "MALFORMED"
        answer = await _ask(ws, "a text frame")
        assert isinstance(answer, mb.Error) and answer.code == "MALFORMED"
        assert await _ask(ws, REQUESTS.encode(mb.Ping(rid=7))) == mb.Ok(rid=7)
    await _still_serves(strict_relay)


async def test_half_a_tls_hello_then_silence_is_cut_off(strict_relay: RelayProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_relay.address.port)
    writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello, cut short
    await writer.drain()
    assert await _closed_by_server(reader)
    writer.close()


async def test_half_an_http_request_then_silence_is_cut_off(strict_relay: RelayProcess) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", strict_relay.address.port, ssl=unverified_context()
    )
    writer.write(b"GET /ws HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n")
    await writer.drain()
    assert await _closed_by_server(reader)
    writer.close()
    await _still_serves(strict_relay)


async def test_half_a_websocket_frame_then_silence_is_cut_off(strict_relay: RelayProcess) -> None:
    ws, _ = await raw_websocket(strict_relay)
    ws.transport.write(b"\x82\xfe\x01\x00" + b"mask" + b"only part of the payload")
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(CLOSED_WITHIN):
            await ws.recv()
    await _still_serves(strict_relay)


async def test_a_connection_gone_quiet_without_subscriptions_is_closed_as_idle(
    strict_relay: RelayProcess,
) -> None:
    ws, _ = await raw_websocket(strict_relay)
    for rid in range(1, 4):
        assert await _ask(ws, REQUESTS.encode(mb.Ping(rid=rid))) == mb.Ok(rid=rid)
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(CLOSED_WITHIN):
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    await _still_serves(strict_relay)


async def test_oversized_frame_is_refused_from_its_header(strict_relay: RelayProcess) -> None:
    ws, _ = await raw_websocket(strict_relay)
    # Only the header of a 100 MB frame is sent: the relay must refuse without the body.
    ws.transport.write(b"\x82\xff" + struct.pack(">Q", 100 * 1024 * 1024) + b"mask")
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(CLOSED_WITHIN):
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    await _still_serves(strict_relay)


async def test_oversized_envelope_in_a_legal_frame_is_malformed(
    strict_relay: RelayProcess,
) -> None:
    ws, _ = await raw_websocket(strict_relay)
    async with ws:
        body = msgspec.msgpack.encode(["se", 3, b"s" * 16, b"x" * (mb.MAX_ENVELOPE + 10)])
        answer = await _ask(ws, b"\x01\x00\x00\x00\x00" + body)
        assert isinstance(answer, mb.Error) and answer.code == "MALFORMED" and answer.rid == 3


async def test_wrong_signature_is_unauthorized(strict_relay: RelayProcess) -> None:
    async with await RelayConnection.connect(strict_relay.address) as conn:
        box = await conn.create_mailbox()
    ws, _ = await raw_websocket(strict_relay)
    async with ws:
        forged = REQUESTS.encode(mb.Auth(rid=1, recv_id=box.recv_id, sig=bytes(64)))
        answer = await _ask(ws, forged)
        assert isinstance(answer, mb.Error) and answer.code == "UNAUTHORIZED"
        fetch = await _ask(ws, REQUESTS.encode(mb.Fetch(rid=2, recv_id=box.recv_id)))
        assert isinstance(fetch, mb.Error) and fetch.code == "UNAUTHORIZED"


async def test_unknown_command_is_named_with_its_request_id(strict_relay: RelayProcess) -> None:
    ws, _ = await raw_websocket(strict_relay)
    async with ws:
        frame = b"\x01\x00\x00\x00\x00" + msgspec.msgpack.encode(["launch", 41, "missiles"])
        answer = await _ask(ws, frame)
        assert answer == mb.Error(rid=41, code="UNKNOWN_COMMAND", detail=answer.detail)  # type: ignore[union-attr]
        assert await _ask(ws, REQUESTS.encode(mb.Ping(rid=42))) == mb.Ok(rid=42)


async def test_replayed_auth_from_an_old_connection_fails(strict_relay: RelayProcess) -> None:
    async with await RelayConnection.connect(strict_relay.address) as conn:
        creds = await conn.create_mailbox()
    old, old_challenge = await raw_websocket(strict_relay)
    signature = sign(creds.auth_seed, mb.auth_message(old_challenge.nonce, creds.recv_id))
    auth = REQUESTS.encode(mb.Auth(rid=1, recv_id=creds.recv_id, sig=signature))
    async with old:
        assert await _ask(old, auth) == mb.Ok(rid=1)
    new, new_challenge = await raw_websocket(strict_relay)
    assert new_challenge.nonce != old_challenge.nonce
    async with new:
        replayed = await _ask(new, auth)
        assert isinstance(replayed, mb.Error) and replayed.code == "UNAUTHORIZED"


async def _ping_latencies(conn: RelayConnection, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        await conn.ping()
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.01)  # a person's pace, inside the rate limit
    return latencies


async def test_a_flood_is_limited_and_others_are_still_served(strict_relay: RelayProcess) -> None:
    async with await RelayConnection.connect(strict_relay.address) as other:
        before = statistics.median(await _ping_latencies(other, 20))
        flooder, _ = await raw_websocket(strict_relay)
        answers: list[mb.Response] = []

        async def flood() -> None:
            ping = REQUESTS.encode(mb.Ping(rid=1))
            try:
                for _ in range(5000):
                    await flooder.send(ping)
            except ConnectionClosed:
                pass

        async def drain() -> None:
            try:
                async for frame in flooder:
                    answers.append(ANSWERS.decode(frame))  # type: ignore[arg-type]
            except ConnectionClosed:
                pass

        flooding = asyncio.gather(flood(), drain())
        during = statistics.median(await _ping_latencies(other, 20))
        await asyncio.wait_for(flooding, 30)
        assert flooder.close_code == 1008  # disconnected for flooding
        codes = {a.code for a in answers if isinstance(a, mb.Error)}
        assert codes == {"RATE_LIMITED"}
        assert sum(isinstance(a, mb.Ok) for a in answers) <= 60
        assert during <= max(2 * before, before + 0.02), (before, during)
    await _still_serves(strict_relay)


async def test_other_http_methods_and_paths_are_refused(strict_relay: RelayProcess) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", strict_relay.address.port, ssl=unverified_context()
    )
    writer.write(b"POST /ws HTTP/1.1\r\nHost: relay\r\nContent-Length: 5\r\n\r\nhello")
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), CLOSED_WITHIN)
    writer.close()
    assert not reply.startswith(b"HTTP/1.1 101") and not reply.startswith(b"HTTP/1.1 200")
    status, _, _, _ = await http_get(strict_relay.address, "/ws")  # no Upgrade header
    assert status == 426
    await _still_serves(strict_relay)


async def test_connections_beyond_the_limit_are_turned_away(tmp_path: Path) -> None:
    relay = await start_relay(tmp_path / "relay", "--max-connections", "2")
    try:
        first = await RelayConnection.connect(relay.address)
        second = await RelayConnection.connect(relay.address)
        with pytest.raises(NetworkError):
            await RelayConnection.connect(relay.address)
        await first.close()
        async with asyncio.timeout(10):  # the slot frees once the relay sees the close
            while True:
                try:
                    third = await RelayConnection.connect(relay.address)
                    break
                except NetworkError:
                    await asyncio.sleep(0.1)
        await third.ping()
        await third.close()
        await second.close()
    finally:
        assert await relay.terminate() == 0


async def test_many_slow_clients_do_not_slow_the_others(strict_relay: RelayProcess) -> None:
    async with await RelayConnection.connect(strict_relay.address) as other:
        before = statistics.median(await _ping_latencies(other, 20))
        slow = [
            await asyncio.open_connection("127.0.0.1", strict_relay.address.port)
            for _ in range(100)
        ]
        for _, writer in slow:
            writer.write(b"\x16\x03\x01\x02\x00\x01")  # a TLS record header, then nothing
        during = statistics.median(await _ping_latencies(other, 20))
        for reader, writer in slow:
            assert await _closed_by_server(reader)
            writer.close()
        assert during <= max(2 * before, before + 0.02), (before, during)
        await other.ping()
