"""The relay store on one SQLite file, with group commit.

Strategy: two threads, each owning one ``sqlite3`` connection to the WAL-mode database.

* The **writer** takes every job waiting in its queue (up to ``MAX_BATCH``), runs them in one
  ``BEGIN IMMEDIATE`` transaction and commits once with ``synchronous=FULL``: one fsync makes
  the whole batch durable. A job is a module-level function and its arguments (no closure
  per call). A refused job (an exception from it) must roll back only itself: the batch
  first runs without savepoints (each costs statements, and every statement hands the GIL
  back and forth with the event loop), and if a job fails, the transaction is rolled back
  and the batch runs again with each job in its own savepoint. Jobs are functions of the
  database only, so running one again is safe. Expected refusals (unknown mailbox, quota)
  are not failures: such a job has written nothing that must be undone, so it returns the
  refusal and the batch goes on. Jobs that arrive while a commit is in flight form the next
  batch. Only after the commit does the event loop learn the outcomes; wake-ups fire then,
  on the loop thread, in commit order (an enqueue's wake-up carries the envelope it stored).
  ``commits`` counts the transactions, so tests and benchmarks can see the batching.
* **Acks are not made durable.** A batch of nothing but acks commits with
  ``synchronous=NORMAL`` (set back to ``FULL`` before the next batch with any other write):
  in WAL mode that skips the fsync, and the deletes reach the disk with the next durable
  commit or checkpoint. A power cut may undo such a delete, which only delivers that
  envelope again (clients drop envelopes they have seen). A batch with any other write is
  fsynced as a whole, so enqueues and creations keep full durability; a process crash (not
  a power cut) loses nothing.
* **A send is one statement, an ack one per 500 ids.** Triggers keep each mailbox's
  envelope count and bytes (for the quotas) in the statement that inserts or deletes, and
  the insert checks the quota itself (``INSERT ... SELECT`` from the mailbox row, found by
  its receive id, which the writer remembers per send id; a wrong or missing guess only
  takes the slower path of looking the mailbox up). Envelopes are ordered by a plain rowid
  (``seq``): a new one is always numbered after every stored one, so each mailbox is FIFO.
* The **reader** answers queries from its own connection (WAL readers never block the
  writer, and a reader never waits for an fsync).

Schema changes are the numbered files in ``migrations/sqlite``, applied by the writer before
it takes its first job. Unexpected SQLite errors become ``StorageError``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
_MEMO_MAX = 65_536
_RELAXED = "PRAGMA synchronous = NORMAL"
_DURABLE = "PRAGMA synchronous = FULL"
_Fn = Callable[..., Any]
_Wake = tuple[bytes, StoredEnvelope | None]
_WakeFn = Callable[[Any, tuple[Any, ...]], _Wake]


@dataclass(slots=True)
class _Job:
    fn: _Fn
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    wake: _WakeFn | None
    durable: bool


@dataclass(frozen=True, slots=True)
class _Refused:
    """A job's answer when it refuses without having written anything to undo."""

    error: Exception


_Outcome = tuple[_Job, Any, BaseException | None]


def _storage_error(exc: BaseException) -> StorageError:
    error = StorageError("the relay database failed")
    error.__cause__ = exc
    return error


def _call(conn: sqlite3.Connection, job: _Job) -> _Outcome:
    try:
        return job, job.fn(conn, *job.args), None
    except sqlite3.Error as exc:
        return job, None, _storage_error(exc)
    except Exception as exc:
        return job, None, exc


