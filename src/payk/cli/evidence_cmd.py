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
from payk.evidence import capture, merkle, vault
from payk.evidence.vault import Item

__all__ = ["register", "render_added", "render_items"]


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
