"""Per-core relay capacity: payk's relay against Mosquitto and the forwarder, bare and with TLS.

Strategy: capacity per core is the inverse of the server's CPU time per delivered message,
which is what an operator pays for and is independent of how fast the (Python) load
generator can push. The relay area (``bench.relay``) sends a few hundred messages, too few
for Mosquitto, which spends tens of microseconds per message: ``/proc/<pid>/stat`` counts in
10 ms ticks. Here every server (started by ``bench.relay``'s process helpers) gets a warm-up
load and then, in rounds that load each server in turn, several repeats of a larger load from
``bench.loadgen``; its CPU time is read from ``/proc/<pid>/task/*/schedstat`` (nanoseconds,
summed over the server's threads). Figures are medians over the repeats with the spread; the
headlines, medians of the per-round ratios, are payk's capacity over Mosquitto's and over the
forwarder's, and payk's messages/s over the forwarder's under the same load. The same
forwarder serving over TLS is measured beside them, so the figures say how much of the gap
encrypting the frames explains by itself. Nothing is printed.
"""

from __future__ import annotations

import contextlib
import statistics
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


async def _one(kind: str, pid: int, target: str, pairs: int, count: int) -> dict[str, Any]:
    before = cpu_ns(pid)
    load = await relay_bench._load(kind, target, pairs, count)
    load["server_cpu_us_per_msg"] = (cpu_ns(pid) - before) / 1000 / max(1, load["received"])
    return load


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


def _paired(runs: dict[str, list[dict[str, Any]]], top: str, bottom: str, key: str) -> Any:
    """Median and spread of the per-round ratios top/bottom (rounds ran back to back)."""
    values = [a[key] / b[key] for a, b in zip(runs[top], runs[bottom], strict=True) if b[key]]
    if not values:
        return {"median": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _ratios(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    # capacity per core is 1 / CPU per message, so its ratio is the inverse CPU ratio
    pairs = {
        "payk_over_forwarder_msgs_per_s": ("payk_sqlite", "forwarder", "msgs_per_s"),
        "payk_over_forwarder_per_core": ("forwarder", "payk_sqlite", "server_cpu_us_per_msg"),
        "payk_over_mosquitto_per_core": ("mosquitto", "payk_sqlite", "server_cpu_us_per_msg"),
        # the TLS floor: how much of the gap encrypting the frames alone explains
        "payk_over_forwarder_tls_msgs_per_s": ("payk_sqlite", "forwarder_tls", "msgs_per_s"),
        "payk_over_forwarder_tls_per_core": (
            "forwarder_tls",
            "payk_sqlite",
            "server_cpu_us_per_msg",
        ),
        "forwarder_tls_over_forwarder_per_core": (
            "forwarder",
            "forwarder_tls",
            "server_cpu_us_per_msg",
        ),
    }
    ratios: dict[str, Any] = {}
    for name, (top, bottom, key) in pairs.items():
        if top in runs and bottom in runs:
            found = _paired(runs, top, bottom, key)
            ratios[name] = found["median"]
            ratios[f"{name}_min"], ratios[f"{name}_max"] = found.get("min"), found.get("max")
    return ratios


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Capacity figures; ``quick``: 10 pairs x 60 messages x 2 rounds, else 50 x 200 x 5.

    All servers run at once, idle but for the one under load; each round loads each server in
    turn, so a change in the shared machine's load falls on all of them, and the ratios are
    medians of the per-round ratios.
    """
    pairs, count, repeats = (10, 60, 2) if quick else (50, 200, 5)
    results: dict[str, Any] = {"load": f"{pairs} pairs x {count} messages of 256 B"}
    servers = [
        ("forwarder", relay_bench._forwarder, "forwarder"),
        ("forwarder_tls", relay_bench._forwarder_tls, "forwarder_tls"),
        ("payk_sqlite", relay_bench._payk, "payk"),
    ]
    missing = await relay_bench._mosquitto_missing()
    if missing is None:
        servers.append(("mosquitto", relay_bench._mosquitto, "mqtt"))
    else:
        results["mosquitto"] = {"skipped": missing}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in servers}
    async with contextlib.AsyncExitStack() as stack:
        started = []
        for name, start, kind in servers:
            folder = workdir / name
            folder.mkdir(parents=True)
            pid, target = await stack.enter_async_context(start(folder))
            await relay_bench._load(kind, target, pairs, max(count // 10, 1))  # warm-up
            started.append((name, kind, pid, target))
        for _ in range(repeats):
            for name, kind, pid, target in started:
                runs[name].append(await _one(kind, pid, target, pairs, count))
    for name, measured in runs.items():
        results[name] = _summary(measured)
    results["ratios"] = _ratios(runs)
    return results
