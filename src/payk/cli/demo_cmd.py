"""``payk demo``: two people meet and talk through a real relay, in a few seconds, no setup.

Strategy: a throwaway folder holds everything. A real relay process is started on loopback
(``python -m payk relay serve``), two profiles are created and driven in-process through
``payk.client.Client`` exactly as the commands do: invitation, safety codes, messages both
ways, a file, receipts. Before the last message is fetched the demo opens the relay's
database read-only and shows what a seized relay reveals: anonymous mailbox ids and padded
ciphertext, and it searches the relay's folder for the names and texts used. Everything is
stopped and deleted at the end, also after an error or Ctrl-C. Throwaway profiles use fast
key-derivation parameters unless ``$PAYK_KDF_PROFILE`` says otherwise (the demo says so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import os
import selectors
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from payk.cli.output import Output
from payk.client.config import Config
from payk.client.facade import Client
from payk.client.messages import Message
from payk.client.store.header import KDF_PROFILES, kdf_params_from_env
from payk.errors import IntegrityError, NetworkError
from payk.protocol.address import RelayAddress

__all__ = [
    "StoredEnvelope",
    "find_in_folder",
    "read_relay_store",
    "register",
    "render_code",
    "render_messages",
    "render_step",
    "render_stored",
]

RELAY_START_TIMEOUT = 30.0
SHIRIN, DARIUSH = "Shirin", "Dariush"
LAST_WORDS = "See you at the north gate at five. Bring water."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``payk demo`` to the ``payk`` parser."""
    demo = sub.add_parser("demo", help="a full local demonstration (relay + two people)")
    demo.set_defaults(handler=_demo)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEnvelope:
    """One envelope as the relay's database holds it."""

    mailbox: str
    size: int
    head: str


# --- the relay process -----------------------------------------------------------------------


@contextlib.contextmanager
def _relay(data: Path) -> Iterator[RelayAddress]:
    argv = [sys.executable, "-m", "payk", "--json", "relay", "serve"]
    argv += ["--listen", "127.0.0.1:0", "--data", str(data)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield RelayAddress.parse(_address_line(process))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _address_line(process: subprocess.Popen[str]) -> str:
    import json

    if process.stdout is None:
        raise NetworkError("the demo relay has no output")
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=RELAY_START_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line:
        raise NetworkError("the demo relay did not start")
    return str(json.loads(line)["address"])


# --- what the relay holds ---------------------------------------------------------------------


def read_relay_store(data: Path) -> list[StoredEnvelope]:
    """The envelopes in the relay's SQLite database (read-only)."""
    uri = f"file:{data / 'relay.db'}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute(
                "SELECT recv_id, length(body), substr(body, 1, 20) FROM envelopes ORDER BY seq"
            ).fetchall()
    except sqlite3.Error:
        return []
    return [
        StoredEnvelope(mailbox=bytes(r[0]).hex()[:12], size=int(r[1]), head=bytes(r[2]).hex())
        for r in rows
    ]


def find_in_folder(folder: Path, needles: Sequence[str]) -> list[str]:
    """Which of ``needles`` occur anywhere in the files under ``folder``."""
    found = set()
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found |= {n for n in needles if n.encode() in data}
    return sorted(found)


# --- rendering (pure) ------------------------------------------------------------------------


def render_step(number: int, title: str, body: RenderableType) -> RenderableType:
    """One numbered step of the demo."""
    return Panel(body, title=f"[bold]{number}. {title}", title_align="left", border_style="cyan")


def render_messages(who: str, messages: Sequence[Message]) -> RenderableType:
    """What one person's sync brought."""
    lines = Text()
    for m in messages:
        what = m.text if m.text is not None else f"📎 {m.file_name} ({m.file_size:,} bytes)"
        lines.append(f"{who} ← {m.sender}: ", style="bold magenta")
        lines.append(f"{what}\n")
    lines.rstrip()
    return lines if messages else Text(f"{who}: nothing new", style="dim")


def render_code(code: str) -> str:
    """A 12-group safety code on two lines of six groups."""
    groups = code.split()
    return " ".join(groups[:6]) + "\n" + " ".join(groups[6:])


def render_stored(stored: Sequence[StoredEnvelope], leaks: Sequence[str]) -> RenderableType:
    """The relay's view: anonymous mailboxes, sizes from a few buckets, ciphertext."""
    table = Table(show_edge=False)
    table.add_column("mailbox (anonymous id)")
    table.add_column("size", justify="right")
    table.add_column("first bytes")
    for envelope in stored:
        table.add_row(envelope.mailbox + "…", f"{envelope.size:,}", envelope.head + "…")
    verdict = (
        Text("✓ none of the names, texts or file contents appear in the relay's files", "green")
        if not leaks
        else Text(f"✗ found in the relay's files: {', '.join(leaks)}", "bold red")
    )
    return Group(table, verdict)


# --- the script ------------------------------------------------------------------------------


