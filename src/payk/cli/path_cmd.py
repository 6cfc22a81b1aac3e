"""``payk bundle export|import`` and ``payk lan serve|sync``: paths that need no relay.

Strategy: thin handlers over ``payk.client.bundles`` and ``payk.client.lan`` (unlocking and
warnings as in ``profile_cmd``). ``--json`` objects: ``bundle export`` gives
``{"envelopes", "bytes"}``; ``bundle import`` and ``lan sync`` give ``{"messages", "delivered",
"carried"}`` (``lan sync`` adds ``"peers"`` and ``"sent"``); ``lan serve`` prints
``{"serving": PORT}`` once announced, then one object per exchange. A tampered bundle is an
``IntegrityError`` (exit 4) raised before anything is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rich.console import Group, RenderableType
from rich.text import Text

from payk.cli.message_cmd import render_messages
from payk.cli.output import Output
from payk.cli.profile_cmd import run
from payk.client.bundles import Arrival, export_bundle, import_bundle
from payk.client.facade import Client

__all__ = ["register", "render_arrival", "render_export"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the bundle and LAN commands to the ``payk`` parser."""
    bundle = sub.add_parser("bundle", help="carry envelopes on a file (no network needed)")
    actions = bundle.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write every pending envelope to one file")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.set_defaults(handler=_export)
    imp = actions.add_parser("import", help="deliver what a bundle holds for you, carry the rest")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--save", type=Path, metavar="DIR", help="where received files go")
    imp.set_defaults(handler=_import)


def _export(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        count, size = await export_bundle(client, args.out)
        out.emit({"envelopes": count, "bytes": size}, render_export(args.out, count, size))
        return 0

    return run(args, out, body)


def _import(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        if args.save is not None:
            client.config = dataclasses.replace(client.config, downloads=args.save)
        arrival = await import_bundle(client, args.file)
        out.emit(arrival_json(arrival), render_arrival(arrival))
        return 0

    return run(args, out, body)


def arrival_json(arrival: Arrival) -> dict[str, object]:
    """The ``--json`` object for envelopes that arrived without a relay."""
    return {
        "messages": [m.as_json() for m in arrival.messages],
        "delivered": arrival.delivered,
        "carried": arrival.carried,
    }


def render_export(path: Path, count: int, size: int) -> RenderableType:
    """What ``payk bundle export`` shows."""
    return Text(f"✓ wrote {count} envelope(s) to {path} ({size:,} bytes)")


def render_arrival(arrival: Arrival) -> RenderableType:
    """What an import shows: new messages, then what is carried onward."""
    note = Text(
        f"{arrival.delivered} envelope(s) for you, {arrival.carried} carried onward "
        f"for others, {arrival.known} already known.",
        style="dim",
    )
    return Group(render_messages(arrival.messages, empty="Nothing new for you."), note)
