"""``payk evidence add|list|export|verify|send``: the evidence vault.

Strategy: thin handlers over ``payk.evidence`` (see ``profile_cmd`` for unlocking). ``verify``
needs no profile: it checks a bundle offline, prints a report naming every altered part, and
exits 4 (``IntegrityError``) when anything does not check out. ``--json`` objects:
``add`` ``{"id", "sha256", "log_index", "tree_size", "root"}``; ``list`` ``{"items": [...]}``;
``export`` ``{"out", "items", "tree_size", "root", "stripped"}``; ``verify``
``{"ok", "signer", "tree_size", "root", "items": [...], "problems": [...]}``; ``send``
``{"id", "contact", "paths"}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from payk.cli.output import Output
from payk.cli.profile_cmd import run
from payk.client.facade import Client
from payk.errors import UsageError
from payk.evidence import capture, export, merkle, transfer, vault
from payk.evidence.check import Report, check_bundle, check_consistency
from payk.evidence.keys import key_id
from payk.evidence.vault import Item

__all__ = [
    "register",
    "render_added",
    "render_exported",
    "render_items",
    "render_report",
    "render_sent_item",
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the evidence commands to the ``payk`` parser."""
    evidence = sub.add_parser(
        "evidence", help="the evidence vault: add, list, export, verify, send"
    )
    commands = evidence.add_subparsers(dest="evidence_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="store a file in the vault with a signed statement")
    add.add_argument("file", type=Path)
    add.add_argument(
        "--note", default="", help="what it shows, where, when (kept in the statement)"
    )
    add.set_defaults(handler=_add)
    listing = commands.add_parser("list", help="what is in the vault, with ids")
    listing.set_defaults(handler=_list)
    export = commands.add_parser("export", help="write a self-contained, verifiable bundle (zip)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.add_argument(
        "--strip-location",
        action="store_true",
        help="share copies without GPS and device identifiers (the statements still prove "
        "they derive from the originals)",
    )
    export.add_argument(
        "--id", action="append", default=[], metavar="ID", help="only this item (repeatable)"
    )
    export.add_argument(
        "--no-c2pa",
        action="store_true",
        help="do not add C2PA-signed copies of images (added when payk[c2pa] is installed)",
    )
    export.set_defaults(handler=_export)
    check = commands.add_parser(
        "verify", help="check every hash, signature and proof of a bundle (no profile needed)"
    )
    check.add_argument("file", type=Path)
    check.add_argument(
        "--previous",
        type=Path,
        metavar="EARLIER",
        help="also prove that this bundle's log extends the log of an earlier bundle",
    )
    check.add_argument(
        "--signer", metavar="HEX", help="the Ed25519 key (64 hex digits) the bundle must be from"
    )
    check.set_defaults(handler=_verify)
    send = commands.add_parser("send", help="send an item, its statement and proof to a contact")
    send.add_argument("contact", help="the contact's name (a documenter)")
    send.add_argument("id", help="the item's id (or its first digits, see evidence list)")
    send.set_defaults(handler=_send)


def _add(args: argparse.Namespace, out: Output) -> int:
    captured = capture.capture_file(args.file, args.note)

    async def body(client: Client) -> int:
        record = vault.add(client.profile, captured, now=client.clock())
        tree = vault.leaves(client.profile.db)
        data = {
            "id": record.id.hex(),
            "sha256": record.fields["file"]["sha256"],
            "log_index": record.leaf_index,
            "tree_size": len(tree),
            "root": merkle.root(tree).hex(),
        }
        out.emit(data, render_added(Item.of(record), data["root"]))
        return 0

    return run(args, out, body)


def _list(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        found = vault.items(client.profile.db)
        out.emit({"items": [i.as_json() for i in found]}, render_items(found))
        return 0

    return run(args, out, body)


def _export(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        built = export.export_bundle(
            client.profile,
            now=client.clock(),
            ids=args.id,
            strip=args.strip_location,
            c2pa=not args.no_c2pa,
        )
        export.write_bundle(built.data, args.out)
        for warning in built.warnings:
            out.err.print(Text(f"payk: warning: {warning}"))
        items = len(args.id) or len(vault.records(client.profile.db))
        data = {
            "out": str(args.out),
            "items": items,
            "tree_size": built.tree_size,
            "root": built.root,
            "stripped": args.strip_location,
        }
        out.emit(data, render_exported(data))
        return 0

    return run(args, out, body)


def _verify(args: argparse.Namespace, out: Output) -> int:
    expected = _signer(args.signer)
    later = export.read_bundle(args.file)
    if args.previous is not None:
        report = check_consistency(export.read_bundle(args.previous), later)
    else:
        report = check_bundle(later, expected_signer=expected)
    if expected is not None and args.previous is not None and report.signer != expected.hex():
        report.problems.append("the bundle is not signed by the expected key")
    out.emit(report.as_json(), render_report(report, args.file))
    report.raise_for_problems()
    return 0


def _send(args: argparse.Namespace, out: Output) -> int:
    async def body(client: Client) -> int:
        item_id, sent = await transfer.send_item(client, args.contact, args.id)
        data = {"id": item_id, "contact": args.contact, "paths": sent.paths}
        out.emit(data, render_sent_item(data))
        return 0

    return run(args, out, body)


def _signer(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError("--signer is an Ed25519 public key: 64 hex digits")
    return key


# --- rendering (pure) ------------------------------------------------------------------------


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())


def render_added(item: Item, root: str) -> RenderableType:
    """What ``evidence add`` shows."""
    lines = Text(f"✓ {item.name} is in the vault  [id {item.id[:12]}]\n", style="bold")
    lines.append(f"  SHA-256 {item.sha256}\n")
    lines.append(f"  log entry {item.leaf_index}, new log root {root[:16]}…\n", style="dim")
    lines.append("  Next: payk evidence export --out bundle.zip", style="dim")
    return lines


def render_items(found: Sequence[Item]) -> RenderableType:
    """The vault as a table."""
    if not found:
        return Text("The vault is empty. Add a file with: payk evidence add FILE", style="dim")
    table = Table(title="Evidence vault")
    for column in ("id", "name", "size", "type", "from", "note"):
        table.add_column(column)
    for item in found:
        table.add_row(
            item.id[:12],
            _printable(item.name),
            f"{item.size:,}",
            item.media_type,
            _printable(item.sender) if item.sender else "me",
            _printable(item.note)[:60],
        )
    return table


def render_exported(data: dict[str, object]) -> RenderableType:
    """What ``evidence export`` shows."""
    lines = Text(f"✓ {data['items']} item(s) written to {data['out']}\n", style="bold")
    if data["root"]:
        lines.append(f"  log of {data['tree_size']} entries, root {str(data['root'])[:16]}…\n")
    if data["stripped"]:
        lines.append("  location and device identifiers removed from the shared copies\n")
    lines.append(
        "  Anyone can check it: payk evidence verify FILE, or README.txt inside", style="dim"
    )
    return lines


def render_report(report: Report, path: Path) -> RenderableType:
    """The verification report: what was checked, and every problem found."""
    signer = key_id(bytes.fromhex(report.signer)) if report.signer else "unknown"
    if report.ok:
        text = Text(f"✓ {path.name} is intact\n", style="bold green")
    else:
        text = Text(f"✗ {path.name} was altered\n", style="bold red")
    text.append(f"  signed by key {signer}  ({report.signer or '?'})\n")
    if report.root:
        text.append(f"  log of {report.tree_size} entries, root {report.root[:16]}…\n")
    for item in report.items:
        origin = f", from {_printable(item.sender)}" if item.sender else ""
        shared = ", shared copy without location" if item.stripped else ""
        text.append(
            f"  ✓ {_printable(item.name)} [id {item.id[:12]}] entry {item.leaf_index} of "
            f"{item.tree_size}{origin}{shared}\n"
        )
    if report.consistency:
        c = report.consistency
        text.append(
            f"  ✓ the log of {c['to_size']} entries extends the earlier one of {c['from_size']} "
            f"(consistency proof of {len(c['proof'])} hashes)\n"
        )
    for problem in report.problems:
        text.append(f"  ✗ {_printable(problem)}\n", style="red")
    return text


def render_sent_item(data: dict[str, object]) -> RenderableType:
    """What ``evidence send`` shows."""
    if data["paths"]:
        return Text(
            f"✓ item {str(data['id'])[:12]} sent to {data['contact']} over {data['paths']} "
            "relay(s), with its statement and proof"
        )
    return Text(
        f"⧗ item {str(data['id'])[:12]} queued for {data['contact']}: no relay reachable now; "
        "it goes out on the next sync"
    )
