"""Conformance: mailboxes on every backend (create, enqueue, fetch, ack, delete, quota, TTL)."""

from __future__ import annotations

import asyncio

import pytest

from payk.relay.store import (
    AlreadyExists,
    Limits,
    QuotaExceeded,
    RelayStore,
    StoredEnvelope,
    UnknownMailbox,
)
from tests.relay.store.conftest import Opener, create, new_mailbox

NOW = 1_000


async def test_enqueue_then_fetch_returns_bodies_oldest_first(store: RelayStore) -> None:
    box = await create(store)
    ids = []
    for body in (b"one", b"two", b"three"):
        recv_id, env_id = await store.enqueue(box.send_id, body, now=NOW)
        assert recv_id == box.recv_id
        ids.append(env_id)
    got = await store.fetch(box.recv_id, limit=10, now=NOW)
    bodies = [b"one", b"two", b"three"]
    assert got == [StoredEnvelope(id=i, body=b) for i, b in zip(ids, bodies, strict=True)]
    assert len(set(ids)) == 3 and all(len(i) == 16 for i in ids)


async def test_acking_the_newest_envelope_keeps_later_ones_after_the_rest(
    store: RelayStore,
) -> None:
    ids = {}
    box = await create(store)
    for body in (b"a", b"b"):
        ids[body] = (await store.enqueue(box.send_id, body, now=NOW))[1]
    await store.ack(box.recv_id, [ids[b"b"]])
    for body in (b"c", b"d"):
        ids[body] = (await store.enqueue(box.send_id, body, now=NOW))[1]
    await store.ack(box.recv_id, [ids[b"d"], ids[b"a"]])
    await store.enqueue(box.send_id, b"e", now=NOW)
    assert [e.body for e in await store.fetch(box.recv_id, limit=9, now=NOW)] == [b"c", b"e"]


async def test_fetch_honours_limit_and_does_not_consume(store: RelayStore) -> None:
    box = await create(store)
    for n in range(5):
        await store.enqueue(box.send_id, bytes([n]), now=NOW)
    first = await store.fetch(box.recv_id, limit=2, now=NOW)
    assert [e.body for e in first] == [b"\x00", b"\x01"]
    assert await store.fetch(box.recv_id, limit=2, now=NOW) == first
    assert await store.fetch(box.recv_id, limit=0, now=NOW) == []


async def test_empty_mailbox_fetches_nothing(store: RelayStore) -> None:
    box = await create(store)
    assert await store.fetch(box.recv_id, limit=10, now=NOW) == []


async def test_auth_key_is_kept_and_unknown_is_none(store: RelayStore) -> None:
    box = await create(store)
    assert await store.auth_key(box.recv_id) == box.auth_key
    assert await store.auth_key(box.send_id) is None
    assert await store.auth_key(new_mailbox().recv_id) is None


async def test_duplicate_ids_are_refused(store: RelayStore) -> None:
    box = await create(store)
    other = new_mailbox()
    with pytest.raises(AlreadyExists):
        await store.create_mailbox(
            recv_id=box.recv_id, send_id=other.send_id, auth_key=other.auth_key, now=NOW
        )
    with pytest.raises(AlreadyExists):
        await store.create_mailbox(
            recv_id=other.recv_id, send_id=box.send_id, auth_key=other.auth_key, now=NOW
        )
    assert await store.auth_key(other.recv_id) is None
    assert (await store.stats())["mailboxes"] == 1


async def test_unknown_mailbox_is_refused(store: RelayStore) -> None:
    box = new_mailbox()
    with pytest.raises(UnknownMailbox):
        await store.enqueue(box.send_id, b"x", now=NOW)
    with pytest.raises(UnknownMailbox):
        await store.fetch(box.recv_id, limit=1, now=NOW)
    with pytest.raises(UnknownMailbox):
        await store.delete_mailbox(box.recv_id)
    assert await store.ack(box.recv_id, [b"\x00" * 16]) == 0


async def test_receive_id_cannot_be_used_to_send(store: RelayStore) -> None:
    box = await create(store)
    with pytest.raises(UnknownMailbox):
        await store.enqueue(box.recv_id, b"x", now=NOW)


async def test_ack_deletes_only_the_named_envelopes(store: RelayStore) -> None:
    box = await create(store)
    ids = [(await store.enqueue(box.send_id, bytes([n]), now=NOW))[1] for n in range(3)]
    assert await store.ack(box.recv_id, [ids[0], ids[2], ids[0]]) == 2
    assert [e.id for e in await store.fetch(box.recv_id, limit=10, now=NOW)] == [ids[1]]
    assert await store.ack(box.recv_id, [ids[0]]) == 0
    assert await store.ack(box.recv_id, []) == 0


async def test_ack_with_another_mailboxs_ids_does_nothing(store: RelayStore) -> None:
    mine, theirs = await create(store), await create(store)
    _, their_env = await store.enqueue(theirs.send_id, b"theirs", now=NOW)
    assert await store.ack(mine.recv_id, [their_env]) == 0
    assert [e.id for e in await store.fetch(theirs.recv_id, limit=10, now=NOW)] == [their_env]
    assert (await store.stats())["envelopes"] == 1


