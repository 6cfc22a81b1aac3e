"""Abuse at the relay: junk from one source while real clients talk.

Blocks of real traffic (two clients each sending, fetching and acking envelopes) alternate
with and without a junk generator in its own, lower-priority process (``tools.abuse``:
eight tasks of random TCP bytes, cut-off TLS hellos, HTTP GETs and POSTs, and random
WebSocket frames every 5 ms per connection, about 1,000 junk frames a second). Each block's
99th-percentile request latency is measured; the median over the abuse blocks must stay
within 2x the median over the quiet blocks (medians of several blocks of several hundred
samples keep this one ratio robust on a small, noisy machine). The relay's resident memory,
read from /proc, must stay bounded, and every envelope a client sent must arrive once.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import pytest

from payk.net.relay import MailboxCreds, RelayConnection
from tests.relay.harness import RelayProcess, start_relay

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BLOCKS = 8  # quiet, abuse, quiet, abuse, ...
ROUNDS = 60  # per client per block: send + fetch + ack = 3 requests each
CLIENTS = 2
MEMORY_GROWTH_LIMIT = 64 * 2**20


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def _client_block(
    conn: RelayConnection, box: MailboxCreds, tag: str
) -> tuple[list[float], int]:
    latencies: list[float] = []
    fetched = 0
    for i in range(ROUNDS):
        for step in range(3):
            began = time.perf_counter()
            if step == 0:
                await conn.send(box.send_id, f"{tag}-{i}".encode().ljust(1024, b"."))
            elif step == 1:
                batch = await conn.fetch(box, limit=10)
            else:
                await conn.ack(box, [d.id for d in batch])
                fetched += len(batch)
            latencies.append(time.perf_counter() - began)
    return latencies, fetched


async def _start_abuse(relay: RelayProcess, seconds: float) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.abuse",
        "--port",
        str(relay.address.port),
        "--seconds",
        str(seconds),
        "--connections",
        "8",
        "--pace",
        "0.005",
        "--nice",
        "10",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    await asyncio.sleep(0.3)  # let the junk ramp up before measuring
    return proc


async def _watch_memory(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _rss(pid))
        await asyncio.sleep(0.1)


async def _block(
    relay: RelayProcess, pairs: list[tuple[RelayConnection, MailboxCreds]], n: int, peak: list[int]
) -> tuple[float, int]:
    """One block of client traffic (with junk when ``n`` is odd): its p99 and fetched count."""
    abuse = await _start_abuse(relay, 60) if n % 2 else None
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_memory(relay.pid, peak, stop))
    results = await asyncio.gather(
        *(_client_block(conn, box, f"b{n}c{i}") for i, (conn, box) in enumerate(pairs))
    )
    stop.set()
    await watcher
    if abuse is not None:
        abuse.terminate()
        await abuse.wait()
    return _p99([x for lat, _ in results for x in lat]), sum(f for _, f in results)


@pytest.mark.timeout(180)
async def test_junk_from_one_source_barely_slows_real_clients(tmp_path: Path) -> None:
    relay = await start_relay(tmp_path / "relay")
    try:
        conns = [await RelayConnection.connect(relay.address) for _ in range(CLIENTS)]
        pairs = [(conn, await conn.create_mailbox()) for conn in conns]
        await asyncio.gather(*(_client_block(conn, box, "warm") for conn, box in pairs))
        base_rss, peak = _rss(relay.pid), [0]
        blocks = [await _block(relay, pairs, n, peak) for n in range(BLOCKS)]
        for conn in conns:
            await conn.close()
        async with await RelayConnection.connect(relay.address) as conn:
            left = [len(await conn.fetch(box, limit=1000)) for _, box in pairs]
        assert sum(f for _, f in blocks) + sum(left) == BLOCKS * ROUNDS * CLIENTS
        before = statistics.median(p for p, _ in blocks[0::2])
        during = statistics.median(p for p, _ in blocks[1::2])
        print(
            f"p99 quiet {before * 1000:.1f} ms, under abuse {during * 1000:.1f} ms; "
            f"RSS {base_rss >> 20} MiB -> peak {peak[0] >> 20} MiB"
        )
        assert during <= 2 * before, (before, during)
        assert peak[0] - base_rss <= MEMORY_GROWTH_LIMIT, (base_rss, peak[0])
        assert relay.proc.returncode is None
    finally:
        await relay.terminate()
