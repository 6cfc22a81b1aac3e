"""Durability: data survives reopening, group commit batches, processes wake each other."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from payk.errors import StorageError
from payk.relay.store import RelayStore
from payk.relay.store.sqlite import SqliteStore
from tests.relay.store.conftest import Backend, Opener, create, drop_schema, pg_dsn

NOW = 1_000


async def test_everything_survives_close_and_reopen(backend: Backend, open_store_: Opener) -> None:
    if not backend.persistent:
        pytest.skip("the memory twin keeps nothing across close")
    store = await open_store_()
    box = await create(store)
    _, env = await store.enqueue(box.send_id, b"kept", now=NOW)
    await store.create_feed(feed_id=b"f" * 16, writer_key=b"w" * 32, now=NOW)
    await store.append(b"f" * 16, b"post", now=NOW)
    job = await store.enqueue_forward(target="payk://x@h:1", send_id=b"s" * 16, body=b"b", now=NOW)
    await store.close()

    again = await open_store_()
    assert await again.auth_key(box.recv_id) == box.auth_key
    assert [(e.id, e.body) for e in await again.fetch(box.recv_id, limit=5, now=NOW)] == [
        (env, b"kept")
    ]
    assert [e.body for e in await again.read_feed(b"f" * 16, offset=0, limit=5)] == [b"post"]
    assert await again.append(b"f" * 16, b"next", now=NOW) == 1
    assert [j.id for j in await again.due_forwards(now=NOW, limit=5)] == [job]


async def test_group_commit_200_concurrent_enqueues_are_durable(
    backend: Backend, open_store_: Opener
) -> None:
    store = await open_store_()
    box = await create(store)
    commits_before = getattr(store, "commits", None)
    results = await asyncio.gather(
        *(store.enqueue(box.send_id, n.to_bytes(2, "big"), now=NOW) for n in range(200))
    )
    ids = {env_id for _, env_id in results}
    assert len(ids) == 200
    if isinstance(store, SqliteStore):
        assert commits_before is not None
        assert 0 < store.commits - commits_before < 200, "enqueues were batched per fsync"
    if backend.persistent:
        await store.close()
        store = await open_store_()
    got = await store.fetch(box.recv_id, limit=500, now=NOW)
    assert {e.id for e in got} == ids
    assert {e.body for e in got} == {n.to_bytes(2, "big") for n in range(200)}


async def test_one_writer_commits_once_per_enqueue(tmp_path: Path) -> None:
    """Negative control for batching: sequential enqueues cannot share a commit."""
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    try:
        box = await create(store)
        before = store.commits
        for n in range(5):
            await store.enqueue(box.send_id, bytes([n]), now=NOW)
        assert store.commits - before == 5
    finally:
        await store.close()


async def test_only_batches_of_nothing_but_acks_skip_the_fsync(tmp_path: Path) -> None:
    """Acks alone commit with synchronous=NORMAL; any other write in the batch keeps FULL."""
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    writer = store._writer
    try:
        box = await create(store)
        envs = [(await store.enqueue(box.send_id, bytes([n]), now=NOW))[1] for n in range(3)]
        assert store.relaxed_commits == 0, "enqueues and creations are always fsynced"
        assert await store.ack(box.recv_id, envs[:1]) == 1
        assert store.relaxed_commits == 1

        def level(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA synchronous").fetchone()[0])

        assert await writer.submit(level, durable=False) == 1  # NORMAL, alone
        assert await writer.submit(level) == 2  # FULL again for the next batch
        async with _writer_held(store) as later:
            mixed = later(writer.submit(level, durable=False))
            enqueued = later(store.enqueue(box.send_id, b"durable", now=NOW))
        assert await mixed == 2, "an ack sharing a batch with an enqueue is fsynced with it"
        await enqueued
        async with _writer_held(store) as later:
            acks_only = [later(writer.submit(level, durable=False)) for _ in range(3)]
        assert [await ack for ack in acks_only] == [1, 1, 1]
        assert await store.ack(box.recv_id, envs[1:]) == 2
    finally:
        await store.close()
    again = SqliteStore(tmp_path / "relay.db")
    await again.open()
    try:
        assert [e.body for e in await again.fetch(box.recv_id, limit=9, now=NOW)] == [b"durable"]
    finally:
        await again.close()


async def test_a_failing_job_undoes_only_its_own_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    try:
        box = await create(store)

        def half_done(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO feeds (feed_id, writer_key, created_at) VALUES (?, ?, ?)",
                (b"f" * 16, b"w" * 32, NOW),
            )
            raise ValueError("refused after writing")

        async with _writer_held(store) as later:
            before = later(store.enqueue(box.send_id, b"before", now=NOW))
            failing = later(store._writer.submit(half_done))
            after = later(store.enqueue(box.send_id, b"after", now=NOW))
        await before
        with pytest.raises(ValueError, match="refused after writing"):
            await failing
        await after
        with pytest.raises(ValueError, match="refused after writing"):
            await store._writer.submit(half_done)  # alone in its batch
        assert await store.feed_writer(b"f" * 16) is None
        got = await store.fetch(box.recv_id, limit=9, now=NOW)
        assert [e.body for e in got] == [b"before", b"after"]
        assert (await store.stats())["envelopes"] == 2
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _writer_held(
    store: SqliteStore,
) -> AsyncIterator[Callable[[Awaitable[Any]], asyncio.Future[Any]]]:
    """Hold the writer busy; what is submitted meanwhile forms one batch on leaving."""
    started, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    holder = store._writer.submit(hold)
    await asyncio.to_thread(started.wait, 10)
    pending: list[asyncio.Future[Any]] = []

    def later(work: Awaitable[Any]) -> asyncio.Future[Any]:
        future = asyncio.ensure_future(work)
        pending.append(future)
        return future

    try:
        yield later
        for _ in range(3):
            await asyncio.sleep(0)  # let every coroutine reach its submit
        assert store._writer._queue.qsize() == len(pending), "all queued behind the holder"
    finally:
        release.set()
        await holder


async def test_sqlite_file_is_in_wal_mode_with_a_recorded_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    await store.close()  # closing twice is harmless
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT version FROM payk_schema_version").fetchall() == [(1,), (2,)]
    conn.close()


async def test_sqlite_refuses_a_database_from_a_newer_payk(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO payk_schema_version VALUES (9999, '9999_future.sql')")
    conn.close()
    with pytest.raises(StorageError, match="newer payk"):
        await SqliteStore(path).open()


async def test_sqlite_unusable_path_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a directory")
    store = SqliteStore(tmp_path / "file" / "relay.db")
    with pytest.raises(StorageError):
        await store.open()
    with pytest.raises(StorageError):
        await store.auth_key(b"r" * 16)


async def test_sqlite_store_refuses_work_when_not_open(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    with pytest.raises(StorageError, match="not open"):
        await store.auth_key(b"r" * 16)
    await store.open()
    await store.close()
    with pytest.raises(StorageError, match="not open"):
        await store.auth_key(b"r" * 16)


class Seen:
    """A wake-up callback that records keys and lets a test wait for one."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []
        self._changed = asyncio.Event()

    def __call__(self, key: bytes) -> None:
        self.keys.append(key)
        self._changed.set()

    async def wait_for(self, key: bytes) -> None:
        async with asyncio.timeout(10):
            while key not in self.keys:
                self._changed.clear()
                await self._changed.wait()


