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

from payk.cli.message_cmd import message_json, render_messages
from payk.cli.output import Output
from payk.cli.profile_cmd import run
from payk.client.bundles import Arrival, export_bundle, import_bundle
from payk.client.facade import Client
from payk.client.lan import Exchange, LanServer, sync_with_peers
from payk.errors import UsageError

__all__ = ["arrival_json", "exchange_json", "register", "render_arrival", "render_export"]


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
    lan = sub.add_parser("lan", help="exchange envelopes with payk peers on the local network")
    lan_actions = lan.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = lan_actions.add_parser("serve", help="announce this profile on the LAN and serve")
    serve.add_argument(
        "--listen", default="0.0.0.0:0", metavar="HOST:PORT", help="default 0.0.0.0:0 (any port)"
    )
    _lan_options(serve)
    serve.set_defaults(handler=_lan_serve)
    lsync = lan_actions.add_parser("sync", help="exchange envelopes with peers found on the LAN")
    lsync.add_argument(
        "--peer", action="append", default=[], metavar="HOST:PORT", help="skip discovery"
    )
    lsync.add_argument(
        "--wait", type=float, default=5.0, metavar="SECONDS", help="how long to look for peers"
    )
    lsync.add_argument(
        "--interface", action="append", default=None, metavar="IP", help="look only here"
    )
    _lan_options(lsync)
    lsync.set_defaults(handler=_lan_sync)


def _lan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--carry",
        action="store_true",
        help="also hand peers envelopes for others to carry (reveals their mailboxes to peers)",
    )
    parser.add_argument("--save", type=Path, metavar="DIR", help="where received files go")


def _export(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        count, size = await export_bundle(client, args.out)
        out.emit({"envelopes": count, "bytes": size}, render_export(args.out, count, size))
        return 0

    return run(args, out, body)


def _import(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        _with_save(client, args.save)
        arrival = await import_bundle(client, args.file)
        out.emit(arrival_json(arrival), render_arrival(arrival))
        return 0

    return run(args, out, body)


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the documented default


def _with_save(client: Client, save: Path | None) -> None:
    if save is not None:
        client.config = dataclasses.replace(client.config, downloads=save)


def _lan_serve(args: argparse.Namespace, out: Output) -> int:
    host, port = _hostport(args.listen)

    async def body(client: Client) -> int:
        _with_save(client, args.save)

        def report(done: Exchange) -> None:
            for error in done.errors:
                out.err.print(Text(f"payk: warning: {error}"))
            if done.peers:
                out.emit(exchange_json(done), render_arrival(done.arrival))

        def ready(bound: int) -> None:
            out.emit({"serving": bound}, Text(f"Serving on the local network, port {bound}."))

        server = LanServer(client, carry=args.carry, report=report)
        await server.run(host, port, on_ready=ready)
        return 0

    return run(args, out, body)


def _lan_sync(args: argparse.Namespace, out: Output) -> int:
    peers = [_hostport(p) for p in args.peer]

    async def body(client: Client) -> int:
        _with_save(client, args.save)
        done = await sync_with_peers(
            client, peers=peers, wait=args.wait, interfaces=args.interface, carry=args.carry
        )
        for error in done.errors:
            client.warnings.append(error)
        out.emit(exchange_json(done), render_arrival(done.arrival))
        return 0

    return run(args, out, body)


def exchange_json(done: Exchange) -> dict[str, object]:
    """The ``--json`` object of one LAN exchange (or all of a sync)."""
    return {**arrival_json(done.arrival), "peers": done.peers, "sent": done.sent}


def arrival_json(arrival: Arrival) -> dict[str, object]:
    """The ``--json`` object for envelopes that arrived without a relay."""
    return {
        "messages": [message_json(m) for m in arrival.messages],
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
