"""Retry with backoff, and listening: messages pushed by the relay arrive without a sync."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from payk.client import facade, outbox, sync
from payk.client.facade import RECEIPT_DELAY, Client
from payk.client.profile import unlock_profile
from payk.client.store.sqlcipher import Database
from payk.net.memory import MemoryNetwork, MemoryRelay, MemoryRelayConnection
from tests.relay.harness import start_relay


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


async def _one_relay(tmp_path: Path, *, quota: int = 10_000) -> tuple[Client, Client, MemoryRelay]:
    net = MemoryNetwork()
    relay = net.add_relay(5000)
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=[relay], network=net)
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=[relay], network=net)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    await bob.sync()
    [state] = net.relays.values()
    state.quota = quota
    return alice, bob, state


async def test_a_burst_reaches_the_relay_in_order_and_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, relay = await _one_relay(tmp_path)
    monkeypatch.setattr(bob, "_flush_soon", lambda: None)  # one flush, below, sends it all
    for i in range(3 * outbox.WINDOW + 5):
        sent = await bob.send_text("Alice", f"burst {i}", wait=False)
        assert sent.paths == 0  # stored on the device, not yet taken by a relay
    queued = [item.envelope for item in outbox.pending(bob.profile.db)]
    await bob.flush()
    assert outbox.pending_count(bob.profile.db) == 0
    assert [e for e in relay.stored() if e in set(queued)] == queued
    got = await alice.sync()
    assert sorted(m.text for m in got) == sorted(f"burst {i}" for i in range(3 * 32 + 5))
    assert all(m.paths == 1 for m in bob.history("Alice", limit=200) if m.text)
    await alice.close()
    await bob.close()


@pytest.mark.e2e
async def test_a_burst_through_a_real_relay_arrives_whole_and_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = await start_relay(tmp_path / "relay")
    try:
        alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=[relay.address])
        bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=[relay.address])
        await bob.accept(await alice.invite(), alias="Alice")
        await alice.sync()
        await bob.sync()
        monkeypatch.setattr(bob, "_flush_soon", lambda: None)  # one flush, below, sends it all
        texts = [f"burst {i}" for i in range(3 * outbox.WINDOW + 5)]
        for text in texts:
            await bob.send_text("Alice", text, wait=False)
        report = await bob.flush()
        assert report.sent == len(texts) and report.failed == 0
        assert outbox.pending_count(bob.profile.db) == 0
        got = await alice.sync()
        assert [m.text for m in got] == texts
        await alice.close()
        await bob.close()
    finally:
        await relay.terminate()


async def test_a_refusal_inside_a_window_keeps_the_rest_for_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, relay = await _one_relay(tmp_path, quota=10)
    monkeypatch.setattr(bob, "_flush_soon", lambda: None)
    for i in range(25):
        await bob.send_text("Alice", f"m {i}", wait=False)
    report = await bob.flush()
    assert report.sent == 10 and outbox.pending_count(bob.profile.db) == 15
    relay.quota = 100
    first = await alice.sync()
    await bob.flush(force=True)
    second = await alice.sync()
    texts = [m.text for m in first + second]
    assert sorted(texts) == sorted(f"m {i}" for i in range(25))  # each exactly once
    await alice.close()
    await bob.close()


async def test_sends_that_do_not_wait_are_committed_soon_while_the_relay_is_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, _ = await _one_relay(tmp_path)
    answer = asyncio.Event()
    taking = MemoryRelayConnection.send_many

    async def slow(self: MemoryRelayConnection, items: Any) -> Any:
        await answer.wait()  # the flush hangs here, holding the sends that follow
        return await taking(self, items)

    monkeypatch.setattr(MemoryRelayConnection, "send_many", slow)
    elsewhere = unlock_profile(tmp_path / "b", "pb")  # another process on the profile, say
    texts = [f"kept {i}" for i in range(5)]
    for text in texts:
        await bob.send_text("Alice", text, wait=False)

    def committed() -> list[str]:
        query = "SELECT text FROM messages WHERE text LIKE 'kept %' ORDER BY rowid_"
        return [row[0] for row in elsewhere.db.query(query)]

    async with asyncio.timeout(10):  # each send commits within COMMIT_DELAY, flush or not
        while committed() != texts:  # noqa: ASYNC110 - the commit shows in another connection
            await asyncio.sleep(facade.COMMIT_DELAY / 4)
    assert outbox.pending_count(bob.profile.db) == len(texts)  # the relay took none yet
    answer.set()
    await bob.close()
    assert [m.text for m in await alice.sync()] == texts
    elsewhere.close()
    await alice.close()


async def test_a_send_still_deferred_is_kept_when_the_client_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, _ = await _one_relay(tmp_path)
    monkeypatch.setattr(bob, "_flush_soon", lambda: None)  # neither a flush nor the timer
    monkeypatch.setattr(bob, "_commit_soon", lambda: None)  # commits it before the close
    await bob.send_text("Alice", "written, not yet committed", wait=False)
    await bob.close()
    again = Client.open(tmp_path / "b", "pb", network=bob.pool.network)
    assert [m.text for m in again.history("Alice")][-1] == "written, not yet committed"
    await again.flush()
    assert [m.text for m in await alice.sync()] == ["written, not yet committed"]
    await again.close()
    await alice.close()


async def test_close_waits_for_the_background_flush(tmp_path: Path) -> None:
    alice, bob, _ = await _one_relay(tmp_path)
    await bob.send_text("Alice", "sent by the background flush", wait=False)
    await bob.close()
    assert [m.text for m in await alice.sync()] == ["sent by the background flush"]
    await alice.close()


async def test_listening_sends_one_receipt_for_a_burst(tmp_path: Path) -> None:
    alice, bob, relay = await _one_relay(tmp_path)
    stream = alice.listen()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    for i in range(20):
        await bob.send_text("Alice", f"quick {i}", wait=False)
    await bob.flush()
    got = [await asyncio.wait_for(first, timeout=10)]
    while len(got) < 20:
        got.append(await asyncio.wait_for(anext(stream), timeout=10))
    assert sorted(m.text for m in got) == sorted(f"quick {i}" for i in range(20))

    async def receipts_arrived() -> None:
        while not relay.stored():  # noqa: ASYNC110 - Alice acked every push; the rest is Bob's
            await asyncio.sleep(0.02)

    await asyncio.wait_for(receipts_arrived(), timeout=10)
    await asyncio.sleep(RECEIPT_DELAY * 2)  # a second batch, if the burst was split
    assert 1 <= len(relay.stored()) <= 2  # one receipt per gathered batch, not twenty
    await bob.sync()
    assert all(m.status == "delivered" for m in bob.history("Alice", limit=50) if m.outgoing)
    await stream.aclose()
    await alice.close()
    await bob.close()


async def test_listen_picks_up_mailboxes_made_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facade, "MAILBOX_CHECK", 0.05)
    net = MemoryNetwork()
    relays = [net.add_relay(5000)]
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=relays, network=net)
    carol = Client.create(tmp_path / "c", "pc", name="Carol", relays=relays, network=net)
    stream = alice.listen()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)  # listening, with no mailbox at all yet
    link = await alice.invite()  # a new mailbox, made after listen started
    await carol.accept(link, alias="Alice")
    await carol.send_text("Alice", "found you")
    message = await asyncio.wait_for(first, timeout=10)
    while message.text != "found you":
        message = await asyncio.wait_for(anext(stream), timeout=10)
    assert message.sender == "Carol"
    await stream.aclose()
    await alice.close()
    await carol.close()


async def test_an_ack_leaves_only_after_the_commits_it_covers_are_durable(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", b"\x07" * 32)
    acked = asyncio.Event()
    durable_at_ack: list[bool] = []

    class Link:
        async def ack(self, creds: object, ids: list[bytes], *, quiet: bool = False) -> None:
            synced = db.one("SELECT 1 FROM meta WHERE key = 'synced'") is not None
            durable_at_ack.append(synced)
            acked.set()

    with db.transaction(durable=False):  # as listen commits a batch of pushes
        db.execute("INSERT INTO meta (key, value) VALUES ('pushed', 'x')")
    acks = sync._Acks(Link(), db)  # type: ignore[arg-type]
    acks.add(b"mailbox", object(), b"envelope")
    await asyncio.wait_for(acked.wait(), timeout=10)
    await acks.close()
    assert durable_at_ack == [True]
    db.close()
