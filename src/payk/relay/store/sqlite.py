"""The relay store on one SQLite file, with group commit.

Strategy: two threads, each owning one ``sqlite3`` connection to the WAL-mode database.

* The **writer** takes every job waiting in its queue (up to ``MAX_BATCH``), runs them in one
  ``BEGIN IMMEDIATE`` transaction and commits once with ``synchronous=FULL``: one fsync makes
  the whole batch durable. A refused job (an exception from it) must roll back only itself:
  the batch first runs without savepoints (each costs statements, and every statement hands
  the GIL back and forth with the event loop), and if a job fails, the transaction is rolled
  back and the batch runs again with each job in its own savepoint. Jobs are functions of
  the database only, so running one again is safe. Jobs that arrive while a commit is in
  flight form the next batch. Only after the commit does the event loop learn the outcomes;
  wake-ups fire then, on the loop thread, in commit order (an enqueue's wake-up carries the
  envelope it stored).
  ``commits`` counts the transactions, so tests and benchmarks can see the batching.
* **Acks are not made durable.** A batch of nothing but acks commits with
  ``synchronous=NORMAL`` (switched back to ``FULL`` right after): in WAL mode that skips the
  fsync, and the deletes reach the disk with the next durable commit or checkpoint. A power
  cut may undo such a delete, which only delivers that envelope again (clients drop
  envelopes they have seen). A batch with any other write is fsynced as a whole, so enqueues
  and creations keep full durability; a process crash (not a power cut) loses nothing.
* The **reader** answers queries from its own connection (WAL readers never block the
  writer, and a reader never waits for an fsync).

Schema changes are the numbered files in ``migrations/sqlite``, applied by the writer before
it takes its first job. Unexpected SQLite errors become ``StorageError``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from payk.errors import StorageError
from payk.relay.store import migrations
from payk.relay.store.base import (
    FORWARD_LEASE_SECONDS,
    ID_LEN,
    AlreadyExists,
    FeedEntry,
    ForwardJob,
    Limits,
    QuotaExceeded,
    StoredEnvelope,
    UnknownFeed,
    UnknownMailbox,
    WakeCallback,
    Wakeups,
    fresh_envelope,
)

__all__ = ["MAX_BATCH", "SqliteStore"]

MAX_BATCH = 512
_BUSY_TIMEOUT_MS = 10_000
_CHUNK = 500
_T = TypeVar("_T")
_Fn = Callable[[sqlite3.Connection], Any]
_Wake = tuple[bytes, StoredEnvelope | None]


@dataclass(slots=True)
class _Job:
    fn: _Fn
    future: asyncio.Future[Any]
    wake: Callable[[Any], _Wake] | None
    durable: bool = True


_Outcome = tuple[_Job, Any, BaseException | None]


def _storage_error(exc: BaseException) -> StorageError:
    error = StorageError("the relay database failed")
    error.__cause__ = exc
    return error


def _call(conn: sqlite3.Connection, job: _Job) -> _Outcome:
    try:
        return job, job.fn(conn), None
    except sqlite3.Error as exc:
        return job, None, _storage_error(exc)
    except Exception as exc:
        return job, None, exc


def _connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    if writer:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS payk_schema_version "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    (current,) = conn.execute(
        "SELECT coalesce(max(version), 0) FROM payk_schema_version"
    ).fetchone()
    known = migrations.load("sqlite")
    if known and current > known[-1].version:
        raise StorageError("the relay database was written by a newer payk")
    for step in (m for m in known if m.version > current):
        try:
            conn.executescript("BEGIN IMMEDIATE;\n" + step.sql)
            conn.execute(
                "INSERT INTO payk_schema_version (version, name) VALUES (?, ?)",
                (step.version, step.name),
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class _Worker:
    """A thread owning one connection; the writer batches its jobs into transactions."""

    def __init__(self, path: Path, *, writer: bool, wakeups: Wakeups) -> None:
        self._path = path
        self._writer = writer
        self._wakeups = wakeups
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        name = "payk-relay-store-" + ("writer" if writer else "reader")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._broken: StorageError | None = None
        self.commits = 0
        self.relaxed_commits = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready = self.submit(lambda conn: None)
        self._thread.start()
        await ready

    async def stop(self) -> None:
        if self._closed or not self._thread.is_alive():
            self._closed = True
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def submit(
        self,
        fn: Callable[[sqlite3.Connection], _T],
        wake: Callable[[_T], _Wake] | None = None,
        *,
        durable: bool = True,
    ) -> asyncio.Future[_T]:
        if self._broken is not None:
            raise self._broken
        if self._loop is None or self._closed:
            raise StorageError("the relay store is not open")
        future: asyncio.Future[_T] = self._loop.create_future()
        self._queue.put(_Job(fn, future, wake, durable))
        return future

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(self._path, writer=self._writer)
            if self._writer:
                _migrate(conn)
        except (sqlite3.Error, OSError, StorageError) as exc:
            if conn is not None:
                conn.close()
            self._fail_queued(exc)
            return
        try:
            while (batch := self._next_batch()) is not None:
                self._settle(self._commit(conn, batch) if self._writer else self._read(conn, batch))
        finally:
            conn.close()

    def _next_batch(self) -> list[_Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)
                break
            batch.append(job)
        return batch

    def _read(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
        return [_call(conn, job) for job in batch]

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
        relaxed = not any(job.durable for job in batch)
        commits = self.commits
        try:
            if relaxed:  # acks only: losing them to a power cut only re-delivers envelopes
                conn.execute("PRAGMA synchronous = NORMAL")
            outcomes = self._unguarded(conn, batch)
            if outcomes is None:  # a job failed: run the batch again, each job guarded
                outcomes = self._guarded(conn, batch)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(job, None, _storage_error(exc)) for job in batch]
        finally:
            if relaxed:
                conn.execute("PRAGMA synchronous = FULL")
        if relaxed:
            self.relaxed_commits += self.commits - commits
        return outcomes

    def _unguarded(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome] | None:
        """Run and commit the batch; None if a job failed (everything is rolled back)."""
        conn.execute("BEGIN IMMEDIATE")
        outcomes = []
        for job in batch:
            outcome = _call(conn, job)
            if outcome[2] is not None:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return [outcome] if len(batch) == 1 else None
            outcomes.append(outcome)
        conn.execute("COMMIT")
        self.commits += 1
        return outcomes

    def _guarded(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
        """Run and commit the batch, each job in a savepoint so a failure undoes only itself."""
        conn.execute("BEGIN IMMEDIATE")
        outcomes = [self._in_savepoint(conn, job) for job in batch]
        conn.execute("COMMIT")
        self.commits += 1
        return outcomes

    def _in_savepoint(self, conn: sqlite3.Connection, job: _Job) -> _Outcome:
        conn.execute("SAVEPOINT job")
        outcome = _call(conn, job)
        if outcome[2] is not None:
            conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return outcome

    def _settle(self, outcomes: list[_Outcome]) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, outcomes)
        except RuntimeError:
            pass  # the event loop is gone; nobody is waiting any more

    def _deliver(self, outcomes: list[_Outcome]) -> None:
        for job, result, error in outcomes:
            if error is None and job.wake is not None:
                self._wakeups.fire(*job.wake(result))
            if job.future.cancelled():
                continue
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)

    def _fail_queued(self, exc: BaseException) -> None:
        error = exc if isinstance(exc, StorageError) else _storage_error(exc)
        self._broken = error
        failed: list[_Outcome] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                failed.append((job, None, error))
        self._settle(failed)


class SqliteStore:
    """A ``RelayStore`` on one SQLite file; safe for one process (one event loop)."""

    def __init__(self, path: Path, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.path = path
        self._wakeups = Wakeups()
        self._writer = _Worker(path, writer=True, wakeups=self._wakeups)
        self._reader = _Worker(path, writer=False, wakeups=self._wakeups)

    @property
    def commits(self) -> int:
        """How many write transactions were committed since ``open``."""
        return self._writer.commits

    @property
    def relaxed_commits(self) -> int:
        """How many of them held only acks and were committed without an fsync."""
        return self._writer.relaxed_commits

    async def open(self) -> None:
        self._writer = _Worker(self.path, writer=True, wakeups=self._wakeups)
        self._reader = _Worker(self.path, writer=False, wakeups=self._wakeups)
        await self._writer.start()
        await self._reader.start()

    async def close(self) -> None:
        await self._writer.stop()
        await self._reader.stop()

    def on_enqueue(self, callback: Callable[[bytes], None]) -> None:
        self._wakeups.add(callback)

    def on_wake(self, callback: WakeCallback) -> None:
        self._wakeups.add_wake(callback)

    # -- mailboxes

    async def create_mailbox(
        self, *, recv_id: bytes, send_id: bytes, auth_key: bytes, now: int
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO mailboxes (recv_id, send_id, auth_key, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (recv_id, send_id, auth_key, now),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("mailbox id taken") from exc

        await self._writer.submit(run)

    async def auth_key(self, recv_id: bytes) -> bytes | None:
        def run(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT auth_key FROM mailboxes WHERE recv_id = ?", (recv_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

        return await self._reader.submit(run)

    async def delete_mailbox(self, recv_id: bytes) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM envelopes WHERE recv_id = ?", (recv_id,))
            gone = conn.execute("DELETE FROM mailboxes WHERE recv_id = ?", (recv_id,))
            if gone.rowcount == 0:
                raise UnknownMailbox("no such mailbox")

        await self._writer.submit(run)

    async def enqueue(self, send_id: bytes, body: bytes, *, now: int) -> tuple[bytes, bytes]:
        limits = self.limits
        expires_at = now + limits.ttl_seconds

        def run(conn: sqlite3.Connection) -> tuple[bytes, bytes]:
            return _enqueue(conn, limits, send_id, body, now)

        def wake(result: tuple[bytes, bytes]) -> _Wake:
            return result[0], fresh_envelope(result[1], body, expires_at=expires_at, now=now)

        return await self._writer.submit(run, wake=wake)

    async def fetch(self, recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
        def run(conn: sqlite3.Connection) -> list[StoredEnvelope]:
            if conn.execute("SELECT 1 FROM mailboxes WHERE recv_id = ?", (recv_id,)).fetchone():
                rows = conn.execute(
                    "SELECT id, body FROM envelopes WHERE recv_id = ? AND expires_at > ?"
                    " ORDER BY seq LIMIT ?",
                    (recv_id, now, max(limit, 0)),
                )
                return [StoredEnvelope(id=bytes(i), body=bytes(b)) for i, b in rows]
            raise UnknownMailbox("no such mailbox")

        return await self._reader.submit(run)

    async def ack(self, recv_id: bytes, ids: Sequence[bytes]) -> int:
        wanted = sorted(set(ids))

        def run(conn: sqlite3.Connection) -> int:
            sizes: list[int] = []
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"DELETE FROM envelopes WHERE recv_id = ? AND id IN ({marks})"  # noqa: S608
                    " RETURNING length(body)",
                    (recv_id, *chunk),
                )
                sizes.extend(n for (n,) in rows)
            _uncount(conn, recv_id, len(sizes), sum(sizes))
            return len(sizes)

        return await self._writer.submit(run, durable=False) if wanted else 0

    # -- feeds

    async def create_feed(self, *, feed_id: bytes, writer_key: bytes, now: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO feeds (feed_id, writer_key, created_at) VALUES (?, ?, ?)",
                    (feed_id, writer_key, now),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("feed id taken") from exc

        await self._writer.submit(run)

    async def feed_writer(self, feed_id: bytes) -> bytes | None:
        def run(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT writer_key FROM feeds WHERE feed_id = ?", (feed_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

        return await self._reader.submit(run)

    async def append(self, feed_id: bytes, body: bytes, *, now: int) -> int:
        max_count = self.limits.feed_max_count

        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT next_pos FROM feeds WHERE feed_id = ?", (feed_id,)
            ).fetchone()
            if row is None:
                raise UnknownFeed("no such feed")
            pos = int(row[0])
            if pos >= max_count:
                raise QuotaExceeded("feed full")
            conn.execute(
                "INSERT INTO feed_entries (feed_id, pos, body, created_at) VALUES (?, ?, ?, ?)",
                (feed_id, pos, body, now),
            )
            conn.execute("UPDATE feeds SET next_pos = ? WHERE feed_id = ?", (pos + 1, feed_id))
            return pos

        return await self._writer.submit(run, wake=lambda _: (feed_id, None))

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int) -> list[FeedEntry]:
        def run(conn: sqlite3.Connection) -> list[FeedEntry]:
            if conn.execute("SELECT 1 FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone():
                rows = conn.execute(
                    "SELECT pos, body FROM feed_entries WHERE feed_id = ? AND pos >= ?"
                    " ORDER BY pos LIMIT ?",
                    (feed_id, offset, max(limit, 0)),
                )
                return [FeedEntry(offset=int(p), body=bytes(b)) for p, b in rows]
            raise UnknownFeed("no such feed")

        return await self._reader.submit(run)

    # -- forwarding

    async def enqueue_forward(self, *, target: str, send_id: bytes, body: bytes, now: int) -> int:
        expires_at = now + self.limits.ttl_seconds

        def run(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO forwards (target, send_id, body, next_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (target, send_id, body, now, expires_at),
            )
            return int(cursor.lastrowid or 0)

        return await self._writer.submit(run)

    async def due_forwards(self, *, now: int, limit: int) -> list[ForwardJob]:
        def run(conn: sqlite3.Connection) -> list[ForwardJob]:
            rows = conn.execute(
                "SELECT id, target, send_id, body, attempts FROM forwards"
                " WHERE next_at <= ? AND expires_at > ? ORDER BY next_at, id LIMIT ?",
                (now, now, max(limit, 0)),
            ).fetchall()
            conn.executemany(
                "UPDATE forwards SET next_at = ? WHERE id = ?",
                [(now + FORWARD_LEASE_SECONDS, row[0]) for row in rows],
            )
            return [
                ForwardJob(id=i, target=t, send_id=bytes(s), body=bytes(b), attempts=a)
                for i, t, s, b, a in rows
            ]

        return await self._writer.submit(run)

    async def forward_done(self, job_id: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM forwards WHERE id = ?", (job_id,))

        await self._writer.submit(run)

    async def forward_retry(self, job_id: int, *, next_at: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE forwards SET attempts = attempts + 1, next_at = ? WHERE id = ?",
                (next_at, job_id),
            )

        await self._writer.submit(run)

    # -- housekeeping

    async def expire(self, *, now: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "DELETE FROM envelopes WHERE expires_at <= ? RETURNING recv_id, length(body)",
                (now,),
            ).fetchall()
            totals: dict[bytes, tuple[int, int]] = {}
            for recv_id, size in rows:
                count, nbytes = totals.get(recv_id, (0, 0))
                totals[recv_id] = (count + 1, nbytes + size)
            for recv_id, (count, nbytes) in totals.items():
                _uncount(conn, recv_id, count, nbytes)
            jobs = conn.execute("DELETE FROM forwards WHERE expires_at <= ?", (now,))
            return len(rows) + jobs.rowcount

        return await self._writer.submit(run)

    async def stats(self) -> dict[str, int]:
        def run(conn: sqlite3.Connection) -> dict[str, int]:
            boxes, envelopes, nbytes = conn.execute(
                "SELECT count(*), coalesce(sum(env_count), 0), coalesce(sum(env_bytes), 0)"
                " FROM mailboxes"
            ).fetchone()
            (feeds,) = conn.execute("SELECT count(*) FROM feeds").fetchone()
            (forwards,) = conn.execute("SELECT count(*) FROM forwards").fetchone()
            return {
                "mailboxes": boxes,
                "envelopes": envelopes,
                "bytes": nbytes,
                "feeds": feeds,
                "forwards": forwards,
            }

        return await self._reader.submit(run)


def _chunks(items: Sequence[bytes]) -> Iterable[Sequence[bytes]]:
    it = iter(items)
    while chunk := tuple(itertools.islice(it, _CHUNK)):
        yield chunk


def _fits(limits: Limits, count: int, nbytes: int, size: int) -> bool:
    return count < limits.mailbox_max_count and nbytes + size <= limits.mailbox_max_bytes


def _uncount(conn: sqlite3.Connection, recv_id: bytes, count: int, nbytes: int) -> None:
    if count:
        conn.execute(
            "UPDATE mailboxes SET env_count = env_count - ?, env_bytes = env_bytes - ?"
            " WHERE recv_id = ?",
            (count, nbytes, recv_id),
        )


def _purge_mailbox(conn: sqlite3.Connection, recv_id: bytes, now: int) -> tuple[int, int]:
    sizes = [
        n
        for (n,) in conn.execute(
            "DELETE FROM envelopes WHERE recv_id = ? AND expires_at <= ? RETURNING length(body)",
            (recv_id, now),
        )
    ]
    _uncount(conn, recv_id, len(sizes), sum(sizes))
    row = conn.execute(
        "SELECT env_count, env_bytes FROM mailboxes WHERE recv_id = ?", (recv_id,)
    ).fetchone()
    return int(row[0]), int(row[1])


def _enqueue(
    conn: sqlite3.Connection, limits: Limits, send_id: bytes, body: bytes, now: int
) -> tuple[bytes, bytes]:
    row = conn.execute(
        "SELECT recv_id, env_count, env_bytes FROM mailboxes WHERE send_id = ?", (send_id,)
    ).fetchone()
    if row is None:
        raise UnknownMailbox("no such mailbox")
    recv_id, count, nbytes = bytes(row[0]), int(row[1]), int(row[2])
    if not _fits(limits, count, nbytes, len(body)):
        count, nbytes = _purge_mailbox(conn, recv_id, now)
        if not _fits(limits, count, nbytes, len(body)):
            raise QuotaExceeded("mailbox full")
    env_id = os.urandom(ID_LEN)
    conn.execute(
        "INSERT INTO envelopes (id, recv_id, body, expires_at) VALUES (?, ?, ?, ?)",
        (env_id, recv_id, body, now + limits.ttl_seconds),
    )
    conn.execute(
        "UPDATE mailboxes SET env_count = env_count + 1, env_bytes = env_bytes + ?"
        " WHERE recv_id = ?",
        (len(body), recv_id),
    )
    return recv_id, env_id
