"""Durability: SIGKILL the relay while clients send; nothing it acknowledged is ever lost.

Each round starts the relay on the same SQLite data folder, lets several clients send as fast
as they can, kills the process with SIGKILL once some sends were acknowledged (others are in
flight), restarts it, and checks that every acknowledged envelope is there.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from payk.errors import NetworkError
from payk.net.relay import MailboxCreds, RelayConnection
from tests.relay.harness import RelayProcess, start_relay

pytestmark = pytest.mark.e2e
ROUNDS = 20
CLIENTS = 4


async def _send_until_cut(
    relay: RelayProcess, box: MailboxCreds, tag: str, acked: set[bytes], enough: asyncio.Event
) -> None:
    try:
        async with await RelayConnection.connect(relay.address) as conn:
            for i in range(100_000):
                body = f"{tag}-{i}".encode()
                await conn.send(box.send_id, body)
                acked.add(body)
                if len(acked) >= 10:
                    enough.set()
    except NetworkError:
        return  # the relay was killed mid-flight


async def _fetch_all(relay: RelayProcess, boxes: list[MailboxCreds]) -> set[bytes]:
    found: set[bytes] = set()
    async with await RelayConnection.connect(relay.address) as conn:
        for box in boxes:
            while batch := await conn.fetch(box, limit=500):
                found.update(d.envelope for d in batch)
                await conn.ack(box, [d.id for d in batch])
    return found


@pytest.mark.timeout(120)
async def test_sigkill_loses_no_acknowledged_envelope(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    relay = await start_relay(data)
    async with await RelayConnection.connect(relay.address) as conn:
        boxes = [await conn.create_mailbox() for _ in range(CLIENTS)]
    rng = random.Random(7)
    total = 0
    try:
        for round_ in range(ROUNDS):
            acked: set[bytes] = set()
            enough = asyncio.Event()
            senders = [
                asyncio.create_task(_send_until_cut(relay, box, f"{round_}.{n}", acked, enough))
                for n, box in enumerate(boxes)
            ]
            await asyncio.wait_for(enough.wait(), 20)
            await asyncio.sleep(rng.random() * 0.05)  # kill at a random moment mid-flight
            await relay.kill()
            snapshot = set(acked)
            await asyncio.wait_for(asyncio.gather(*senders), 20)
            relay = await start_relay(data)
            found = await _fetch_all(relay, boxes)
            assert snapshot <= found, f"round {round_}: lost {sorted(snapshot - found)[:5]}"
            assert acked <= found
            total += len(acked)
    finally:
        await relay.terminate()
    assert total >= ROUNDS * 10
