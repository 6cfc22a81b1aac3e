"""The client connection is tested against real relay processes, on both stores.

Every test in this folder runs once on a SQLite relay and once on a PostgreSQL relay (in a
schema of its own, dropped afterwards); the latter skips without ``PAYK_TEST_POSTGRES``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.relay.harness import RelayProcess, postgres_schema_url, start_relay


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def relay(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RelayProcess]:
    """A relay on a free loopback port, stopped with SIGTERM afterwards."""
    if request.param == "sqlite":
        process = await start_relay(tmp_path / "relay")
        yield process
        assert await process.terminate() == 0
        return
    async with postgres_schema_url("each PostgreSQL relay test") as url:
        process = await start_relay(tmp_path / "relay", "--db", url)
        try:
            yield process
            assert await process.terminate() == 0
        finally:
            await process.kill()