def _demo(args: argparse.Namespace, out: Output) -> int:
    started = time.monotonic()
    fast = not os.environ.get("PAYK_KDF_PROFILE")
    with tempfile.TemporaryDirectory(prefix="payk-demo-") as tmp:
        folder = Path(tmp)
        with _relay(folder / "relay") as address:
            summary = asyncio.run(_script(folder, address, out, fast=fast))
    summary["seconds"] = round(time.monotonic() - started, 2)
    out.emit(summary, Text(f"Done in {summary['seconds']} s; everything was deleted.", "bold"))
    return 0


async def _script(
    folder: Path, address: RelayAddress, out: Output, *, fast: bool
) -> dict[str, object]:
    kdf = KDF_PROFILES["fast"] if fast else kdf_params_from_env()
    show = _Shower(out)
    note = "\n(fast key derivation: these profiles are throwaway)" if fast else ""
    show(
        "A relay and two people",
        Text(
            f"A real relay process on SQLite, in a temporary folder:\n{address}\n"
            f"Two encrypted profiles: {SHIRIN} and {DARIUSH}{note}"
        ),
    )
    shirin = Client.create(folder / "shirin", "shirin demo", name=SHIRIN, relays=[address], kdf=kdf)
    dariush = Client.create(
        folder / "dariush", "dariush demo", name=DARIUSH, relays=[address], kdf=kdf
    )
    try:
        return await _conversation(folder, shirin, dariush, show)
    finally:
        await shirin.close()
        await dariush.close()


async def _conversation(
    folder: Path, shirin: Client, dariush: Client, show: _Shower
) -> dict[str, object]:
    codes_match = await _meet(shirin, dariush, show)
    await _talk(shirin, dariush, show)
    await _file(folder, shirin, dariush, show)
    await dariush.send_text(SHIRIN, LAST_WORDS)
    stored = read_relay_store(folder / "relay")
    leaks = find_in_folder(folder / "relay", [SHIRIN, DARIUSH, LAST_WORDS, "Salam Shirin"])
    show("What the relay stored", render_stored(stored, leaks))
    show("…and it still arrives", render_messages(SHIRIN, await shirin.sync()))
    return {"ok": not leaks, "codes_match": codes_match, "relay_envelopes": len(stored)}


async def _meet(shirin: Client, dariush: Client, show: _Shower) -> bool:
    link = await shirin.invite()
    alias = await dariush.accept(link, alias=SHIRIN)
    await shirin.sync()
    known = shirin.contacts()[0].alias
    show(
        "Invitation",
        Text(
            f"{SHIRIN} gives {DARIUSH} a one-time link ({len(link):,} characters, or a QR code):\n"
            f"{link[:64]}…\n{DARIUSH} accepts; {SHIRIN}'s sync brings {known} in as a contact"
        ),
    )
    a, b = shirin.confirm(DARIUSH), dariush.confirm(alias)
    verdict = "✓ the codes match: no one is in the middle" if a.code == b.code else "✗ differ"
    show(
        "Safety codes, compared in person",
        Text(
            f"{SHIRIN} sees:\n{render_code(a.code)}\n{DARIUSH} sees:\n{render_code(b.code)}\n"
            + verdict
        ),
    )
    return a.code == b.code


async def _talk(shirin: Client, dariush: Client, show: _Shower) -> None:
    await dariush.send_text(SHIRIN, "Salam Shirin! Is the meeting still on?")
    got = await shirin.sync()
    await shirin.send_text(DARIUSH, "Yes. I'll send you the map.")
    back = await dariush.sync()
    await shirin.sync()
    status = dariush.history(SHIRIN)[0].status
    show(
        "Messages both ways, with receipts",
        Group(
            render_messages(SHIRIN, got),
            render_messages(DARIUSH, back),
            Text(f"{DARIUSH}'s first message is now marked: {status}", style="dim"),
        ),
    )


async def _file(folder: Path, shirin: Client, dariush: Client, show: _Shower) -> None:
    data = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(256)) * 100
    path = folder / "map-of-the-route.bin"
    path.write_bytes(data)
    dariush.config = _downloads(dariush, folder / "dariush-downloads")
    await shirin.send_file(DARIUSH, path)
    files = await dariush.sync()
    if not files or not _same_file(files[0].file, data):
        raise IntegrityError("the demo file did not arrive intact")
    show(
        "A file",
        Text(f"{len(data):,} bytes, sent as equal-sized sealed chunks; arrived, SHA-256 ✓"),
    )


def _same_file(path: str | None, data: bytes) -> bool:
    return path is not None and Path(path).read_bytes() == data


class _Shower:
    def __init__(self, out: Output) -> None:
        self.out, self.step = out, 0

    def __call__(self, title: str, body: RenderableType) -> None:
        self.step += 1
        if not self.out.json_mode:
            self.out.console.print(render_step(self.step, title, body))


def _downloads(client: Client, folder: Path) -> Config:
    return dataclasses.replace(client.config, downloads=folder)
