"""Client end to end: one sender, one receiver, one real relay process on loopback.

Strategy: the relay runs as ``python -m payk relay serve`` (SQLite, rate limits lifted so
the client is what is measured); both profiles run in this process through
``payk.client.Client`` with the fast KDF profile. Three figures: the latency of one message
from ``send`` to the receiver's ``listen`` yielding it (p50/p99 over sequential messages),
the throughput of a burst (messages/s from the first send to the last arrival; each send
returns once sealed and written, ``wait=False``, as an app's send button wants, the burst sharing
group commits), and the time for ``sync`` to fetch, decrypt and store N messages queued while
the receiver was offline (queued the same way, the rate including the flush to the relay).
Everything measured includes client crypto, the SQLCipher store and the relay together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from payk.client.facade import Client
from payk.client.store.header import KDF_PROFILES
from payk.protocol.address import RelayAddress

__all__ = ["run"]


@contextlib.asynccontextmanager
async def _relay(data: Path) -> AsyncIterator[RelayAddress]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "payk", "--json", "relay", "serve"),
        *("--listen", "127.0.0.1:0", "--data", str(data)),
        *("--rate", "1000000", "--burst", "1000000", "--mailbox-max-count", "1000000"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        yield RelayAddress.parse(json.loads(line)["address"])
    finally:
        process.terminate()
        await process.wait()


async def _pair(workdir: Path, relay: RelayAddress) -> tuple[Client, Client]:
    kdf = KDF_PROFILES["fast"]
    sender = Client.create(workdir / "s", "s", name="Sender", relays=[relay], kdf=kdf)
    receiver = Client.create(workdir / "r", "r", name="Receiver", relays=[relay], kdf=kdf)
    await sender.accept(await receiver.invite(), alias="Receiver")
    await receiver.sync()
    await sender.sync()
    return sender, receiver


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _latency_and_burst(
    sender: Client, receiver: Client, *, sequential: int, burst: int
) -> dict[str, Any]:
    stream = receiver.listen()
    latencies = []
    for i in range(sequential):
        started = time.perf_counter()
        pending = asyncio.ensure_future(anext(stream))
        await sender.send_text("Receiver", f"latency {i}")
        await asyncio.wait_for(pending, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    collector = asyncio.ensure_future(_collect(stream, burst))
    for i in range(burst):
        await sender.send_text("Receiver", f"burst {i}", wait=False)  # a send button's pace
    await asyncio.wait_for(collector, timeout=600)
    elapsed = time.perf_counter() - started
    await stream.aclose()
    return {
        "latency_ms": {
            "messages": sequential,
            "p50": round(statistics.median(latencies), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
        },
        "burst": {"messages": burst, "msgs_per_s": round(burst / elapsed, 1)},
    }


async def _collect(stream: AsyncIterator[Any], n: int) -> None:
    for _ in range(n):
        await anext(stream)


async def _offline_sync(sender: Client, receiver: Client, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    for i in range(n):
        await sender.send_text("Receiver", f"queued while offline {i}", wait=False)
    await sender.flush()  # all of it with the relay before the clock stops
    queue_seconds = time.perf_counter() - started
    started = time.perf_counter()
    got = 0
    while got < n:
        got += len(await receiver.sync())
    seconds = time.perf_counter() - started
    return {
        "messages": n,
        "send_msgs_per_s": round(n / queue_seconds, 1),
        "sync_seconds": round(seconds, 2),
        "sync_msgs_per_s": round(n / seconds, 1),
    }


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Client figures; ``quick`` shrinks the counts (150 offline messages, else 10,000)."""
    async with _relay(workdir / "relay") as relay:
        sender, receiver = await _pair(workdir, relay)
        try:
            live = await _latency_and_burst(
                sender, receiver, sequential=20 if quick else 300, burst=60 if quick else 2000
            )
            offline = await _offline_sync(sender, receiver, 150 if quick else 10_000)
        finally:
            await sender.close()
            await receiver.close()
    return {**live, "offline_sync": offline}
