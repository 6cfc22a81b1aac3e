"""Relay store benchmark: SQLite enqueue throughput with 1 and with 100 concurrent writers.

Strategy: every repeat opens a fresh SQLite store (WAL, synchronous=FULL) in ``data_dir``,
creates one mailbox per writer and lets the writers enqueue fixed-size envelopes, each
writer awaiting its own enqueues one after another. One writer pays one fsync per envelope;
many writers share fsyncs through group commit, which the store's ``commits`` counter shows
as commits per envelope. Figures are medians over the repeats; the headline is the ratio of
the two throughputs. Nothing is printed.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from payk.relay.store import Limits
from payk.relay.store.sqlite import SqliteStore

__all__ = ["run"]

BODY_BYTES = 2048
_NOW = 1_000


async def _one_run(path: Path, *, writers: int, envelopes: int) -> tuple[float, float]:
    """Returns (envelopes per second, commits per envelope) for one fresh store."""
    store = SqliteStore(path, limits=Limits(mailbox_max_count=envelopes + 1))
    await store.open()
    try:
        send_ids = [secrets.token_bytes(16) for _ in range(writers)]
        for send_id in send_ids:
            await store.create_mailbox(
                recv_id=secrets.token_bytes(16), send_id=send_id, auth_key=b"k" * 32, now=_NOW
            )
        body = secrets.token_bytes(BODY_BYTES)
        per_writer = max(envelopes // writers, 1)

        async def writer(send_id: bytes) -> None:
            for _ in range(per_writer):
                await store.enqueue(send_id, body, now=_NOW)

        commits_before = store.commits
        started = time.perf_counter()
        await asyncio.gather(*(writer(s) for s in send_ids))
        elapsed = time.perf_counter() - started
        total = per_writer * writers
        return total / elapsed, (store.commits - commits_before) / total
    finally:
        await store.close()


async def _measure(data_dir: Path, *, writers: int, envelopes: int, repeats: int) -> dict[str, Any]:
    rates: list[float] = []
    ratios: list[float] = []
    for n in range(repeats):
        path = data_dir / f"store-{writers}-{n}.db"
        rate, commits = await _one_run(path, writers=writers, envelopes=envelopes)
        rates.append(rate)
        ratios.append(commits)
    return {
        "envelopes": max(envelopes // writers, 1) * writers,
        "envelopes_per_s": round(statistics.median(rates), 1),
        "commits_per_envelope": round(statistics.median(ratios), 4),
    }


async def run(quick: bool, data_dir: Path) -> dict[str, Any]:
    """Measure SQLite enqueue throughput; ``quick`` keeps it to a few seconds."""
    repeats = 2 if quick else 5
    single = await _measure(data_dir, writers=1, envelopes=200 if quick else 5000, repeats=repeats)
    many = await _measure(
        data_dir, writers=100, envelopes=2000 if quick else 50_000, repeats=repeats
    )
    return {
        "backend": "sqlite WAL synchronous=FULL",
        "body_bytes": BODY_BYTES,
        "repeats": repeats,
        "writers_1": single,
        "writers_100": many,
        "group_commit_speedup": round(many["envelopes_per_s"] / single["envelopes_per_s"], 2),
    }
