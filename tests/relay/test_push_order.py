"""Pushes to a subscribed session: every envelope once, in each sender's order, none lost.

The relay hands an envelope it has just stored in a caught-up mailbox straight to the push
task and fetches from the store otherwise (on subscribe, after a wake-up from another
process, while a backlog of ``PUSH_BATCH`` unacked pushes waits). These tests drive both
paths, alone and interleaved, over the in-memory and SQLite stores (SQLite commits in
batches on its own thread, so wake-ups and fetches interleave as they do in production), and
with batching on (``Subscribe.many``), where the same pushes go out grouped in ``Pushes``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payk.protocol import mailbox as mb
from payk.relay import service as service_module
from payk.relay.service import PUSH_BATCH, RelayService
from payk.relay.store import RelayStore, StoredEnvelope
from payk.relay.store.memory import MemoryStore
from payk.relay.store.sqlite import SqliteStore
from tests.relay.harness import flat_pushes
from tests.relay.test_service import Owned, Pair

DEADLINE = 30.0


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RelayStore]:
    made: RelayStore = (
        MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "r.db")
    )
    await made.open()
    yield made
    await made.close()


class Fetches:
    """Counts the store reads behind pushes."""

    def __init__(self, store: RelayStore) -> None:
        self.count = 0
        original = store.fetch

        async def counted(recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
            self.count += 1
            return await original(recv_id, limit=limit, now=now)

        store.fetch = counted  # type: ignore[method-assign]


async def _subscribed(service: RelayService) -> tuple[Pair, Pair, Owned]:
    owner, contact = Pair(service), Pair(service)
    box = await owner.create()
    await owner.auth(box)
    return owner, contact, box


async def _send(contact: Pair, box: Owned, body: bytes) -> None:
    answer = await contact.ask(mb.Send, send_id=box.send_id, body=body)
    assert isinstance(answer, mb.Ok), answer


def _bodies(pushes: list[mb.Push]) -> list[bytes]:
    return [p.item.body for p in pushes]


async def test_a_caught_up_mailbox_is_pushed_without_reading_the_store(
    store: RelayStore,
) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    assert await service.pending_pushes(owner.session) == []
    fetches = Fetches(store)
    for i in range(5):
        await _send(contact, box, b"m%d" % i)
    assert _bodies(await service.pending_pushes(owner.session)) == [b"m%d" % i for i in range(5)]
    assert fetches.count == 0
    assert await service.pending_pushes(owner.session) == []


async def test_an_envelope_sent_before_the_first_fetch_is_pushed_once(store: RelayStore) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    await _send(contact, box, b"old")
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    await _send(contact, box, b"new")  # offered while the subscribe's fetch is still due
    assert _bodies(await service.pending_pushes(owner.session)) == [b"old", b"new"]
    assert await service.pending_pushes(owner.session) == []


async def test_envelopes_behind_a_backlog_wait_for_it_in_order(store: RelayStore) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    for i in range(PUSH_BATCH + 20):
        await _send(contact, box, b"%d" % i)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    first = await service.pending_pushes(owner.session)
    assert _bodies(first) == [b"%d" % i for i in range(PUSH_BATCH)]
    await _send(contact, box, b"late")  # the mailbox is not caught up: no push yet
    assert await service.pending_pushes(owner.session) == []
    await owner.ask(mb.Ack, recv_id=box.recv_id, ids=[p.item.id for p in first])
    rest = await service.pending_pushes(owner.session)
    assert _bodies(rest) == [b"%d" % i for i in range(PUSH_BATCH, PUSH_BATCH + 20)] + [b"late"]
    await _send(contact, box, b"later")  # caught up again: pushed directly
    assert _bodies(await service.pending_pushes(owner.session)) == [b"later"]


async def test_unacked_pushes_stop_at_one_batch_then_flow_after_acks(store: RelayStore) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    pushed: list[mb.Push] = []
    for i in range(PUSH_BATCH + 30):
        await _send(contact, box, b"%d" % i)
        pushed += await service.pending_pushes(owner.session)
    assert _bodies(pushed) == [b"%d" % i for i in range(PUSH_BATCH)]
    await owner.ask(mb.Ack, recv_id=box.recv_id, ids=[p.item.id for p in pushed[:10]])
    more = await service.pending_pushes(owner.session)
    assert _bodies(more) == [b"%d" % i for i in range(PUSH_BATCH, PUSH_BATCH + 10)]


async def test_nothing_is_pushed_after_unsubscribing(store: RelayStore) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    assert await service.pending_pushes(owner.session) == []
    await _send(contact, box, b"a")
    await owner.ask(mb.Unsubscribe, recv_id=box.recv_id)
    assert await service.pending_pushes(owner.session) == []
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    await _send(contact, box, b"b")
    assert _bodies(await service.pending_pushes(owner.session)) == [b"a", b"b"]


async def test_with_batching_on_a_backlog_comes_in_one_frame_then_single_pushes(
    store: RelayStore,
) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    for i in range(PUSH_BATCH + 20):
        await _send(contact, box, b"%d" % i)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id, many=True)
    first = await service.pending_frames(owner.session)
    assert [type(frame) for frame in first] == [mb.Pushes]
    assert _bodies(flat_pushes(first)) == [b"%d" % i for i in range(PUSH_BATCH)]
    await _send(contact, box, b"late")  # behind the backlog: waits for the acks
    assert await service.pending_frames(owner.session) == []
    await owner.ask(mb.Ack, recv_id=box.recv_id, ids=[p.item.id for p in flat_pushes(first)])
    rest = await service.pending_frames(owner.session)
    assert [type(frame) for frame in rest] == [mb.Pushes]
    assert _bodies(flat_pushes(rest)) == [b"%d" % i for i in range(PUSH_BATCH, PUSH_BATCH + 20)] + [
        b"late"
    ]
    await _send(contact, box, b"later")  # caught up, alone: a plain Push
    later = await service.pending_frames(owner.session)
    assert [type(frame) for frame in later] == [mb.Push]
    assert _bodies(flat_pushes(later)) == [b"later"]


async def test_without_batching_every_frame_is_a_single_push(store: RelayStore) -> None:
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    for i in range(5):
        await _send(contact, box, b"%d" % i)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)  # an older client: many defaults off
    frames = await service.pending_frames(owner.session)
    assert [type(frame) for frame in frames] == [mb.Push] * 5
    assert _bodies(flat_pushes(frames)) == [b"%d" % i for i in range(5)]


@pytest.mark.parametrize("many", [False, True], ids=["push", "pushes"])
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_growing_backlog_acked_as_it_arrives_is_delivered_once_in_order(
    store: RelayStore, seed: int, many: bool
) -> None:
    """A push task, an acking owner and three senders run at once against one mailbox.

    The mailbox starts with more than ``PUSH_BATCH`` envelopes and keeps filling while acks
    come in. Every envelope must reach the owner exactly once, each sender's in its order,
    whether the session gets its pushes one per frame or grouped (``many``).
    """
    rng = random.Random(seed)
    service = RelayService(store)
    owner, _, box = await _subscribed(service)
    senders = [Pair(service) for _ in range(3)]
    backlog = PUSH_BATCH + 50
    for i in range(backlog):
        await _send(senders[0], box, b"0:%04d" % i)
    per_sender = 120
    expected = backlog + 3 * per_sender
    received: list[mb.Push] = []
    unacked: list[bytes] = []
    arrived, complete = asyncio.Event(), asyncio.Event()
    grouped = 0

    async def push_task() -> None:  # as the server's push loop
        nonlocal grouped
        while True:
            await owner.session.wake_event.wait()
            frames = await service.pending_frames(owner.session)
            grouped += sum(isinstance(frame, mb.Pushes) for frame in frames)
            for push in flat_pushes(frames):
                received.append(push)
                unacked.append(push.item.id)
                arrived.set()
                if len(received) >= expected:
                    complete.set()
                if rng.random() < 0.3:
                    await asyncio.sleep(0)  # a send to the socket may yield

    async def acker() -> None:
        while True:
            await arrived.wait()
            arrived.clear()
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            take = rng.randrange(1, len(unacked) + 1) if unacked else 0
            ids, unacked[:take] = unacked[:take], []
            if ids:
                answer = await owner.ask(mb.Ack, recv_id=box.recv_id, ids=ids)
                assert isinstance(answer, mb.Ok)
            if unacked:
                arrived.set()

    async def sender(index: int) -> None:
        start = backlog if index == 0 else 0
        for i in range(start, start + per_sender):
            await _send(senders[index], box, b"%d:%04d" % (index, i))
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)

    await owner.ask(mb.Subscribe, recv_id=box.recv_id, many=many)
    helpers = [asyncio.create_task(push_task()), asyncio.create_task(acker())]
    try:
        await asyncio.wait_for(asyncio.gather(*(sender(i) for i in range(3))), DEADLINE)
        await asyncio.wait_for(complete.wait(), DEADLINE)
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)

    bodies = _bodies(received)
    assert len(bodies) == len(set(bodies)) == expected, "an envelope was pushed twice or lost"
    assert len({p.item.id for p in received}) == expected
    for index in range(3):
        mine = [b for b in bodies if b.startswith(b"%d:" % index)]
        assert mine == sorted(mine), f"sender {index}'s envelopes were pushed out of order"
    assert await service.pending_pushes(owner.session) == []
    assert (grouped > 0) == many  # the first read alone holds PUSH_BATCH envelopes


async def test_a_wake_up_from_another_process_during_a_read_keeps_the_order(
    tmp_path: Path,
) -> None:
    """An envelope stored elsewhere (woken, no body) is pushed before a later one stored here."""
    store, elsewhere = SqliteStore(tmp_path / "r.db"), SqliteStore(tmp_path / "r.db")
    await store.open()
    await elsewhere.open()
    try:
        service = RelayService(store)
        owner, contact, box = await _subscribed(service)
        other_box = await owner.create()
        await owner.auth(other_box)
        for recv_id in (box.recv_id, other_box.recv_id):
            await owner.ask(mb.Subscribe, recv_id=recv_id)
        assert await service.pending_pushes(owner.session) == []
        reading, gate = asyncio.Event(), asyncio.Event()
        original = store.fetch

        async def gated(recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
            if recv_id == other_box.recv_id:
                reading.set()
                await gate.wait()
            return await original(recv_id, limit=limit, now=now)

        store.fetch = gated  # type: ignore[method-assign]
        service.hub.notify(other_box.recv_id)
        first_round = asyncio.create_task(service.pending_pushes(owner.session))
        await asyncio.wait_for(reading.wait(), DEADLINE)
        await elsewhere.enqueue(box.send_id, b"first", now=int(time.time()))
        service.hub.notify(box.recv_id)  # as the PostgreSQL listener would: no envelope
        await _send(contact, box, b"second")  # stored here: offered with its body
        gate.set()
        pushes = await asyncio.wait_for(first_round, DEADLINE)
        pushes += await service.pending_pushes(owner.session)
        assert _bodies(pushes) == [b"first", b"second"]
    finally:
        await elsewhere.close()
        await store.close()


async def test_offers_beyond_the_direct_queue_fall_back_to_a_read(
    store: RelayStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "DIRECT_QUEUE", 3)
    service = RelayService(store)
    owner, contact, box = await _subscribed(service)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    assert await service.pending_pushes(owner.session) == []
    fetches = Fetches(store)
    for i in range(8):
        await _send(contact, box, b"m%d" % i)
    assert len(owner.session.direct) == 3
    assert _bodies(await service.pending_pushes(owner.session)) == [b"m%d" % i for i in range(8)]
    assert fetches.count == 1
