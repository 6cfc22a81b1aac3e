"""``PaykApp``: the terminal app (unlock, then the main screen and its dialogs).

Strategy: the app only moves between screens and owns the client's lifetime: the unlock screen
posts ``Unlocked`` with an open ``Client``, the app switches to the main screen, and
``close_client`` (called by ``run_tui`` and by tests once the app has stopped and its workers
are cancelled) closes relay connections and the store. Styles live in ``payk.tcss`` beside this
module and use theme variables only, so Ctrl+T switches between a dark and a light theme and
both stay readable.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from payk.client.facade import Client
from payk.tui.main_screen import MainScreen
from payk.tui.unlock import UnlockScreen

__all__ = ["DARK", "LIGHT", "PaykApp", "run_tui"]

DARK, LIGHT = "textual-dark", "textual-light"


class PaykApp(App[None]):
    """payk in the terminal."""

    CSS_PATH = "payk.tcss"
    TITLE = "payk"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False),
    ]

    def __init__(
        self,
        home: Path,
        *,
        passphrase: str | None = None,
        downloads: Path | None = None,
        light: bool = False,
    ) -> None:
        super().__init__()
        self.home = home
        self.passphrase = passphrase
        self.downloads = downloads
        self.client: Client | None = None
        self.theme = LIGHT if light else DARK

    def on_mount(self) -> None:
        self.push_screen(UnlockScreen(self.home, passphrase=self.passphrase))

    def on_unlock_screen_unlocked(self, event: UnlockScreen.Unlocked) -> None:
        client = event.client
        if self.downloads is not None:
            client.config = dataclasses.replace(client.config, downloads=self.downloads)
        self.client = client
        self.switch_screen(MainScreen(client))

    async def on_main_screen_locked(self, event: MainScreen.Locked) -> None:
        """The profile was locked: forget the client and ask for the passphrase again."""
        await self.close_client()
        self.switch_screen(UnlockScreen(self.home))
        self.notify("The profile was locked. Enter the passphrase to open it again.")

    def action_toggle_theme(self) -> None:
        """Switch between the dark and the light theme."""
        self.theme = LIGHT if self.theme == DARK else DARK

    async def close_client(self) -> None:
        """Close the client (after the app has stopped)."""
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()


async def run_tui(app: PaykApp) -> None:
    """Run the app until the person quits, then close the client."""
    try:
        await app.run_async()
    finally:
        await app.close_client()
