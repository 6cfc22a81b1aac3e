"""Long crash campaigns on demand: ``python -m tools.crash_campaign relay --kills 1000``.

Usage::

    python -m tools.crash_campaign relay --kills 1000                # SQLite
    python -m tools.crash_campaign relay --kills 1000 --db postgresql://...
    python -m tools.crash_campaign client --kills 200
    python -m tools.crash_campaign all --kills 100

Prints one JSON report per campaign (the figures docs/security.md quotes) and exits 1 when
anything acknowledged was lost, doubled, resurrected, a key was reused, or a profile did
not open. The work folder is temporary unless ``--work`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from tools.client_campaign import run_client_campaign
from tools.relay_campaign import run_relay_campaign

__all__ = ["main"]


async def _run(args: argparse.Namespace, work: Path) -> list[dict[str, object]]:
    reports: list[dict[str, object]] = []
    if args.which in ("relay", "all"):
        relay = await run_relay_campaign(
            work / "relay-campaign", kills=args.kills, db_url=args.db, seed=args.seed
        )
        backend = "postgresql" if args.db else "sqlite"
        reports.append({"campaign": f"relay ({backend})", "ok": relay.ok, **_fields(relay)})
    if args.which in ("client", "all"):
        client = await run_client_campaign(
            work / "client-campaign", kills=args.client_kills or args.kills, seed=args.seed
        )
        reports.append({"campaign": "client (payk sync)", "ok": client.ok, **_fields(client)})
    return reports


def _fields(report: object) -> dict[str, object]:
    return dataclasses.asdict(report)  # type: ignore[call-overload, no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.crash_campaign", description=__doc__)
    parser.add_argument("which", choices=["relay", "client", "all"])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument(
        "--client-kills", type=int, default=None, help="for 'all' (default --kills)"
    )
    parser.add_argument("--db", default=os.environ.get("PAYK_CAMPAIGN_DB"), help="PostgreSQL DSN")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("PAYK_KDF_PROFILE", "fast")
    with tempfile.TemporaryDirectory(prefix="payk-campaign-") as tmp:
        reports = asyncio.run(_run(args, args.work or Path(tmp)))
    for report in reports:
        print(json.dumps(report))
    return 0 if all(r["ok"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
