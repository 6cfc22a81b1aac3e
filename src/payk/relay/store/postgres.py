"""The relay store on PostgreSQL, shared by any number of relay processes.

Strategy: an asyncpg pool for the work plus one dedicated connection that LISTENs. Every
connection runs with ``synchronous_commit=on`` (a write is acknowledged only once durable)
and, when a schema is given, ``search_path`` set to it, so several relays (or test runs)
can share one database. The one exception is ``ack``: its transaction runs with
``SET LOCAL synchronous_commit = off``, so it does not wait for the WAL flush; a crash of
the database server may undo the last acks (well under a second of them), which only
delivers those envelopes again (clients drop envelopes they have seen), and never
reorders them against durable writes. Consistency across processes comes from row locks:

* a mailbox row carries its envelope counters; every path that changes a mailbox's
  envelopes locks that row first (``FOR UPDATE``), so quotas hold under concurrency and
  lock order is always mailbox row, then envelope rows (``expire`` locks many mailbox rows
  in key order first), which leaves no room for deadlocks;
* ``UPDATE feeds ... RETURNING`` hands out feed offsets under the feed row's lock;
* ``due_forwards`` claims jobs with ``FOR UPDATE SKIP LOCKED`` and a lease.

Each enqueue and append sends ``pg_notify`` inside its transaction (payload: the hex
receive id or feed id), delivered only on commit. The listener fires the wake-ups for
notifications from other processes (no envelope with them: subscribers fetch); this
process's own writes wake up directly, handing on the stored envelope, and
notifications sent by this store's pool connections (known by backend pid) are skipped.
If the listening connection drops it is re-established; wake-ups sent meanwhile are lost,
so subscribers must still poll now and then.

Schema changes are the numbered files in ``migrations/postgres``, applied under an
advisory lock so processes starting together migrate once. Database failures become
``StorageError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg

from payk.errors import StorageError, UsageError
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

__all__ = ["PostgresStore"]

_log = logging.getLogger(__name__)
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_LOCK = 0x7061796B  # "payk"
_RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class PostgresStore:
    """A ``RelayStore`` on PostgreSQL.

    Args:
        dsn: a libpq-style URL understood by asyncpg (``postgresql://user@host/db``).
        schema: tables live in this schema (created if missing); None means the default
            ``search_path``. Lowercase letters, digits and ``_`` only.
        limits: quotas and lifetimes.
        pool_size: the most connections the pool opens.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        limits: Limits | None = None,
        pool_size: int = 10,
    ) -> None:
        if schema is not None and not _SCHEMA_RE.match(schema):
            raise UsageError("a PostgreSQL schema name is lowercase letters, digits and _")
        self.limits = limits or Limits()
        self.ordered_writes = False  # concurrent transactions may commit in another order
        self.schema = schema
        self._dsn = dsn
        self._pool_size = pool_size
        self._settings = {"synchronous_commit": "on"}
        if schema is not None:
            self._settings["search_path"] = schema
        self.channel = "payk_relay" if schema is None else f"payk_relay.{schema}"
        self._wakeups = Wakeups()
        self._own_pids: set[int] = set()
        self._pool: Any = None
        self._listener: Any = None
        self._reconnect: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle

    async def open(self) -> None:
        self._closing = False
        try:
            await self._migrate()
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                server_settings=self._settings,
                init=self._init_connection,
            )
            await self._listen()
        except _DB_ERRORS as exc:
            await self.close()
            raise StorageError("the relay database is not reachable") from exc

    async def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        if self._listener is not None:
            with contextlib.suppress(*_DB_ERRORS):
                await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def on_enqueue(self, callback: Callable[[bytes], None]) -> None:
        self._wakeups.add(callback)

    def on_wake(self, callback: WakeCallback) -> None:
        self._wakeups.add_wake(callback)

    async def _migrate(self) -> None:
        conn = await asyncpg.connect(self._dsn, server_settings=self._settings)
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                if self.schema is not None:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await _apply_migrations(conn)
        finally:
            await conn.close()

    async def _init_connection(self, conn: Any) -> None:
        self._own_pids.add(int(conn.get_server_pid()))

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._dsn, server_settings=self._settings)
        await conn.add_listener(self.channel, self._on_notify)
        conn.add_termination_listener(self._on_listener_lost)
        self._listener = conn

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if pid in self._own_pids:
            return
        try:
            key = bytes.fromhex(payload)
        except ValueError:
            return
        self._wakeups.fire(key)

    def _on_listener_lost(self, conn: Any) -> None:
        if not self._closing and self._reconnect is None:
            _log.warning("the relay store lost its notification connection; reconnecting")
            self._reconnect = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                await self._listen()
            except _DB_ERRORS:
                delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
                attempt += 1
                await asyncio.sleep(delay)
            else:
                break
        self._reconnect = None

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Any]:
        """A pooled connection inside a transaction; database errors become StorageError."""
        if self._pool is None:
            raise StorageError("the relay store is not open")
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield conn
        except _DB_ERRORS as exc:
            raise StorageError("the relay database failed") from exc

    async def _notify(self, conn: Any, key: bytes) -> None:
        await conn.execute("SELECT pg_notify($1, $2)", self.channel, key.hex())

    # -- mailboxes

    async def create_mailbox(
        self, *, recv_id: bytes, send_id: bytes, auth_key: bytes, now: int
    ) -> None:
        async with self._tx() as conn:
            try:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO mailboxes (recv_id, send_id, auth_key, created_at)"
                        " VALUES ($1, $2, $3, $4)",
                        recv_id,
                        send_id,
                        auth_key,
                        now,
                    )
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists("mailbox id taken") from exc

    async def auth_key(self, recv_id: bytes) -> bytes | None:
        async with self._tx() as conn:
            key = await conn.fetchval("SELECT auth_key FROM mailboxes WHERE recv_id = $1", recv_id)
        return None if key is None else bytes(key)

    async def delete_mailbox(self, recv_id: bytes) -> None:
        async with self._tx() as conn:
            gone = await conn.fetchval(
                "DELETE FROM mailboxes WHERE recv_id = $1 RETURNING 1", recv_id
            )
            if gone is None:
                raise UnknownMailbox("no such mailbox")

    async def enqueue(self, send_id: bytes, body: bytes, *, now: int) -> tuple[bytes, bytes]:
        env_id = os.urandom(ID_LEN)
        async with self._tx() as conn:
            row = await conn.fetchrow(
                "SELECT recv_id, env_count, env_bytes FROM mailboxes WHERE send_id = $1 FOR UPDATE",
                send_id,
            )
            if row is None:
                raise UnknownMailbox("no such mailbox")
            recv_id = bytes(row[0])
            if not self._fits(int(row[1]), int(row[2]), len(body)):
                count, nbytes = await _purge_mailbox(conn, recv_id, now)
                if not self._fits(count, nbytes, len(body)):
                    raise QuotaExceeded("mailbox full")
            expires_at = now + self.limits.ttl_seconds
            await _insert_envelope(conn, recv_id, env_id, body, expires_at)
            await self._notify(conn, recv_id)
        self._wakeups.fire(recv_id, fresh_envelope(env_id, body, expires_at=expires_at, now=now))
        return recv_id, env_id

    def _fits(self, count: int, nbytes: int, size: int) -> bool:
        return (
            count < self.limits.mailbox_max_count and nbytes + size <= self.limits.mailbox_max_bytes
        )

    async def fetch(self, recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
        async with self._tx() as conn:
            if await conn.fetchval("SELECT 1 FROM mailboxes WHERE recv_id = $1", recv_id) is None:
                raise UnknownMailbox("no such mailbox")
            rows = await conn.fetch(
                "SELECT id, body FROM envelopes WHERE recv_id = $1 AND expires_at > $2"
                " ORDER BY seq LIMIT $3",
                recv_id,
                now,
                max(limit, 0),
            )
        return [StoredEnvelope(id=bytes(r[0]), body=bytes(r[1])) for r in rows]

    async def ack(self, recv_id: bytes, ids: Sequence[bytes]) -> int:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        async with self._tx() as conn:
            await conn.execute("SET LOCAL synchronous_commit = off")
            locked = await conn.fetchval(
                "SELECT 1 FROM mailboxes WHERE recv_id = $1 FOR UPDATE", recv_id
            )
            if locked is None:
                return 0
            sizes = await conn.fetch(
                "DELETE FROM envelopes WHERE recv_id = $1 AND id = ANY($2::bytea[])"
                " RETURNING length(body)",
                recv_id,
                wanted,
            )
            await _uncount(conn, recv_id, len(sizes), sum(int(r[0]) for r in sizes))
        return len(sizes)

    # -- feeds

    async def create_feed(self, *, feed_id: bytes, writer_key: bytes, now: int) -> None:
        async with self._tx() as conn:
            try:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO feeds (feed_id, writer_key, created_at) VALUES ($1, $2, $3)",
                        feed_id,
                        writer_key,
                        now,
                    )
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists("feed id taken") from exc

    async def feed_writer(self, feed_id: bytes) -> bytes | None:
        async with self._tx() as conn:
            key = await conn.fetchval("SELECT writer_key FROM feeds WHERE feed_id = $1", feed_id)
        return None if key is None else bytes(key)

    async def append(self, feed_id: bytes, body: bytes, *, now: int) -> int:
        async with self._tx() as conn:
            pos = await conn.fetchval(
                "UPDATE feeds SET next_pos = next_pos + 1"
                " WHERE feed_id = $1 AND next_pos < $2 RETURNING next_pos - 1",
                feed_id,
                self.limits.feed_max_count,
            )
            if pos is None:
                if await conn.fetchval("SELECT 1 FROM feeds WHERE feed_id = $1", feed_id):
                    raise QuotaExceeded("feed full")
                raise UnknownFeed("no such feed")
            await conn.execute(
                "INSERT INTO feed_entries (feed_id, pos, body, created_at) VALUES ($1, $2, $3, $4)",
                feed_id,
                pos,
                body,
                now,
            )
            await self._notify(conn, feed_id)
        self._wakeups.fire(feed_id)
        return int(pos)

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int) -> list[FeedEntry]:
        async with self._tx() as conn:
            if await conn.fetchval("SELECT 1 FROM feeds WHERE feed_id = $1", feed_id) is None:
                raise UnknownFeed("no such feed")
            rows = await conn.fetch(
                "SELECT pos, body FROM feed_entries WHERE feed_id = $1 AND pos >= $2"
                " ORDER BY pos LIMIT $3",
                feed_id,
                offset,
                max(limit, 0),
            )
        return [FeedEntry(offset=int(r[0]), body=bytes(r[1])) for r in rows]

    # -- forwarding

    async def enqueue_forward(self, *, target: str, send_id: bytes, body: bytes, now: int) -> int:
        async with self._tx() as conn:
            job_id = await conn.fetchval(
                "INSERT INTO forwards (target, send_id, body, next_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                target,
                send_id,
                body,
                now,
                now + self.limits.ttl_seconds,
            )
        return int(job_id)

    async def due_forwards(self, *, now: int, limit: int) -> list[ForwardJob]:
        async with self._tx() as conn:
            rows = await conn.fetch(
                "WITH due AS (SELECT id, next_at FROM forwards"
                "  WHERE next_at <= $1 AND expires_at > $1 ORDER BY next_at, id LIMIT $3"
                "  FOR UPDATE SKIP LOCKED)"
                " UPDATE forwards f SET next_at = $2 FROM due WHERE f.id = due.id"
                " RETURNING f.id, f.target, f.send_id, f.body, f.attempts, due.next_at",
                now,
                now + FORWARD_LEASE_SECONDS,
                max(limit, 0),
            )
        rows = sorted(rows, key=lambda r: (r[5], r[0]))
        return [
            ForwardJob(
                id=int(r[0]), target=r[1], send_id=bytes(r[2]), body=bytes(r[3]), attempts=int(r[4])
            )
            for r in rows
        ]

    async def forward_done(self, job_id: int) -> None:
        async with self._tx() as conn:
            await conn.execute("DELETE FROM forwards WHERE id = $1", job_id)

    async def forward_retry(self, job_id: int, *, next_at: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE forwards SET attempts = attempts + 1, next_at = $2 WHERE id = $1",
                job_id,
                next_at,
            )

    # -- housekeeping

    async def expire(self, *, now: int) -> int:
        async with self._tx() as conn:
            await conn.execute(
                "SELECT 1 FROM mailboxes WHERE recv_id IN"
                " (SELECT recv_id FROM envelopes WHERE expires_at <= $1)"
                " ORDER BY recv_id FOR UPDATE",
                now,
            )
            dropped = await conn.fetchval(
                "WITH gone AS (DELETE FROM envelopes WHERE expires_at <= $1"
                "  RETURNING recv_id, length(body) AS size),"
                " totals AS (SELECT recv_id, count(*) AS n, sum(size) AS b"
                "  FROM gone GROUP BY recv_id),"
                " fixed AS (UPDATE mailboxes m SET env_count = m.env_count - t.n,"
                "  env_bytes = m.env_bytes - t.b FROM totals t WHERE m.recv_id = t.recv_id"
                "  RETURNING 1)"
                " SELECT coalesce(sum(n), 0) FROM totals",
                now,
            )
            jobs = await conn.fetchval(
                "WITH gone AS (DELETE FROM forwards WHERE expires_at <= $1 RETURNING 1)"
                " SELECT count(*) FROM gone",
                now,
            )
        return int(dropped) + int(jobs)

    async def stats(self) -> dict[str, int]:
        async with self._tx() as conn:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM mailboxes),"
                " (SELECT coalesce(sum(env_count), 0) FROM mailboxes),"
                " (SELECT coalesce(sum(env_bytes), 0) FROM mailboxes),"
                " (SELECT count(*) FROM feeds), (SELECT count(*) FROM forwards)"
            )
        keys = ("mailboxes", "envelopes", "bytes", "feeds", "forwards")
        return {key: int(value) for key, value in zip(keys, row, strict=True)}


