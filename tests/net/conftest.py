"""The client connection is tested against real relay processes, on both stores.

Every test in this folder runs once on a SQLite relay and once on a PostgreSQL relay (in a
schema of its own, dropped afterwards); the latter skips without ``PAYK_TEST_POSTGRES``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.relay.harness import RelayProcess, start_relay

PG_ENV = "PAYK_TEST_POSTGRES"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def relay(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RelayProcess]:
    """A relay on a free loopback port, stopped with SIGTERM afterwards."""
    if request.param == "sqlite":
        process = await start_relay(tmp_path / "relay")
        yield process
        assert await process.terminate() == 0
        return
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL relay tests need a DSN there")
    import asyncpg

    schema = f"payk_t_{secrets.token_hex(6)}"
    url = f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    process = await start_relay(tmp_path / "relay", "--db", url)
    try:
        yield process
        assert await process.terminate() == 0
    finally:
        await process.kill()
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