def _connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    if writer:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
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
        self._relaxed = False  # the connection's synchronous level is NORMAL, not FULL
        self.commits = 0
        self.relaxed_commits = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready = self.submit(_nothing)
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
        self, fn: _Fn, *args: Any, wake: _WakeFn | None = None, durable: bool = True
    ) -> asyncio.Future[Any]:
        """Queue ``fn(conn, *args)``; ``wake(result, args)`` names the wake-up after commit."""
        if self._broken is not None:
            raise self._broken
        if self._loop is None or self._closed:
            raise StorageError("the relay store is not open")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put(_Job(fn, args, future, wake, durable))
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
            if relaxed != self._relaxed:  # acks only: a power cut only re-delivers envelopes
                conn.execute(_RELAXED if relaxed else _DURABLE)
                self._relaxed = relaxed
            outcomes = self._unguarded(conn, batch)
            if outcomes is None:  # a job failed: run the batch again, each job guarded
                outcomes = self._guarded(conn, batch)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(job, None, _storage_error(exc)) for job in batch]
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
        fire = self._wakeups.fire
        for job, result, error in outcomes:
            if error is None and type(result) is _Refused:
                error = result.error
            elif error is None and job.wake is not None:
                fire(*job.wake(result, job.args))
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
        self.ordered_writes = True  # one writer thread runs its queue in order
        self.path = path
        self._wakeups = Wakeups()
        self._writer = _Worker(path, writer=True, wakeups=self._wakeups)
        self._reader = _Worker(path, writer=False, wakeups=self._wakeups)
        self._recv_of: dict[bytes, bytes] = {}  # send id -> receive id; the writer's guess

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
        self._recv_of = {}
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
        await self._writer.submit(_create_mailbox, recv_id, send_id, auth_key, now)

    async def auth_key(self, recv_id: bytes) -> bytes | None:
        key: bytes | None = await self._reader.submit(_auth_key, recv_id)
        return key

    async def delete_mailbox(self, recv_id: bytes) -> None:
        await self._writer.submit(_delete_mailbox, recv_id)

    async def enqueue(self, send_id: bytes, body: bytes, *, now: int) -> tuple[bytes, bytes]:
        stored: tuple[bytes, bytes] = await self._writer.submit(
            _enqueue, self.limits, self._recv_of, send_id, body, now, wake=_enqueue_wake
        )
        return stored

    async def fetch(self, recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
        found: list[StoredEnvelope] = await self._reader.submit(_fetch, recv_id, limit, now)
        return found

    async def ack(self, recv_id: bytes, ids: Sequence[bytes]) -> int:
        if not ids:
            return 0
        count: int = await self._writer.submit(_ack, recv_id, tuple(ids), durable=False)
        return count

    # -- feeds

    async def create_feed(self, *, feed_id: bytes, writer_key: bytes, now: int) -> None:
        await self._writer.submit(_create_feed, feed_id, writer_key, now)

    async def feed_writer(self, feed_id: bytes) -> bytes | None:
        key: bytes | None = await self._reader.submit(_feed_writer, feed_id)
        return key

    async def append(self, feed_id: bytes, body: bytes, *, now: int) -> int:
        offset: int = await self._writer.submit(
            _append, self.limits.feed_max_count, feed_id, body, now, wake=_append_wake
        )
        return offset

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int) -> list[FeedEntry]:
        found: list[FeedEntry] = await self._reader.submit(_read_feed, feed_id, offset, limit)
        return found

    # -- forwarding

    async def enqueue_forward(self, *, target: str, send_id: bytes, body: bytes, now: int) -> int:
        expires_at = now + self.limits.ttl_seconds
        job_id: int = await self._writer.submit(
            _enqueue_forward, target, send_id, body, now, expires_at
        )
        return job_id

    async def due_forwards(self, *, now: int, limit: int) -> list[ForwardJob]:
        jobs: list[ForwardJob] = await self._writer.submit(_due_forwards, now, limit)
        return jobs

    async def forward_done(self, job_id: int) -> None:
        await self._writer.submit(_forward_done, job_id)

    async def forward_retry(self, job_id: int, *, next_at: int) -> None:
        await self._writer.submit(_forward_retry, job_id, next_at)

    # -- housekeeping

    async def expire(self, *, now: int) -> int:
        dropped: int = await self._writer.submit(_expire, now)
        return dropped

    async def stats(self) -> dict[str, int]:
        figures: dict[str, int] = await self._reader.submit(_stats)
        return figures


# -- jobs: each runs on its worker's thread as fn(conn, *args)

