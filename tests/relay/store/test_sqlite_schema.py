"""The SQLite store's schema: upgrades in place, counters kept by triggers, one-statement sends."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from payk.relay.store import Limits, QuotaExceeded, UnknownMailbox, migrations
from payk.relay.store.sqlite import SqliteStore
from tests.relay.store.conftest import create, new_mailbox
from tests.relay.store.test_durability import _writer_held

NOW = 1_000
TTL = 100


def _write_schema_1(path: Path) -> sqlite3.Connection:
    """A database as payk with only migration 0001 left it."""
    first = migrations.load("sqlite")[0]
    assert first.version == 1
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE payk_schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    conn.executescript(first.sql)
    conn.execute("INSERT INTO payk_schema_version VALUES (1, ?)", (first.name,))
    return conn


def _old_enqueue(
    conn: sqlite3.Connection, recv_id: bytes, body: bytes, *, expires_at: int = NOW + TTL
) -> bytes:
    """What the schema-1 store ran for a send: an insert, then the counters by hand."""
    env_id = bytes([len(body)]) + body[:15].ljust(15, b".")
    conn.execute(
        "INSERT INTO envelopes (id, recv_id, body, expires_at) VALUES (?, ?, ?, ?)",
        (env_id, recv_id, body, expires_at),
    )
    conn.execute(
        "UPDATE mailboxes SET env_count = env_count + 1, env_bytes = env_bytes + ?"
        " WHERE recv_id = ?",
        (len(body), recv_id),
    )
    return env_id


def _old_ack(conn: sqlite3.Connection, recv_id: bytes, env_id: bytes) -> None:
    (size,) = conn.execute(
        "DELETE FROM envelopes WHERE id = ? RETURNING length(body)", (env_id,)
    ).fetchone()
    conn.execute(
        "UPDATE mailboxes SET env_count = env_count - 1, env_bytes = env_bytes - ?"
        " WHERE recv_id = ?",
        (size, recv_id),
    )


async def test_a_schema_1_database_upgrades_in_place_and_delivers_each_envelope_once_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "relay.db"
    conn = _write_schema_1(path)
    mine, theirs = new_mailbox(), new_mailbox()
    for box in (mine, theirs):
        conn.execute(
            "INSERT INTO mailboxes (recv_id, send_id, auth_key, created_at) VALUES (?, ?, ?, ?)",
            (box.recv_id, box.send_id, box.auth_key, NOW),
        )
    expected: list[tuple[bytes, bytes]] = []
    _old_enqueue(conn, mine.recv_id, b"expired", expires_at=NOW)
    for n in range(6):  # interleaved with another mailbox, so seq has gaps per mailbox
        body = b"old %d" % n
        expected.append((_old_enqueue(conn, mine.recv_id, body), body))
        _old_enqueue(conn, theirs.recv_id, b"theirs %d" % n)
    newest = _old_enqueue(conn, mine.recv_id, b"acked newest")
    _old_ack(conn, mine.recv_id, newest)  # sqlite_sequence is now above every stored seq
    (high_water,) = conn.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = 'envelopes'"
    ).fetchone()
    (top,) = conn.execute("SELECT max(seq) FROM envelopes").fetchone()
    assert high_water > top
    conn.close()

    limits = Limits(mailbox_max_count=8, ttl_seconds=TTL)  # 7 in mine, 1 of them expired
    store = SqliteStore(path, limits=limits)
    await store.open()
    try:
        got = await store.fetch(mine.recv_id, limit=50, now=NOW)
        assert [(e.id, e.body) for e in got] == expected
        stats = await store.stats()
        assert (stats["mailboxes"], stats["envelopes"]) == (2, 13)
        _, first_new = await store.enqueue(mine.send_id, b"new 1", now=NOW)
        await store.enqueue(mine.send_id, b"new 2", now=NOW)  # room made by purging
        with pytest.raises(QuotaExceeded):  # the counters came through the upgrade exactly
            await store.enqueue(mine.send_id, b"one too many", now=NOW)
        bodies = [e.body for e in await store.fetch(mine.recv_id, limit=50, now=NOW)]
        assert bodies == [body for _, body in expected] + [b"new 1", b"new 2"]
        assert await store.ack(mine.recv_id, [env_id for env_id, _ in expected]) == 6
        assert await store.ack(mine.recv_id, [env_id for env_id, _ in expected]) == 0
        after = await store.fetch(mine.recv_id, limit=50, now=NOW)
        assert [e.body for e in after] == [b"new 1", b"new 2"] and after[0].id == first_new
        assert len(await store.fetch(theirs.recv_id, limit=50, now=NOW)) == 6
    finally:
        await store.close()

    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM payk_schema_version").fetchall() == [(1,), (2,)]
        names = {name for (name,) in check.execute("SELECT name FROM sqlite_sequence")}
        assert "envelopes" not in names, "envelopes no longer use AUTOINCREMENT"
        assert _counters_drift(check) == []
    check.close()
    again = SqliteStore(path, limits=limits)
    await again.open()
    try:
        got = await again.fetch(mine.recv_id, limit=50, now=NOW)
        assert [e.body for e in got] == [b"new 1", b"new 2"]
    finally:
        await again.close()


def _counters_drift(conn: sqlite3.Connection) -> list[tuple[bytes, int, int, int, int]]:
    """Mailboxes whose counters differ from their envelopes."""
    rows = conn.execute(
        "SELECT m.recv_id, m.env_count, m.env_bytes, count(e.seq), coalesce(sum(length(e.body)), 0)"
        " FROM mailboxes AS m LEFT JOIN envelopes AS e ON e.recv_id = m.recv_id"
        " GROUP BY m.recv_id"
    ).fetchall()
    return [row for row in rows if (row[1], row[2]) != (row[3], row[4])]


async def test_triggers_keep_the_counters_exact_through_every_kind_of_delete(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "relay.db", limits=Limits(ttl_seconds=TTL, mailbox_max_count=4))
    await store.open()
    try:
        boxes = [await create(store) for _ in range(3)]
        ids = [
            (await store.enqueue(b.send_id, b"x" * (n + 1), now=NOW))[1]
            for n, b in enumerate(boxes * 2)
        ]
        await store.enqueue(boxes[0].send_id, b"later", now=NOW + 50)
        assert await store.ack(boxes[1].recv_id, [ids[1], ids[4], ids[0]]) == 2
        assert await store.expire(now=NOW + TTL) == 4
        await store.delete_mailbox(boxes[2].recv_id)
        for _ in range(3):
            await store.enqueue(boxes[0].send_id, b"yy", now=NOW + 50 + TTL)
        # full only while the expired "later" counts: it is purged to make room
        await store.enqueue(boxes[0].send_id, b"z", now=NOW + 50 + TTL)
        with pytest.raises(QuotaExceeded):
            await store.enqueue(boxes[0].send_id, b"w", now=NOW + 50 + TTL)
        stats = await store.stats()
        assert (stats["mailboxes"], stats["envelopes"], stats["bytes"]) == (2, 4, 7)
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "relay.db") as conn:
        assert _counters_drift(conn) == []
    conn.close()


async def test_an_envelope_goes_to_the_mailbox_that_now_owns_the_send_id(tmp_path: Path) -> None:
    """The writer's remembered send id -> receive id is only a guess, checked by the insert."""
    store = SqliteStore(tmp_path / "relay.db")
    await store.open()
    try:
        first = await create(store)
        assert (await store.enqueue(first.send_id, b"a", now=NOW))[0] == first.recv_id
        await store.delete_mailbox(first.recv_id)
        with pytest.raises(UnknownMailbox):
            await store.enqueue(first.send_id, b"gone", now=NOW)
        await store.create_mailbox(
            recv_id=b"n" * 16, send_id=first.send_id, auth_key=b"k" * 32, now=NOW
        )
        assert (await store.enqueue(first.send_id, b"b", now=NOW))[0] == b"n" * 16
        await store.delete_mailbox(b"n" * 16)
        await store.create_mailbox(
            recv_id=b"m" * 16, send_id=first.send_id, auth_key=b"k" * 32, now=NOW
        )
        assert (await store.enqueue(first.send_id, b"c", now=NOW))[0] == b"m" * 16
        assert [e.body for e in await store.fetch(b"m" * 16, limit=5, now=NOW)] == [b"c"]
    finally:
        await store.close()


