"""The dialog to compare a contact's safety code and mark it verified.

Strategy: the code (60 digits in twelve groups) is shown in three rows to read aloud, beside
the QR code for the other phone or laptop to scan; both come from ``Client.safety`` (local, no
network). Marking the contact verified is one explicit button, and the dialog closes with
whether the state changed so that the main screen redraws the mark.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from payk.client.facade import Client, Safety
from payk.tui.render import printable, qr_text

__all__ = ["SafetyScreen", "code_rows"]

GROUPS_PER_ROW = 4


def code_rows(code: str) -> str:
    """The safety code in rows of four groups of five digits."""
    groups = code.split()
    rows = (groups[i : i + GROUPS_PER_ROW] for i in range(0, len(groups), GROUPS_PER_ROW))
    return "\n".join(" ".join(row) for row in rows)


class SafetyScreen(ModalScreen[bool]):
    """Shows the safety code with one contact; confirms it on request."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, client: Client, contact: str) -> None:
        super().__init__()
        self.client = client
        self.safety: Safety = client.safety(contact)
        self.changed = False

    def compose(self) -> ComposeResult:
        name = printable(self.safety.contact)
        with Vertical(id="box"):
            yield Label(Text(f"Safety code with {name}"), classes="heading")
            with Horizontal(id="safety-body"):
                yield Static(qr_text(self.safety.qr), classes="qr", id="safety-qr")
                with Vertical(id="safety-side"):
                    yield Static(code_rows(self.safety.code), classes="code", id="safety-code")
                    yield Label(_state(self.safety), id="safety-state")
                    yield Label(
                        "Compare it with theirs in person or on a call, or scan their code.",
                        classes="hint",
                    )
                    yield Button("They match: verified", id="confirm", variant="success")
                    yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).disabled = self.safety.verified

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.safety = self.client.confirm(self.safety.contact)
            self.changed = True
            self.query_one("#safety-state", Label).update(_state(self.safety))
            event.button.disabled = True
        else:
            self.action_close()

    def action_close(self) -> None:
        """Close, telling the main screen whether the mark changed."""
        self.dismiss(self.changed)


def _state(safety: Safety) -> Text:
    if safety.verified:
        return Text("✓ verified", style="bold")
    return Text("· not verified yet", style="dim")