async def test_delete_mailbox_removes_its_envelopes(store: RelayStore) -> None:
    gone, kept = await create(store), await create(store)
    await store.enqueue(gone.send_id, b"a", now=NOW)
    await store.enqueue(kept.send_id, b"bb", now=NOW)
    await store.delete_mailbox(gone.recv_id)
    assert await store.auth_key(gone.recv_id) is None
    with pytest.raises(UnknownMailbox):
        await store.enqueue(gone.send_id, b"late", now=NOW)
    assert await store.stats() == {
        "mailboxes": 1,
        "envelopes": 1,
        "bytes": 2,
        "feeds": 0,
        "forwards": 0,
    }


async def test_quota_by_count_refuses_and_stores_nothing(open_store_: Opener) -> None:
    store = await open_store_(Limits(mailbox_max_count=2))
    box = await create(store)
    await store.enqueue(box.send_id, b"1", now=NOW)
    await store.enqueue(box.send_id, b"2", now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.enqueue(box.send_id, b"3", now=NOW)
    assert [e.body for e in await store.fetch(box.recv_id, limit=10, now=NOW)] == [b"1", b"2"]
    other = await create(store)
    await store.enqueue(other.send_id, b"other mailboxes are not affected", now=NOW)


async def test_quota_by_bytes_refuses_and_stores_nothing(open_store_: Opener) -> None:
    store = await open_store_(Limits(mailbox_max_bytes=10))
    box = await create(store)
    await store.enqueue(box.send_id, b"x" * 6, now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.enqueue(box.send_id, b"y" * 5, now=NOW)
    await store.enqueue(box.send_id, b"z" * 4, now=NOW)
    assert (await store.stats())["bytes"] == 10
    assert [e.body for e in await store.fetch(box.recv_id, limit=10, now=NOW)] == [
        b"x" * 6,
        b"z" * 4,
    ]


async def test_ack_frees_quota(open_store_: Opener) -> None:
    store = await open_store_(Limits(mailbox_max_count=1))
    box = await create(store)
    _, env = await store.enqueue(box.send_id, b"1", now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.enqueue(box.send_id, b"2", now=NOW)
    await store.ack(box.recv_id, [env])
    await store.enqueue(box.send_id, b"2", now=NOW)


async def test_envelopes_expire_after_ttl(open_store_: Opener) -> None:
    store = await open_store_(Limits(ttl_seconds=100))
    box = await create(store)
    await store.enqueue(box.send_id, b"old", now=NOW)
    await store.enqueue(box.send_id, b"new", now=NOW + 50)
    assert len(await store.fetch(box.recv_id, limit=10, now=NOW + 99)) == 2
    assert [e.body for e in await store.fetch(box.recv_id, limit=10, now=NOW + 100)] == [b"new"]
    assert await store.expire(now=NOW + 100) == 1
    assert await store.expire(now=NOW + 100) == 0
    assert (await store.stats())["envelopes"] == 1
    assert [e.body for e in await store.fetch(box.recv_id, limit=10, now=NOW)] == [b"new"]


async def test_expired_envelopes_make_room_for_new_ones(open_store_: Opener) -> None:
    store = await open_store_(Limits(ttl_seconds=100, mailbox_max_count=1))
    box = await create(store)
    await store.enqueue(box.send_id, b"old", now=NOW)
    with pytest.raises(QuotaExceeded):
        await store.enqueue(box.send_id, b"too soon", now=NOW + 99)
    await store.enqueue(box.send_id, b"after expiry", now=NOW + 100)
    got = await store.fetch(box.recv_id, limit=10, now=NOW + 100)
    assert [e.body for e in got] == [b"after expiry"]


async def test_concurrent_enqueues_respect_the_quota(open_store_: Opener) -> None:
    store = await open_store_(Limits(mailbox_max_count=7))
    box = await create(store)
    results = await asyncio.gather(
        *(store.enqueue(box.send_id, b"x", now=NOW) for _ in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, tuple) for r in results) == 7
    assert all(isinstance(r, tuple | QuotaExceeded) for r in results)
    assert len(await store.fetch(box.recv_id, limit=100, now=NOW)) == 7


async def test_stats_count_envelopes_and_bytes(store: RelayStore) -> None:
    assert await store.stats() == {
        "mailboxes": 0,
        "envelopes": 0,
        "bytes": 0,
        "feeds": 0,
        "forwards": 0,
    }
    box = await create(store)
    _, env = await store.enqueue(box.send_id, b"abc", now=NOW)
    await store.enqueue(box.send_id, b"de", now=NOW)
    await store.ack(box.recv_id, [env])
    stats = await store.stats()
    assert (stats["mailboxes"], stats["envelopes"], stats["bytes"]) == (1, 1, 2)