async def _apply_migrations(conn: Any) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS payk_schema_version"
        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    current = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM payk_schema_version"))
    known = migrations.load("postgres")
    if known and current > known[-1].version:
        raise StorageError("the relay database was written by a newer payk")
    for step in (m for m in known if m.version > current):
        await conn.execute(step.sql)
        await conn.execute(
            "INSERT INTO payk_schema_version (version, name) VALUES ($1, $2)",
            step.version,
            step.name,
        )


async def _uncount(conn: Any, recv_id: bytes, count: int, nbytes: int) -> None:
    if count:
        await conn.execute(
            "UPDATE mailboxes SET env_count = env_count - $2, env_bytes = env_bytes - $3"
            " WHERE recv_id = $1",
            recv_id,
            count,
            nbytes,
        )


async def _purge_mailbox(conn: Any, recv_id: bytes, now: int) -> tuple[int, int]:
    sizes = await conn.fetch(
        "DELETE FROM envelopes WHERE recv_id = $1 AND expires_at <= $2 RETURNING length(body)",
        recv_id,
        now,
    )
    await _uncount(conn, recv_id, len(sizes), sum(int(r[0]) for r in sizes))
    row = await conn.fetchrow(
        "SELECT env_count, env_bytes FROM mailboxes WHERE recv_id = $1", recv_id
    )
    return int(row[0]), int(row[1])


async def _insert_envelope(
    conn: Any, recv_id: bytes, env_id: bytes, body: bytes, expires_at: int
) -> None:
    await conn.execute(
        "INSERT INTO envelopes (id, recv_id, body, expires_at) VALUES ($1, $2, $3, $4)",
        env_id,
        recv_id,
        body,
        expires_at,
    )
    await conn.execute(
        "UPDATE mailboxes SET env_count = env_count + 1, env_bytes = env_bytes + $2"
        " WHERE recv_id = $1",
        recv_id,
        len(body),
    )
