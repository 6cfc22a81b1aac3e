"""Several relay processes on one PostgreSQL database behave as one relay.

Needs ``PAYK_TEST_POSTGRES`` (a DSN); each test works in its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payk.net.relay import RelayConnection
from tests.relay.harness import postgres_schema_url, start_relay

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_schema_url("the multi-process relay test") as url:
        yield url


async def test_two_processes_share_mailboxes_and_wake_each_other(
    pg_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "relay"
    one = await start_relay(data, "--db", pg_url)
    two = await start_relay(data, "--db", pg_url)
    try:
        assert one.address.fingerprint == two.address.fingerprint
        assert one.address.port != two.address.port
        async with (
            await RelayConnection.connect(two.address) as owner,
            await RelayConnection.connect(one.address) as contact,
        ):
            box = await owner.create_mailbox()
            await owner.subscribe(box)
            await contact.send(box.send_id, b"across processes")
            async with asyncio.timeout(10):
                pushed = await anext(aiter(owner.deliveries()))
            assert pushed.envelope == b"across processes"
            await owner.ack(box, [pushed.id])
            async with await RelayConnection.connect(one.address) as again:
                assert await again.fetch(box) == []
    finally:
        assert await one.terminate() == 0
        assert await two.terminate() == 0


async def test_feeds_written_on_one_process_are_read_on_the_other(
    pg_url: str, tmp_path: Path
) -> None:
    one = await start_relay(tmp_path / "a", "--db", pg_url)
    two = await start_relay(tmp_path / "b", "--db", pg_url)
    try:
        async with await RelayConnection.connect(one.address) as writer:
            feed = await writer.create_feed()
            await writer.append(feed, b"post")
        async with await RelayConnection.connect(two.address) as reader:
            assert await reader.read_feed(feed.feed_id, offset=0) == [(0, b"post")]
            assert await reader.read_feed(feed.feed_id, offset=1) == []
    finally:
        await one.terminate()
        await two.terminate()
