"""PNG plots of one run's results for docs/benchmarks.md (matplotlib, Agg backend).

Strategy: one function per figure, each reading only the results it needs and returning
nothing when they are absent (an area that failed or was skipped leaves no stale plot behind:
the caller removes the old PNGs first). Peers: payk against Synapse end to end, and relay
capacity per core against the forwarder and Mosquitto, both as bars on a log scale. Crypto:
microseconds per 256-byte message for each construction. Scale curves: relay messages/s and
resident memory against mailboxes, sync time against the backlog, and any curve the groups
area reports as a list of points (x is the first numeric column, y each other one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["render_all"]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _bars(
    ax: Axes, labels: list[str], values: list[float], title: str, unit: str, *, log: bool = True
) -> None:
    bars = ax.bar(labels, values, color=["#3b7dd8" if "payk" in lb else "#999" for lb in labels])
    ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:.2g}" for v in values])
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_ylabel(unit)


def _peers(results: dict[str, Any]) -> Figure | None:
    synapse, capacity = results.get("synapse", {}), results.get("mosquitto_peer", {})
    if "payk" not in synapse and "payk_sqlite" not in capacity:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if "payk" in synapse:
        modes = {
            "payk": "payk",
            "payk_one_by_one": "payk\none by one",
            "synapse_pipelined": "Synapse\npipelined",
            "synapse": "Synapse\none by one",
        }
        shown = [m for m in modes if "msgs_per_s" in synapse.get(m, {})]
        values = [synapse[m]["msgs_per_s"] for m in shown]
        _bars(left, [modes[m] for m in shown], values, "End to end, one sender", "msgs/s")
    names = [
        n
        for n in ("payk_sqlite", "forwarder", "mosquitto")
        if "msgs_per_core_s" in capacity.get(n, {})
    ]
    if names:
        values = [capacity[n]["msgs_per_core_s"] for n in names]
        labels = [n.replace("_sqlite", " relay") for n in names]
        _bars(right, labels, values, "Relay capacity per core", "msgs per CPU-second")
    return fig


def _crypto(results: dict[str, Any]) -> Figure | None:
    pairwise = _get(results, "crypto", "message_256B_seal_open")
    megolm = _get(results, "megolm", "megolm_seal_open_us")
    if not isinstance(pairwise, dict):
        return None
    entries = {
        "payk pairwise": pairwise["payk"]["median_us"],
        "bare Olm": pairwise["olm_only"]["median_us"],
        "ChaCha20-Poly1305": pairwise["chacha20poly1305"]["median_us"],
    }
    if isinstance(megolm, float):
        entries["bare Megolm"] = megolm
    fig, ax = plt.subplots(figsize=(7, 4))
    _bars(ax, list(entries), list(entries.values()), "Seal + open, 256-byte message", "us")
    return fig


def _line(ax: Axes, points: list[dict[str, Any]], x: str, y: str, title: str) -> None:
    ax.plot([p[x] for p in points], [p[y] for p in points], marker="o", color="#3b7dd8")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)


def _scale(results: dict[str, Any]) -> Figure | None:
    relay = _get(results, "scale", "relay_vs_mailboxes", "points")
    sync = _get(results, "scale", "sync_vs_backlog", "points")
    if not relay and not sync:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    if relay:
        _line(axes[0], relay, "mailboxes", "msgs_per_s", "Relay throughput vs mailboxes")
        _line(axes[1], relay, "mailboxes", "rss_loaded_mib", "Relay memory vs mailboxes")
        axes[0].set_xscale("log")
        axes[1].set_xscale("log")
        axes[0].set_ylim(bottom=0)
        axes[1].set_ylim(bottom=0)
    if sync:
        _line(axes[2], sync, "messages", "sync_seconds", "Time to sync N queued messages")
    return fig


def _curves(data: Any, prefix: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Every list of numeric points in an area's results, with its name."""
    found: list[tuple[str, list[dict[str, Any]]]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _curves(value, f"{prefix}{key} ")
    elif (
        isinstance(data, list)
        and len(data) >= 2
        and all(isinstance(p, dict) and _numeric(p) for p in data)
    ):
        found.append((prefix.strip().removesuffix(" points"), data))
    return found


def _numeric(point: dict[str, Any]) -> list[str]:
    return [k for k, v in point.items() if isinstance(v, int | float) and not isinstance(v, bool)]


_COSTS = ("_us", "_ms", "seconds", "per_s")


def _groups(results: dict[str, Any]) -> Figure | None:
    curves = _curves(results.get("groups"))
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (name, points) in zip(axes[0], curves, strict=True):
        keys = _numeric(points[0])
        ys = [k for k in keys[1:] if any(c in k for c in _COSTS)] or keys[1:]
        for y in ys:
            ax.plot([p[keys[0]] for p in points], [p.get(y) for p in points], marker="o", label=y)
        ax.set_xlabel(keys[0])
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_title(f"groups: {name.replace('_', ' ')} vs {keys[0]}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return fig


FIGURES: dict[str, Callable[[dict[str, Any]], Figure | None]] = {
    "peers": _peers,
    "crypto": _crypto,
    "scale": _scale,
    "groups": _groups,
}


def render_all(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write every figure the results allow into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    written = []
    for name, make in FIGURES.items():
        fig = make(results)
        if fig is None:
            continue
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
