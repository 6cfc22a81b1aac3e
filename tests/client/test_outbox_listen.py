"""Retry with backoff, and listening: messages pushed by the relay arrive without a sync."""

from __future__ import annotations

import asyncio
from pathlib import Path

from payk.client import outbox
from payk.client.facade import Client
from payk.net.memory import MemoryNetwork


async def _connected(tmp_path: Path) -> tuple[Client, Client, MemoryNetwork]:
    net = MemoryNetwork()
    relays = [net.add_relay(5000), net.add_relay(5001)]
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=relays, network=net)
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=relays, network=net)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    await bob.sync()
    return alice, bob, net


async def test_failed_envelopes_wait_for_their_backoff(tmp_path: Path) -> None:
    alice, bob, net = await _connected(tmp_path)
    down = next(iter(net.relays))
    net.down.add(down)
    assert (await bob.send_text("Alice", "one relay is down")).paths == 1
    [waiting] = outbox.pending(bob.profile.db)
    assert waiting.attempts == 1 and waiting.relay == str(down)
    net.down.clear()
    bob.pool.forget_errors()
    db, pool = bob.profile.db, bob.pool
    early = await outbox.flush(db, pool, now=0.0, retry_base=2.0, retry_max=60.0)
    assert early.sent == 0 and outbox.pending_count(db) == 1
    due = await outbox.flush(db, pool, now=4e12, retry_base=2.0, retry_max=60.0)
    assert due.sent == 1 and outbox.pending_count(db) == 0
    assert bob.history("Alice")[-1].paths == 2
    await alice.close()
    await bob.close()


async def test_backoff_grows_and_is_capped() -> None:
    backoff = outbox._Backoff(now=100.0, base=2.0, maximum=60.0)
    assert [backoff.next_at(n) - 100.0 for n in (1, 2, 3, 10)] == [4.0, 8.0, 16.0, 60.0]


async def test_listen_yields_pushed_messages(tmp_path: Path) -> None:
    alice, bob, _ = await _connected(tmp_path)
    stream = alice.listen()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await bob.send_text("Alice", "pushed, not polled")
    message = await asyncio.wait_for(first, timeout=10)
    assert message.text == "pushed, not polled" and message.sender == "Bob"
    await stream.aclose()
    assert await alice.sync() == []
    await alice.close()
    await bob.close()


async def test_sync_wait_returns_as_soon_as_something_arrives(tmp_path: Path) -> None:
    alice, bob, _ = await _connected(tmp_path)
    waiting = asyncio.ensure_future(alice.sync(wait=60))
    await asyncio.sleep(0)
    await bob.send_text("Alice", "worth the wait")
    got = await asyncio.wait_for(waiting, timeout=30)
    assert [m.text for m in got] == ["worth the wait"]
    assert await alice.sync(wait=0) == []
    await alice.close()
    await bob.close()
