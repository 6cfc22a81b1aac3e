"""One fixture, three backends: every conformance test runs on memory, SQLite and PostgreSQL.

PostgreSQL tests need ``PAYK_TEST_POSTGRES`` (a DSN); each test gets its own schema, dropped
afterwards, so runs never see each other's data.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from payk.relay.store import Limits, RelayStore
from payk.relay.store.memory import MemoryStore
from payk.relay.store.sqlite import SqliteStore

PG_ENV = "PAYK_TEST_POSTGRES"
PG_SKIP = f"{PG_ENV} is not set; PostgreSQL store tests need a DSN there"


@dataclass(frozen=True, slots=True)
class Backend:
    """Builds stores that all see the same data (for a persistent backend)."""

    name: str
    make: Callable[[Limits | None], RelayStore]
    persistent: bool


@dataclass(frozen=True, slots=True)
class Mailbox:
    recv_id: bytes
    send_id: bytes
    auth_key: bytes


def new_mailbox() -> Mailbox:
    return Mailbox(secrets.token_bytes(16), secrets.token_bytes(16), secrets.token_bytes(32))


async def create(store: RelayStore, now: int = 1_000) -> Mailbox:
    box = new_mailbox()
    await store.create_mailbox(
        recv_id=box.recv_id, send_id=box.send_id, auth_key=box.auth_key, now=now
    )
    return box


def pg_dsn() -> str:
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(PG_SKIP)
    return dsn


async def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    name: str = request.param
    if name == "memory":
        yield Backend(name, lambda limits: MemoryStore(limits=limits), persistent=False)
    elif name == "sqlite":
        path = tmp_path / "relay.db"
        yield Backend(name, lambda limits: SqliteStore(path, limits=limits), persistent=True)
    else:
        from payk.relay.store.postgres import PostgresStore

        dsn = pg_dsn()
        schema = f"payk_test_{secrets.token_hex(6)}"
        try:
            yield Backend(
                name,
                lambda limits: PostgresStore(dsn, schema=schema, limits=limits, pool_size=4),
                persistent=True,
            )
        finally:
            await drop_schema(dsn, schema)


Opener = Callable[..., Awaitable[RelayStore]]


@pytest.fixture
async def open_store_(backend: Backend) -> AsyncIterator[Opener]:
    """Open a store on the test's backend; every store opened is closed at teardown."""
    opened: list[RelayStore] = []

    async def opener(limits: Limits | None = None) -> RelayStore:
        store = backend.make(limits)
        await store.open()
        opened.append(store)
        return store

    yield opener
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(open_store_: Opener) -> RelayStore:
    return await open_store_()