@pytest.mark.postgres
async def test_postgres_processes_wake_each_other() -> None:
    from payk.relay.store.postgres import PostgresStore

    dsn = pg_dsn()
    schema = "payk_test_notify_" + secrets.token_hex(4)
    first = PostgresStore(dsn, schema=schema, pool_size=2)
    second = PostgresStore(dsn, schema=schema, pool_size=2)
    stores: list[RelayStore] = [first, second]
    try:
        for store in stores:
            await store.open()
        box, other = await create(first), await create(first)
        seen_first, seen_second = Seen(), Seen()
        first.on_enqueue(seen_first)
        second.on_enqueue(seen_second)

        await first.enqueue(box.send_id, b"hello", now=NOW)
        await seen_second.wait_for(box.recv_id)
        assert [e.body for e in await second.fetch(box.recv_id, limit=5, now=NOW)] == [b"hello"]

        # Notifications arrive in commit order, so once the first store has heard of the
        # second store's write it has also heard (and skipped) the echo of its own.
        await second.enqueue(other.send_id, b"reply", now=NOW)
        await seen_first.wait_for(other.recv_id)
        assert seen_first.keys == [box.recv_id, other.recv_id]
        assert seen_second.keys[0] == box.recv_id
    finally:
        for store in stores:
            await store.close()
        await drop_schema(dsn, schema)


@pytest.mark.postgres
async def test_postgres_unreachable_is_a_storage_error() -> None:
    from payk.relay.store.postgres import PostgresStore

    pg_dsn()
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(StorageError):
        await store.open()
    with pytest.raises(StorageError, match="not open"):
        await store.auth_key(b"r" * 16)


async def test_a_sqlite_store_can_be_reopened(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    box = await create(store)
    await store.close()
    await store.open()
    try:
        assert await store.auth_key(box.recv_id) == box.auth_key
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_listener_comes_back_after_losing_its_connection() -> None:
    from payk.relay.store.postgres import PostgresStore

    dsn = pg_dsn()
    schema = "payk_test_relisten_" + secrets.token_hex(4)
    writer = PostgresStore(dsn, schema=schema, pool_size=2)
    listener = PostgresStore(dsn, schema=schema, pool_size=2)
    try:
        await writer.open()
        await listener.open()
        box = await create(writer)
        seen = Seen()
        listener.on_enqueue(seen)
        old_pid = listener._listener.get_server_pid()
        await kill_backend(dsn, old_pid)
        async with asyncio.timeout(20):
            while not seen.keys:  # wake-ups sent while reconnecting are lost; keep sending
                await writer.enqueue(box.send_id, b"ping", now=NOW)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        await seen.wait_for(box.recv_id)
        assert seen.keys[0] == box.recv_id
        assert listener._listener.get_server_pid() != old_pid
    finally:
        await writer.close()
        await listener.close()
        await drop_schema(dsn, schema)


async def kill_backend(dsn: str, pid: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
