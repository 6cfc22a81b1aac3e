"""The evidence vault dialog: list, add, export and verify evidence.

Strategy: the dialog is a thin front end over ``payk.evidence`` exactly as ``payk evidence``
is: adding captures the file (read and hashed in a worker thread) and stores it with its
signed statement in the profile's log; exporting builds the signed bundle from the store and
writes it in a thread; verifying reads and checks a bundle in a thread (it touches no store),
naming every problem found. The progress bar runs while any of these works. Work that touches
the store stays on the app's event loop, so it never races the client's own use of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static

from payk.client.facade import Client
from payk.errors import PaykError
from payk.evidence import capture, export, vault
from payk.evidence.check import Report, check_bundle
from payk.tui.render import clock_time, human_size, printable

__all__ = ["VaultScreen", "render_items", "render_report"]


def render_items(items: Sequence[vault.Item], *, now: int, tz: tzinfo | None = None) -> Text:
    """One line per item: short id, name, size, when, and who sent it or the note."""
    if not items:
        return Text("The vault is empty. Type a file's path below and press Add.", style="dim")
    out = Text()
    for item in items:
        out.append(f"{item.id[:8]} ", style="bold")
        out.append(f"{printable(item.name)}  {human_size(item.size)}  ")
        out.append(clock_time(item.added_at, now, tz), style="dim")
        extra = f"from {item.sender}" if item.sender else item.note
        if extra:
            out.append(f"  {printable(extra)}", style="italic")
        out.append("\n")
    out.rstrip()
    return out


def render_report(report: Report, name: str) -> Text:
    """What a verification found: every item that checked out, or every problem."""
    if not report.ok:
        out = Text(f"✗ {printable(name)} was altered:\n", style="bold")
        for problem in report.problems:
            out.append(f"  • {printable(problem)}\n")
        out.rstrip()
        return out
    out = Text(f"✓ {printable(name)}: {len(report.items)} item(s) intact", style="bold")
    out.append(f", log of {report.tree_size}, signed by {(report.signer or '')[:16]}…")
    return out


class VaultScreen(ModalScreen[None]):
    """Evidence: what is in the vault, and add, export, verify."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("Evidence vault", classes="heading")
            with VerticalScroll(id="vault-scroll"):
                yield Static("", id="vault-items")
            yield Input(placeholder="path: a file to add, a bundle to write or check", id="path")
            yield Input(placeholder="note (optional, for Add)", id="note")
            yield Static("", id="vault-status", classes="hint")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="busy")
            with Horizontal(classes="buttons"):
                yield Button("Add", id="add", variant="primary")
                yield Button("Export", id="export")
                yield Button("Verify", id="verify")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#busy").display = False
        self._show_items()

    def _show_items(self) -> None:
        found = vault.items(self.client.profile.db)
        self.query_one("#vault-items", Static).update(render_items(found, now=self.client.clock()))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.action_close()
            return
        raw = self.query_one("#path", Input).value.strip()
        if not raw:
            self._say(Text("Type a path first."), error=True)
            return
        path = Path(raw).expanduser()
        if event.button.id == "add":
            self.add(path, self.query_one("#note", Input).value.strip())
        elif event.button.id == "export":
            self.export(path)
        else:
            self.verify(path)

    def action_close(self) -> None:
        """Close the vault."""
        self.dismiss(None)

    @work(exclusive=True, group="vault", exit_on_error=False)
    async def add(self, path: Path, note: str) -> None:
        """Capture the file and store it with its signed statement."""
        with self._busy(f"Adding {path.name}…"):
            try:
                captured = await asyncio.to_thread(capture.capture_file, path, note)
                record = vault.add(self.client.profile, captured, now=self.client.clock())
            except PaykError as exc:
                self._say(Text(str(exc)), error=True)
                return
        self._show_items()
        self._say(Text(f"✓ Added {printable(path.name)} as {record.id.hex()[:8]}."))

    @work(exclusive=True, group="vault", exit_on_error=False)
    async def export(self, out: Path) -> None:
        """Write a signed, self-contained bundle of the whole vault."""
        with self._busy(f"Exporting to {out.name}…"):
            try:
                built = export.export_bundle(self.client.profile, now=self.client.clock())
                await asyncio.to_thread(export.write_bundle, built.data, out)
            except PaykError as exc:
                self._say(Text(str(exc)), error=True)
                return
        root = (built.root or "")[:16]
        self._say(Text(f"✓ Wrote {printable(str(out))}: log of {built.tree_size}, root {root}…"))

    @work(exclusive=True, group="vault", exit_on_error=False)
    async def verify(self, path: Path) -> None:
        """Check every hash, signature and proof of a bundle."""
        with self._busy(f"Checking {path.name}…"):
            try:
                data = await asyncio.to_thread(export.read_bundle, path)
                report = await asyncio.to_thread(check_bundle, data)
            except PaykError as exc:
                self._say(Text(f"✗ {printable(path.name)}: {exc}"), error=True)
                return
        self._say(render_report(report, path.name), error=not report.ok)

    def _busy(self, sentence: str) -> _Busy:
        self._say(Text(sentence))
        return _Busy(self)

    def _say(self, text: Text, *, error: bool = False) -> None:
        status = self.query_one("#vault-status", Static)
        status.update(text)
        status.set_class(error, "error")


class _Busy:
    """Shows the progress bar and disables the buttons while a vault task runs."""

    def __init__(self, screen: VaultScreen) -> None:
        self.screen = screen

    def __enter__(self) -> None:
        self._set(busy=True)

    def __exit__(self, *exc: object) -> None:
        self._set(busy=False)

    def _set(self, *, busy: bool) -> None:
        self.screen.query_one("#busy").display = busy
        for button in self.screen.query(Button):
            button.disabled = busy and button.id != "close"
