"""Fixtures for the relay's end-to-end tests: a real relay process per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.relay.harness import RelayProcess, start_relay


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    """A SQLite relay on a free loopback port, stopped with SIGTERM afterwards."""
    process = await start_relay(tmp_path / "relay")
    yield process
    await process.terminate()
