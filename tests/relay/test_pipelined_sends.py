"""A window of sends on one connection: answered in order, one group commit, nothing overtaken.

The relay handles ``Send`` frames while it reads the next ones, so a client that writes a
window without waiting pays one fsync for it; these tests run the real server in this process
(TLS over loopback, the SQLite store) to count its commits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from payk.net.relay import RelayConnection
from payk.relay.app import RelayServer
from payk.relay.config import RelayConfig
from payk.relay.store.sqlite import SqliteStore

WINDOW = 40


async def _server(tmp_path: Path) -> tuple[RelayServer, SqliteStore]:
    store = SqliteStore(tmp_path / "relay.db")
    config = RelayConfig(
        data_dir=tmp_path, db_url="memory:", port=0, rate=1_000_000, burst=1_000_000
    )
    server = RelayServer(config, store=store)
    await server.start()
    return server, store


async def test_a_window_of_sends_is_one_group_commit_in_order(tmp_path: Path) -> None:
    server, store = await _server(tmp_path)
    assert server.address is not None
    try:
        async with (
            await RelayConnection.connect(server.address) as owner,
            await RelayConnection.connect(server.address) as sender,
        ):
            box = await owner.create_mailbox()
            before = store.commits
            bodies = [f"envelope {i}".encode() for i in range(WINDOW)]
            await asyncio.gather(*(sender.send(box.send_id, body) for body in bodies))
            commits = store.commits - before
            fetched = await owner.fetch(box, limit=WINDOW)
        assert [d.envelope for d in fetched] == bodies  # stored in the order written
        assert commits < WINDOW // 4  # not one fsync per envelope
    finally:
        await server.stop()


async def test_other_requests_wait_for_the_writes_before_them(tmp_path: Path) -> None:
    server, _ = await _server(tmp_path)
    assert server.address is not None
    try:
        async with await RelayConnection.connect(server.address) as conn:
            box = await conn.create_mailbox()
            assert await conn.fetch(box) == []  # proves the mailbox: the next fetch is one frame
            sends = [conn.send(box.send_id, f"m {i}".encode()) for i in range(WINDOW)]
            fetch = conn.fetch(box, limit=WINDOW)  # written right behind the window
            *_, fetched = await asyncio.gather(*sends, fetch)
        assert len(fetched) == WINDOW  # the fetch saw every write that came before it
    finally:
        await server.stop()
