"""Relay feeds for the in-memory twin, installed by the tests of groups and channels.

``MemoryRelayConnection`` has no feeds of its own; ``install`` gives it ``create_feed``,
``append`` and ``read_feed`` over one shared dict (feed id -> entries), and a relay the
network marks as down refuses them as a real one would.
"""

from __future__ import annotations

import pytest

from payk.net.memory import MemoryRelayConnection
from payk.net.relay import FeedCreds
from payk.protocol import primitives

FEEDS: dict[bytes, list[bytes]] = {}


async def _create_feed(self: MemoryRelayConnection) -> FeedCreds:
    self._check()  # a relay that is down refuses, like a real one
    creds = FeedCreds(feed_id=primitives.random_bytes(16), writer_seed=primitives.random_bytes(32))
    FEEDS[creds.feed_id] = []
    return creds


async def _append(self: MemoryRelayConnection, feed: FeedCreds, envelope: bytes) -> int:
    self._check()
    FEEDS[feed.feed_id].append(envelope)
    return len(FEEDS[feed.feed_id]) - 1


async def _read_feed(
    self: MemoryRelayConnection, feed_id: bytes, *, offset: int, limit: int = 100
) -> list[tuple[int, bytes]]:
    self._check()
    return entries(feed_id, offset, limit)


def entries(feed_id: bytes, offset: int, limit: int = 100) -> list[tuple[int, bytes]]:
    """A feed's entries from ``offset`` on, as a relay answers a read."""
    return [(offset + i, entry) for i, entry in enumerate(FEEDS[feed_id][offset : offset + limit])]


def install(monkeypatch: pytest.MonkeyPatch, *, reads: bool = True) -> None:
    """Give the twin's connections feeds (``reads``: also ``read_feed``)."""
    monkeypatch.setattr(MemoryRelayConnection, "create_feed", _create_feed, raising=False)
    monkeypatch.setattr(MemoryRelayConnection, "append", _append, raising=False)
    if reads:
        monkeypatch.setattr(MemoryRelayConnection, "read_feed", _read_feed, raising=False)
