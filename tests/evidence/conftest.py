"""Evidence test fixtures: fast key derivation, a profile with a vault, and JPEG samples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.net.memory import MemoryNetwork


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYK_KDF_PROFILE", "fast")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: int = 1_764_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    net = MemoryNetwork()
    relay = net.add_relay(4100)
    alice = Client.create(
        tmp_path / "alice", "pa", name="Alice", relays=[relay], network=net, clock=Clock()
    )
    yield alice
    await alice.close()