async def test_a_refusal_does_not_make_its_batch_run_twice(tmp_path: Path) -> None:
    """Quota and unknown-mailbox refusals are answers: the batch commits in one pass."""
    store = SqliteStore(tmp_path / "relay.db", limits=Limits(mailbox_max_count=1))
    await store.open()
    runs = 0
    lock = threading.Lock()

    def counted(conn: sqlite3.Connection) -> None:
        nonlocal runs
        with lock:
            runs += 1

    try:
        full, spare = await create(store), await create(store)
        await store.enqueue(full.send_id, b"fills it", now=NOW)
        async with _writer_held(store) as later:
            refused = later(store.enqueue(full.send_id, b"no room", now=NOW))
            unknown = later(store.enqueue(b"u" * 16, b"nobody", now=NOW))
            neighbour = later(store._writer.submit(counted))
            stored = later(store.enqueue(spare.send_id, b"fits", now=NOW))
        results = await asyncio.gather(refused, unknown, neighbour, return_exceptions=True)
        assert isinstance(results[0], QuotaExceeded)
        assert isinstance(results[1], UnknownMailbox)
        assert results[2] is None and runs == 1, "the neighbour ran once"
        assert (await stored)[0] == spare.recv_id
        assert [e.body for e in await store.fetch(full.recv_id, limit=5, now=NOW)] == [b"fills it"]
    finally:
        await store.close()