# A leading + keeps SQLite off an index: the guessed insert finds the mailbox by its primary
# key (one lookup), an ack finds envelopes by id, never by scanning the mailbox.
_INSERT_GUESSED = (
    "INSERT INTO envelopes (id, recv_id, body, expires_at)"
    " SELECT ?1, recv_id, ?2, ?3 FROM mailboxes"
    " WHERE recv_id = ?4 AND +send_id = ?5 AND env_count < ?6 AND env_bytes + ?7 <= ?8"
)
_INSERT = "INSERT INTO envelopes (id, recv_id, body, expires_at) VALUES (?, ?, ?, ?)"
_MAILBOX_BY_SEND_ID = "SELECT recv_id, env_count, env_bytes FROM mailboxes WHERE send_id = ?"
_PURGE = "DELETE FROM envelopes WHERE recv_id = ? AND expires_at <= ?"
_COUNTERS = "SELECT env_count, env_bytes FROM mailboxes WHERE recv_id = ?"
_FETCH = "SELECT id, body FROM envelopes WHERE recv_id = ? AND expires_at > ? ORDER BY seq LIMIT ?"
_MAILBOX_EXISTS = "SELECT 1 FROM mailboxes WHERE recv_id = ?"


@functools.cache
def _ack_sql(count: int) -> str:
    marks = ",".join("?" * count)
    return f"DELETE FROM envelopes WHERE +recv_id = ? AND id IN ({marks})"  # noqa: S608


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _create_mailbox(
    conn: sqlite3.Connection, recv_id: bytes, send_id: bytes, auth_key: bytes, now: int
) -> _Refused | None:
    try:
        conn.execute(
            "INSERT INTO mailboxes (recv_id, send_id, auth_key, created_at) VALUES (?, ?, ?, ?)",
            (recv_id, send_id, auth_key, now),
        )
    except sqlite3.IntegrityError:
        return _Refused(AlreadyExists("mailbox id taken"))
    return None


def _auth_key(conn: sqlite3.Connection, recv_id: bytes) -> bytes | None:
    row = conn.execute("SELECT auth_key FROM mailboxes WHERE recv_id = ?", (recv_id,)).fetchone()
    return None if row is None else bytes(row[0])


def _delete_mailbox(conn: sqlite3.Connection, recv_id: bytes) -> _Refused | None:
    conn.execute("DELETE FROM envelopes WHERE recv_id = ?", (recv_id,))
    if conn.execute("DELETE FROM mailboxes WHERE recv_id = ?", (recv_id,)).rowcount == 0:
        return _Refused(UnknownMailbox("no such mailbox"))
    return None


def _fits(limits: Limits, count: int, nbytes: int, size: int) -> bool:
    return count < limits.mailbox_max_count and nbytes + size <= limits.mailbox_max_bytes


def _enqueue(
    conn: sqlite3.Connection,
    limits: Limits,
    recv_of: dict[bytes, bytes],
    send_id: bytes,
    body: bytes,
    now: int,
) -> tuple[bytes, bytes] | _Refused:
    env_id = os.urandom(ID_LEN)
    expires_at = now + limits.ttl_seconds
    recv_id = recv_of.get(send_id)
    if recv_id is not None:  # one statement: the mailbox row checks the guess and the quota
        params = (env_id, body, expires_at, recv_id, send_id)
        quota = (limits.mailbox_max_count, len(body), limits.mailbox_max_bytes)
        if conn.execute(_INSERT_GUESSED, params + quota).rowcount == 1:
            return recv_id, env_id
    row = conn.execute(_MAILBOX_BY_SEND_ID, (send_id,)).fetchone()
    if row is None:
        recv_of.pop(send_id, None)
        return _Refused(UnknownMailbox("no such mailbox"))
    recv_id, count, nbytes = bytes(row[0]), int(row[1]), int(row[2])
    if not _fits(limits, count, nbytes, len(body)):
        conn.execute(_PURGE, (recv_id, now))  # expired envelopes stand in the way
        count, nbytes = conn.execute(_COUNTERS, (recv_id,)).fetchone()
        if not _fits(limits, count, nbytes, len(body)):
            return _Refused(QuotaExceeded("mailbox full"))
    conn.execute(_INSERT, (env_id, recv_id, body, expires_at))
    if len(recv_of) >= _MEMO_MAX:
        recv_of.clear()
    recv_of[send_id] = recv_id
    return recv_id, env_id


def _enqueue_wake(result: tuple[bytes, bytes], args: tuple[Any, ...]) -> _Wake:
    limits, _, _, body, now = args
    envelope = fresh_envelope(result[1], body, expires_at=now + limits.ttl_seconds, now=now)
    return result[0], envelope


