"""Store-and-forward between two relay processes, including a target that is down at first."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from payk.net.relay import Delivery, MailboxCreds, RelayConnection
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.relay.tls import load_or_create_identity
from tests.relay.harness import RelayProcess, http_get, start_relay

pytestmark = pytest.mark.e2e
FAST_RETRY = ("--forward-retry-min", "1", "--forward-retry-max", "2", "--metrics-path", "/metrics")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _next_push(conn: RelayConnection, creds: MailboxCreds) -> Delivery:
    await conn.subscribe(creds)
    async with asyncio.timeout(20):
        async for delivery in conn.deliveries():
            return delivery
    raise AssertionError("the push stream ended")


async def test_forward_reaches_a_mailbox_on_another_relay(tmp_path: Path) -> None:
    a = await start_relay(tmp_path / "a", *FAST_RETRY)
    b = await start_relay(tmp_path / "b")
    try:
        async with (
            await RelayConnection.connect(b.address) as owner,
            await RelayConnection.connect(a.address) as sender,
        ):
            box = await owner.create_mailbox()
            await sender.forward(MailboxAddress(relay=b.address, send_id=box.send_id), b"hop")
            assert (await _next_push(owner, box)).envelope == b"hop"
    finally:
        await a.terminate()
        await b.terminate()


async def test_forward_waits_for_a_relay_that_is_down(tmp_path: Path) -> None:
    port = _free_port()
    b_data = tmp_path / "b"
    b_address = RelayAddress(
        fingerprint=load_or_create_identity(b_data).fingerprint, host="127.0.0.1", port=port
    )
    listen = f"127.0.0.1:{port}"
    b: RelayProcess | None = await start_relay(b_data, listen=listen)
    assert b is not None and b.address == b_address
    async with await RelayConnection.connect(b.address) as owner:
        box = await owner.create_mailbox()
    assert await b.terminate() == 0
    a = await start_relay(tmp_path / "a", *FAST_RETRY)
    try:
        async with await RelayConnection.connect(a.address) as sender:
            await sender.forward(MailboxAddress(relay=b_address, send_id=box.send_id), b"later")
        b = await start_relay(b_data, listen=listen)
        async with await RelayConnection.connect(b.address) as owner:
            assert (await _next_push(owner, box)).envelope == b"later"
            assert len(await owner.fetch(box)) == 1  # delivered once, not once per retry
    finally:
        await a.terminate()
        await b.terminate()


async def test_forward_to_an_unknown_mailbox_is_dropped_not_retried(tmp_path: Path) -> None:
    a = await start_relay(tmp_path / "a", *FAST_RETRY)
    b = await start_relay(tmp_path / "b")
    try:
        async with await RelayConnection.connect(a.address) as sender:
            await sender.forward(MailboxAddress(relay=b.address, send_id=bytes(16)), b"nobody")
            async with asyncio.timeout(20):
                while 'payk_relay_forwards_total{outcome="dropped"} 1.0' not in (await _metrics(a)):
                    await sender.ping()
                    await asyncio.sleep(0.2)
    finally:
        await a.terminate()
        await b.terminate()


async def _metrics(relay: RelayProcess) -> str:
    return (await http_get(relay.address, "/metrics"))[2].decode()
