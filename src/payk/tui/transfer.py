"""The dialog to send a file, with a progress bar while its sealed chunks go out.

Strategy: the path is typed (``~`` expands); the file is read, sealed and queued by the client
in one step and then handed to every relay, and the client's progress callback (envelope
copies handed over, of all copies) moves the bar. The dialog closes by itself when the file is
out, or stays open with the reason when it could not be sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar

from payk.client.facade import Client, Sent
from payk.errors import PaykError
from payk.tui import conversations as convs
from payk.tui.render import Conversation, printable

__all__ = ["SendFileScreen"]


class SendFileScreen(ModalScreen[Sent | None]):
    """Asks for a file and sends it to the open conversation."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client: Client, conversation: Conversation) -> None:
        super().__init__()
        self.client = client
        self.conversation = conversation

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label(
                Text(f"Send a file to {printable(self.conversation.name)}"), classes="heading"
            )
            yield Input(placeholder="path of the file, e.g. ~/photo.jpg", id="file-path")
            yield ProgressBar(total=None, show_eta=False, id="file-progress")
            yield Label("", id="file-status", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send", id="send", variant="primary")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self._send()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """Close without sending (a file already handed over keeps going)."""
        self.dismiss(None)

    def _send(self) -> None:
        raw = self.query_one("#file-path", Input).value.strip()
        if not raw:
            self._say("Type the path of a file first.", error=True)
            return
        self.send(Path(raw).expanduser())

    @work(exclusive=True, group="file", exit_on_error=False)
    async def send(self, path: Path) -> None:
        """Seal, queue and hand the file to the relays, moving the bar."""
        bar = self.query_one("#file-progress", ProgressBar)
        self.query_one("#send", Button).disabled = True
        self._say(f"Sending {path.name}…")

        def tick(done: int, total: int) -> None:
            bar.update(total=total, progress=done)

        try:
            sent = await convs.send_file(self.client, self.conversation, path, progress=tick)
        except PaykError as exc:
            self._say(str(exc), error=True)
            self.query_one("#send", Button).disabled = False
            return
        self.dismiss(sent)

    def _say(self, sentence: str, *, error: bool = False) -> None:
        status = self.query_one("#file-status", Label)
        status.update(Text(sentence))
        status.set_class(error, "error")