def _fetch(
    conn: sqlite3.Connection, recv_id: bytes, limit: int, now: int
) -> list[StoredEnvelope] | _Refused:
    if conn.execute(_MAILBOX_EXISTS, (recv_id,)).fetchone() is None:
        return _Refused(UnknownMailbox("no such mailbox"))
    rows = conn.execute(_FETCH, (recv_id, now, max(limit, 0)))
    return [StoredEnvelope(id=bytes(i), body=bytes(b)) for i, b in rows]


def _ack(conn: sqlite3.Connection, recv_id: bytes, ids: tuple[bytes, ...]) -> int:
    if len(ids) <= _CHUNK:
        return int(conn.execute(_ack_sql(len(ids)), (recv_id, *ids)).rowcount)
    count = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        count += conn.execute(_ack_sql(len(chunk)), (recv_id, *chunk)).rowcount
    return count


def _create_feed(
    conn: sqlite3.Connection, feed_id: bytes, writer_key: bytes, now: int
) -> _Refused | None:
    try:
        conn.execute(
            "INSERT INTO feeds (feed_id, writer_key, created_at) VALUES (?, ?, ?)",
            (feed_id, writer_key, now),
        )
    except sqlite3.IntegrityError:
        return _Refused(AlreadyExists("feed id taken"))
    return None


def _feed_writer(conn: sqlite3.Connection, feed_id: bytes) -> bytes | None:
    row = conn.execute("SELECT writer_key FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone()
    return None if row is None else bytes(row[0])


def _append(
    conn: sqlite3.Connection, max_count: int, feed_id: bytes, body: bytes, now: int
) -> int | _Refused:
    row = conn.execute("SELECT next_pos FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone()
    if row is None:
        return _Refused(UnknownFeed("no such feed"))
    pos = int(row[0])
    if pos >= max_count:
        return _Refused(QuotaExceeded("feed full"))
    conn.execute(
        "INSERT INTO feed_entries (feed_id, pos, body, created_at) VALUES (?, ?, ?, ?)",
        (feed_id, pos, body, now),
    )
    conn.execute("UPDATE feeds SET next_pos = ? WHERE feed_id = ?", (pos + 1, feed_id))
    return pos


def _append_wake(result: int, args: tuple[Any, ...]) -> _Wake:
    return args[1], None


def _read_feed(
    conn: sqlite3.Connection, feed_id: bytes, offset: int, limit: int
) -> list[FeedEntry] | _Refused:
    if conn.execute("SELECT 1 FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone() is None:
        return _Refused(UnknownFeed("no such feed"))
    rows = conn.execute(
        "SELECT pos, body FROM feed_entries WHERE feed_id = ? AND pos >= ? ORDER BY pos LIMIT ?",
        (feed_id, offset, max(limit, 0)),
    )
    return [FeedEntry(offset=int(p), body=bytes(b)) for p, b in rows]


def _enqueue_forward(
    conn: sqlite3.Connection, target: str, send_id: bytes, body: bytes, now: int, expires_at: int
) -> int:
    cursor = conn.execute(
        "INSERT INTO forwards (target, send_id, body, next_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (target, send_id, body, now, expires_at),
    )
    return int(cursor.lastrowid or 0)


def _due_forwards(conn: sqlite3.Connection, now: int, limit: int) -> list[ForwardJob]:
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


def _forward_done(conn: sqlite3.Connection, job_id: int) -> None:
    conn.execute("DELETE FROM forwards WHERE id = ?", (job_id,))


def _forward_retry(conn: sqlite3.Connection, job_id: int, next_at: int) -> None:
    conn.execute(
        "UPDATE forwards SET attempts = attempts + 1, next_at = ? WHERE id = ?", (next_at, job_id)
    )


def _expire(conn: sqlite3.Connection, now: int) -> int:
    envelopes = conn.execute("DELETE FROM envelopes WHERE expires_at <= ?", (now,)).rowcount
    jobs = conn.execute("DELETE FROM forwards WHERE expires_at <= ?", (now,)).rowcount
    return int(envelopes + jobs)


def _stats(conn: sqlite3.Connection) -> dict[str, int]:
    boxes, envelopes, nbytes = conn.execute(
        "SELECT count(*), coalesce(sum(env_count), 0), coalesce(sum(env_bytes), 0) FROM mailboxes"
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
