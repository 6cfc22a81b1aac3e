"""Scale curves: the relay with many mailboxes, and sync time against the backlog.

Strategy: two curves, each point measured in this run.

* Relay vs mailboxes: for N in 1k / 10k (and 100k in the full run) a fresh relay data folder
  is filled through the relay's own ``SqliteStore`` with N mailboxes, each holding one
  256-byte envelope (a relay whose users are mostly offline), then ``payk relay serve``
  starts on it (``bench.relay``'s process helper) and ``bench.loadgen`` drives the same
  sender/receiver load against it three times (once in the quick run). Per point: median
  messages/s, relay CPU per message (``bench.mosquitto_peer.cpu_ns``), p50/p99 latency, and
  the relay's resident memory (``VmRSS``) idle after start and after the loads.
* Sync vs backlog: for several N, a sender queues N messages while the receiver is offline,
  then the receiver's ``sync`` fetches, decrypts and stores them (``bench.client``'s relay,
  pairing and offline-sync helpers, one fresh relay and pair per point).

Sync points are one measurement each (repeats would multiply the minutes); the curves'
shape, not one point, is the figure to read. Nothing is printed.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
from pathlib import Path
from typing import Any

from bench import client as payk_client
from bench import relay as relay_bench
from bench.mosquitto_peer import cpu_ns
from payk.relay.store.sqlite import SqliteStore

__all__ = ["run"]

BODY_BYTES = 256
REPEATS = 3  # loads per relay point in the full run; the quick run loads each point once
_BATCH = 2000
_NOW = 1_000_000_000


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _fill(db: Path, mailboxes: int) -> None:
    """N mailboxes, one waiting envelope each, written in group-committed batches."""
    store = SqliteStore(db)
    await store.open()
    try:
        body = secrets.token_bytes(BODY_BYTES)
        for start in range(0, mailboxes, _BATCH):
            sends = [secrets.token_bytes(16) for _ in range(min(_BATCH, mailboxes - start))]
            await asyncio.gather(
                *(
                    store.create_mailbox(
                        recv_id=secrets.token_bytes(16), send_id=s, auth_key=bytes(32), now=_NOW
                    )
                    for s in sends
                )
            )
            await asyncio.gather(*(store.enqueue(s, body, now=_NOW) for s in sends))
    finally:
        await store.close()


async def _relay_point(
    workdir: Path, mailboxes: int, pairs: int, count: int, repeats: int
) -> dict[str, Any]:
    data = workdir / "payk-relay"
    data.mkdir(parents=True)
    await _fill(data / "relay.db", mailboxes)
    loads = []
    async with relay_bench._payk(workdir) as (pid, address):
        idle = rss_mib(pid)
        for _ in range(repeats):
            before = cpu_ns(pid)
            load = await relay_bench._load("payk", address, pairs, count)
            load["server_cpu_us_per_msg"] = (cpu_ns(pid) - before) / 1000 / max(1, load["received"])
            loads.append(load)
        loaded = rss_mib(pid)
    figures: dict[str, Any] = {"mailboxes": mailboxes}
    for key in ("msgs_per_s", "server_cpu_us_per_msg", "latency_p50_ms", "latency_p99_ms"):
        figures[key] = statistics.median(load[key] for load in loads)
    figures["lost"] = sum(load["lost"] for load in loads)
    figures["rss_idle_mib"], figures["rss_loaded_mib"] = round(idle, 1), round(loaded, 1)
    return figures


async def _sync_point(workdir: Path, messages: int) -> dict[str, Any]:
    async with payk_client._relay(workdir / "relay") as relay:
        sender, receiver = await payk_client._pair(workdir, relay)
        try:
            figures = await payk_client._offline_sync(sender, receiver, messages)
        finally:
            await sender.close()
            await receiver.close()
    figures["sync_seconds"] = messages / figures["sync_msgs_per_s"]  # unrounded
    return figures


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Both curves; ``quick`` stops at 10k mailboxes and a 150-message backlog.

    The quick run loads each relay point once (no median over repeats): the curve's two
    points are compared with each other, not repeats of one point.
    """
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    backlogs = (20, 60, 150) if quick else (100, 1_000, 3_000, 10_000)
    pairs, count = (10, 20) if quick else (20, 100)
    repeats = 1 if quick else REPEATS
    relay_points = []
    for size in sizes:
        point = workdir / f"relay-{size}"
        relay_points.append(await _relay_point(point, size, pairs, count, repeats))
    sync_points = []
    for backlog in backlogs:
        point_dir = workdir / f"sync-{backlog}"
        point_dir.mkdir()
        sync_points.append(await _sync_point(point_dir, backlog))
    return {
        "relay_vs_mailboxes": {
            "load": f"{pairs} sender/receiver pairs x {count} messages of 256 B",
            "points": relay_points,
        },
        "sync_vs_backlog": {"points": sync_points},
    }
