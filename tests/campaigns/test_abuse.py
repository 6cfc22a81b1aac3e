"""Abuse at the relay: junk from one source while real clients talk.

Blocks of real traffic (two clients each sending, fetching and acking envelopes) alternate
with and without a junk generator in its own process (``tools.abuse``: random TCP bytes,
cut-off TLS hellos, HTTP GETs and POSTs, random WebSocket frames as fast as the relay takes
them). Each block's 99th-percentile request latency is measured; the median over the abuse
blocks must stay within 2x the median over the quiet blocks (medians of several blocks and
several hundred samples each keep this one ratio robust on a small, noisy machine). The
relay's resident memory, read from /proc, must stay bounded, and every envelope a client
sent must be fetched exactly once.
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
BLOCKS = 6  # quiet, abuse, quiet, abuse, ...
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
        "12",
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


@pytest.mark.timeout(180)
async def test_junk_from_one_source_barely_slows_real_clients(tmp_path: Path) -> None:
    relay = await start_relay(tmp_path / "relay")
    try:
        conns = [await RelayConnection.connect(relay.address) for _ in range(CLIENTS)]
        boxes = [await c.create_mailbox() for c in conns]
        await asyncio.gather(
            *(_client_block(c, b, "warm") for c, b in zip(conns, boxes, strict=True))
        )
        base_rss, peak = _rss(relay.pid), [0]
        quiet, abused, fetched = [], [], 0
        for block in range(BLOCKS):
            abuse = await _start_abuse(relay, 60) if block % 2 else None
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch_memory(relay.pid, peak, stop))
            results = await asyncio.gather(
                *(
                    _client_block(c, b, f"b{block}c{n}")
                    for n, (c, b) in enumerate(zip(conns, boxes, strict=True))
                )
            )
            stop.set()
            await watcher
            samples = [x for lat, _ in results for x in lat]
            fetched += sum(f for _, f in results)
            (abused if abuse else quiet).append(_p99(samples))
            if abuse is not None:
                abuse.terminate()
                await abuse.wait()
        for c in conns:
            await c.close()
        async with await RelayConnection.connect(relay.address) as conn:
            for box in boxes:
                rest = await conn.fetch(box, limit=1000)
                fetched += len(rest)
        assert fetched == BLOCKS * ROUNDS * CLIENTS
        before, during = statistics.median(quiet), statistics.median(abused)
        print(
            f"p99 quiet {before * 1000:.1f} ms, under abuse {during * 1000:.1f} ms; "
            f"RSS {base_rss >> 20} MiB -> peak {peak[0] >> 20} MiB"
        )
        assert during <= 2 * before, (
            f"p99 {before * 1000:.1f} ms quiet, {during * 1000:.1f} ms under abuse"
        )
        assert peak[0] - base_rss <= MEMORY_GROWTH_LIMIT, (base_rss, peak[0])
        assert relay.proc.returncode is None
    finally:
        await relay.terminate()
