"""The unlock screen: one passphrase field; the profile opens in a worker thread.

Strategy: deriving the key (Argon2id) takes a second on purpose, so ``Client.open`` runs in a
thread while the screen stays responsive. A wrong passphrase clears the field and says so in one
sentence; any other ``PaykError`` (no profile, a damaged key file) is shown the same way. On
success the screen posts ``Unlocked`` with the open client and the app takes over.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from payk.client.facade import Client
from payk.errors import AuthenticationError, PaykError

__all__ = ["UnlockScreen"]


class UnlockScreen(Screen[None]):
    """Asks for the passphrase of the profile in ``home``."""

    class Unlocked(Message):
        """The profile is open."""

        def __init__(self, client: Client) -> None:
            super().__init__()
            self.client = client

    def __init__(self, home: Path, *, passphrase: str | None = None) -> None:
        super().__init__()
        self.home = home
        self.preset = passphrase

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="unlock-box"):
            yield Static("payk", id="unlock-title")
            yield Label(Text(f"Profile: {self.home}"), id="unlock-home")
            yield Input(placeholder="passphrase", password=True, id="passphrase")
            yield Label("Enter unlocks. Ctrl+Q quits.", id="unlock-status")
        yield Footer()

    def on_mount(self) -> None:
        if self.preset is not None:
            self.unlock(self.preset)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value:
            self.unlock(event.value)

    @work(exclusive=True, group="unlock", exit_on_error=False)
    async def unlock(self, passphrase: str) -> None:
        """Derive the key and open the profile without blocking the screen."""
        field, status = (
            self.query_one("#passphrase", Input),
            self.query_one("#unlock-status", Label),
        )
        field.disabled = True
        status.update("Unlocking…")
        try:
            client = await asyncio.to_thread(Client.open, self.home, passphrase)
        except AuthenticationError:
            self._failed("Wrong passphrase. Try again.")
        except PaykError as exc:
            self._failed(str(exc))
        else:
            status.update("Unlocked.")
            self.post_message(self.Unlocked(client))

    def _failed(self, sentence: str) -> None:
        field = self.query_one("#passphrase", Input)
        field.disabled = False
        field.value = ""
        field.focus()
        status = self.query_one("#unlock-status", Label)
        status.update(Text(sentence))
        status.add_class("error")
