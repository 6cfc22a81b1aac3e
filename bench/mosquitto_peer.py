"""Per-core relay capacity: payk's relay against Mosquitto and the bare forwarder.

Strategy: capacity per core is the inverse of the server's CPU time per delivered message,
which is what an operator pays for and is independent of how fast the (Python) load
generator can push. The relay area (``bench.relay``) sends a few hundred messages, too few
for Mosquitto, which spends tens of microseconds per message: ``/proc/<pid>/stat`` counts in
10 ms ticks. Here each server (started by ``bench.relay``'s process helpers) gets a warm-up
load and then several repeats of a larger load from ``bench.loadgen``, and its CPU time is read
from ``/proc/<pid>/task/*/schedstat`` (nanoseconds, summed over the server's threads). The
figures are medians over the repeats with the spread; the headlines are payk's capacity over
Mosquitto's and over the forwarder's, and payk's messages/s over the forwarder's under the
same load. Nothing is printed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import relay as relay_bench

__all__ = ["cpu_ns", "run"]


def cpu_ns(pid: int) -> int:
    """CPU nanoseconds used so far by every live thread of a process."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


async def _server(
    start: Callable[[Path], Any], kind: str, workdir: Path, pairs: int, count: int, repeats: int
) -> dict[str, Any]:
    runs = []
    async with start(workdir) as (pid, target):
        await relay_bench._load(kind, target, pairs, max(count // 10, 1))  # warm-up
        for _ in range(repeats):
            before = cpu_ns(pid)
            load = await relay_bench._load(kind, target, pairs, count)
            spent = cpu_ns(pid) - before
            load["server_cpu_us_per_msg"] = spent / 1000 / max(1, load["received"])
            runs.append(load)
    return _summary(runs)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "repeats": len(runs),
        "messages": runs[0]["messages"],
        "lost": sum(r["lost"] for r in runs),
    }
    for key in ("msgs_per_s", "server_cpu_us_per_msg", "latency_p50_ms", "latency_p99_ms"):
        values = [r[key] for r in runs]
        figures[key] = statistics.median(values)
        figures[f"{key}_min"], figures[f"{key}_max"] = min(values), max(values)
    figures["msgs_per_core_s"] = 1e6 / figures["server_cpu_us_per_msg"]
    return figures


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Capacity figures; ``quick``: 20 pairs x 100 messages x 3 repeats, else 50 x 200 x 5."""
    pairs, count, repeats = (20, 100, 3) if quick else (50, 200, 5)
    results: dict[str, Any] = {"load": f"{pairs} pairs x {count} messages of 256 B"}
    servers = [
        ("forwarder", relay_bench._forwarder, "forwarder"),
        ("payk_sqlite", relay_bench._payk, "payk"),
    ]
    missing = relay_bench._mosquitto_missing()
    if missing is None:
        servers.append(("mosquitto", relay_bench._mosquitto, "mqtt"))
    else:
        results["mosquitto"] = {"skipped": missing}
    for name, start, kind in servers:
        folder = workdir / name
        folder.mkdir(parents=True)
        results[name] = await _server(start, kind, folder, pairs, count, repeats)
    payk, forwarder = results["payk_sqlite"], results["forwarder"]
    ratios = {
        "payk_over_forwarder_msgs_per_s": payk["msgs_per_s"] / forwarder["msgs_per_s"],
        "payk_over_forwarder_per_core": payk["msgs_per_core_s"] / forwarder["msgs_per_core_s"],
    }
    if "msgs_per_core_s" in results.get("mosquitto", {}):
        ratios["payk_over_mosquitto_per_core"] = (
            payk["msgs_per_core_s"] / results["mosquitto"]["msgs_per_core_s"]
        )
    results["ratios"] = ratios
    return results
