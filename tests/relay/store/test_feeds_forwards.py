"""Conformance: feeds, the forward queue and wake-ups on every backend."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from payk.relay.store import (
    FORWARD_LEASE_SECONDS,
    AlreadyExists,
    FeedEntry,
    Limits,
    QuotaExceeded,
    RelayStore,
    UnknownFeed,
)
from tests.relay.store.conftest import Opener, create

NOW = 1_000
TARGET = "payk://AAAA@relay.example:443"


async def new_feed(store: RelayStore) -> tuple[bytes, bytes]:
    feed_id, writer = secrets.token_bytes(16), secrets.token_bytes(32)
    await store.create_feed(feed_id=feed_id, writer_key=writer, now=NOW)
    return feed_id, writer


async def test_feed_appends_get_dense_offsets(store: RelayStore) -> None:
    feed_id, writer = await new_feed(store)
    assert await store.feed_writer(feed_id) == writer
    offsets = [await store.append(feed_id, b"post %d" % n, now=NOW) for n in range(4)]
    assert offsets == [0, 1, 2, 3]
    assert await store.read_feed(feed_id, offset=0, limit=10) == [
        FeedEntry(offset=n, body=b"post %d" % n) for n in range(4)
    ]


async def test_read_feed_from_an_offset_with_a_limit(store: RelayStore) -> None:
    feed_id, _ = await new_feed(store)
    for n in range(5):
        await store.append(feed_id, bytes([n]), now=NOW)
    assert [e.offset for e in await store.read_feed(feed_id, offset=2, limit=2)] == [2, 3]
    assert await store.read_feed(feed_id, offset=5, limit=10) == []
    assert await store.read_feed(feed_id, offset=0, limit=0) == []


async def test_feeds_are_independent(store: RelayStore) -> None:
    first, _ = await new_feed(store)
    second, _ = await new_feed(store)
    await store.append(first, b"a", now=NOW)
    assert await store.append(second, b"b", now=NOW) == 0
    assert await store.read_feed(second, offset=0, limit=10) == [FeedEntry(offset=0, body=b"b")]


async def test_unknown_and_duplicate_feeds(store: RelayStore) -> None:
    feed_id, _ = await new_feed(store)
    with pytest.raises(AlreadyExists):
        await store.create_feed(feed_id=feed_id, writer_key=b"k" * 32, now=NOW)
    assert await store.feed_writer(feed_id) != b"k" * 32
    unknown = secrets.token_bytes(16)
    assert await store.feed_writer(unknown) is None
    with pytest.raises(UnknownFeed):
        await store.append(unknown, b"x", now=NOW)
    with pytest.raises(UnknownFeed):
        await store.read_feed(unknown, offset=0, limit=1)
    assert (await store.stats())["feeds"] == 1


async def test_full_feed_refuses_appends(open_store_: Opener) -> None:
    store = await open_store_(Limits(feed_max_count=2))
    feed_id, _ = await new_feed(store)
    await store.append(feed_id, b"0", now=NOW)
    await store.append(feed_id, b"1", now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.append(feed_id, b"2", now=NOW)
    assert len(await store.read_feed(feed_id, offset=0, limit=10)) == 2


async def test_concurrent_appends_get_distinct_offsets(store: RelayStore) -> None:
    feed_id, _ = await new_feed(store)
    offsets = await asyncio.gather(*(store.append(feed_id, b"x", now=NOW) for _ in range(30)))
    assert sorted(offsets) == list(range(30))


async def test_forward_job_lifecycle(store: RelayStore) -> None:
    job_id = await store.enqueue_forward(target=TARGET, send_id=b"s" * 16, body=b"env", now=NOW)
    (job,) = await store.due_forwards(now=NOW, limit=10)
    assert (job.id, job.target, job.send_id, job.body, job.attempts) == (
        job_id,
        TARGET,
        b"s" * 16,
        b"env",
        0,
    )
    assert await store.due_forwards(now=NOW, limit=10) == [], "a claimed job is leased"
    await store.forward_retry(job_id, next_at=NOW + 30)
    assert await store.due_forwards(now=NOW + 29, limit=10) == []
    (again,) = await store.due_forwards(now=NOW + 30, limit=10)
    assert again.attempts == 1
    await store.forward_done(job_id)
    assert await store.due_forwards(now=NOW + 10_000, limit=10) == []
    assert (await store.stats())["forwards"] == 0


async def test_a_lost_claim_comes_back_after_the_lease(store: RelayStore) -> None:
    await store.enqueue_forward(target=TARGET, send_id=b"s" * 16, body=b"env", now=NOW)
    assert len(await store.due_forwards(now=NOW, limit=10)) == 1
    assert await store.due_forwards(now=NOW + FORWARD_LEASE_SECONDS - 1, limit=10) == []
    assert len(await store.due_forwards(now=NOW + FORWARD_LEASE_SECONDS, limit=10)) == 1


async def test_due_forwards_oldest_first_and_limited(store: RelayStore) -> None:
    ids = [
        await store.enqueue_forward(target=TARGET, send_id=bytes([n]) * 16, body=b"", now=NOW + n)
        for n in range(3)
    ]
    assert [j.id for j in await store.due_forwards(now=NOW + 1, limit=10)] == ids[:2]
    assert [j.id for j in await store.due_forwards(now=NOW + 5, limit=1)] == ids[2:]


async def test_forward_jobs_expire(open_store_: Opener) -> None:
    store = await open_store_(Limits(ttl_seconds=100))
    await store.enqueue_forward(target=TARGET, send_id=b"s" * 16, body=b"env", now=NOW)
    await store.forward_retry(1_000_000, next_at=NOW)  # unknown job ids are ignored
    assert await store.due_forwards(now=NOW + 100, limit=10) == []
    assert await store.expire(now=NOW + 99) == 0
    assert await store.expire(now=NOW + 100) == 1
    assert (await store.stats())["forwards"] == 0


async def test_wakeups_fire_for_enqueue_and_append(store: RelayStore) -> None:
    woken: list[bytes] = []
    store.on_enqueue(woken.append)
    box = await create(store)
    feed_id, _ = await new_feed(store)
    await store.enqueue(box.send_id, b"x", now=NOW)
    await store.append(feed_id, b"y", now=NOW)
    assert woken == [box.recv_id, feed_id]


async def test_refused_writes_wake_nobody(open_store_: Opener) -> None:
    store = await open_store_(Limits(mailbox_max_count=1))
    woken: list[bytes] = []
    store.on_enqueue(woken.append)
    box = await create(store)
    await store.enqueue(box.send_id, b"x", now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.enqueue(box.send_id, b"y", now=NOW)
    with pytest.raises(UnknownFeed):
        await store.append(b"f" * 16, b"y", now=NOW)
    assert woken == [box.recv_id]


async def test_a_failing_callback_does_not_break_the_write(
    store: RelayStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: bytes) -> None:
        raise RuntimeError("subscriber bug")

    woken: list[bytes] = []
    store.on_enqueue(broken)
    store.on_enqueue(woken.append)
    box = await create(store)
    await store.enqueue(box.send_id, b"x", now=NOW)
    assert woken == [box.recv_id]
    assert box.recv_id.hex() not in caplog.text
    assert "callback failed" in caplog.text
