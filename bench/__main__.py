"""Run every benchmark area once and write docs/benchmarks.md and its plots from that run.

Strategy: each area is a module with ``run(quick)`` (sync) or ``async run(quick, workdir)``
returning a nested dict of figures; this runner calls them in turn, keeps going when one area
fails or is not there yet (the failure is recorded, not hidden), stores the raw results as
JSON under bench/results/, draws the PNG plots (``bench.plots``) under docs/plots/ and renders
docs/benchmarks.md (``bench.report``): the goals with their measured ratios first, then a
table per area, with the date and the machine's cores and memory. Every peer (Synapse,
Mosquitto, the bare forwarder) is measured in the same run as payk, so the ratios compare
like with like on this machine. Nothing here asserts a speed: numbers are reported as measured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import inspect
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.report import headline, render

ROOT = Path(__file__).resolve().parent.parent
AREAS = (
    "synapse",
    "mosquitto_peer",
    "relay",
    "client",
    "crypto",
    "megolm",
    "store",
    "scale",
    "groups",
    "paths",
    "front",
)


def _run_area(name: str, quick: bool, workdir: Path) -> dict[str, Any]:
    try:
        module = importlib.import_module(f"bench.{name}")
    except ImportError as exc:
        return {"skipped": f"not available: {exc}"}
    run = module.run
    area_dir = workdir / name
    area_dir.mkdir()
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(run):
            params = inspect.signature(run).parameters
            result = asyncio.run(run(quick, area_dir) if len(params) > 1 else run(quick))
        else:
            result = run(quick)
    except Exception as exc:  # an area that breaks is reported, the others still run
        traceback.print_exc()
        return {"failed": f"{type(exc).__name__}: {exc}"}
    result = dict(result)
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def _machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _plots(results: dict[str, Any]) -> list[Path]:
    try:
        from bench import plots
    except ImportError as exc:  # matplotlib comes with the dev extra
        print(f"bench: no plots ({exc})", file=sys.stderr)
        return []
    return plots.render_all(results, ROOT / "docs" / "plots")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="about a minute (default)")
    group.add_argument("--full", action="store_true", help="the long run")
    parser.add_argument(
        "--only", nargs="*", choices=AREAS, help="run only these areas (prints, writes nothing)"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs")
    parser.add_argument(
        "--render", action="store_true", help="measure nothing: redraw the page from the last run"
    )
    args = parser.parse_args(argv)
    mode = "full" if args.full else "quick"
    saved = ROOT / "bench" / "results" / f"{mode}.json"
    if args.render:
        payload = json.loads(saved.read_text())
    else:
        payload = {
            "mode": mode,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "results": _run_all(args.only or AREAS, quick=not args.full),
        }
    if args.no_write or args.only:  # a partial run never replaces the page of a whole one
        print(_page(payload, plots=[]))
        return 0
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (ROOT / "docs" / "benchmarks.md").write_text(_page(payload, _plots(payload["results"])))
    for goal, value, verdict in headline(payload["results"]):
        shown = "-" if value is None else f"{value:.3g}x"
        print(f"bench: {goal.name}: {shown} (goal >= {goal.target:g}x) {verdict}", file=sys.stderr)
    return 0


def _run_all(areas: tuple[str, ...] | list[str], *, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="payk-bench-") as tmp:
        for area in areas:
            print(f"bench: {area} ...", file=sys.stderr, flush=True)
            results[area] = _run_area(area, quick, Path(tmp))
            print(f"bench: {area} {_status(results[area])}", file=sys.stderr, flush=True)
    return results


def _page(payload: dict[str, Any], plots: list[Path]) -> str:
    return render(
        payload["results"],
        mode=payload["mode"],
        machine=payload["machine"],
        date=payload["date"],
        plots=plots,
    )


def _status(result: dict[str, Any]) -> str:
    if "failed" in result:
        return f"FAILED: {result['failed']}"
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    return f"done in {result.get('wall_seconds', '?')} s"


if __name__ == "__main__":
    sys.exit(main())
