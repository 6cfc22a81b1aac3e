"""The files of a conversation: send one with a progress bar, save a received one.

Strategy: the path is typed (``~`` expands); a file to send is read, sealed and queued by the
client in one step and then handed to every relay, and the client's progress callback
(envelope copies handed over, of all copies) moves the bar; the dialog closes by itself when
the file is out, or stays open with the reason. Received files stay in the encrypted store
unless the person asked for copies; the list below offers them, and Save writes a decrypted
copy of the chosen one into the folder typed in the same field
(``payk.client.safety.save_attachment``, as ``payk save`` does).
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
from textual.widgets import Button, Input, Label, OptionList, ProgressBar

from payk.client.facade import Client, Sent
from payk.client.messages import Message
from payk.client.safety import save_attachment
from payk.errors import PaykError
from payk.tui import conversations as convs
from payk.tui.render import Conversation, human_size, printable


def _option(message: Message) -> str:
    size = human_size(message.file_size) if message.file_size is not None else "?"
    return f"{printable(message.file_name or 'file')} ({size}) · {message.id[:8]}"


__all__ = ["SendFileScreen"]


class SendFileScreen(ModalScreen[Sent | None]):
    """Sends a file to the open conversation, or saves one received in it."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client: Client, conversation: Conversation) -> None:
        super().__init__()
        self.client = client
        self.conversation = conversation
        self.received = [
            m
            for m in reversed(convs.history(client, conversation))
            if not m.outgoing and m.file_name is not None and m.status == "received"
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label(Text(f"Files with {printable(self.conversation.name)}"), classes="heading")
            yield Input(placeholder="a file to send, or a folder to save into", id="file-path")
            yield ProgressBar(total=None, show_eta=False, id="file-progress")
            yield Label("", id="file-status", classes="hint")
            yield Label("Received here (newest first):", classes="hint")
            yield OptionList(*(_option(m) for m in self.received), id="received")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save selected", id="save", disabled=not self.received)
                yield Button("Send", id="send", variant="primary")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self._send()
        elif event.button.id == "save":
            self._save()
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

    def _save(self) -> None:
        index = self.query_one("#received", OptionList).highlighted
        raw = self.query_one("#file-path", Input).value.strip()
        if index is None or not raw:
            self._say("Choose a received file and type the folder to save it into.", error=True)
            return
        message = self.received[index]
        try:
            saved = save_attachment(self.client.profile.db, message.id, Path(raw).expanduser())
        except PaykError as exc:
            self._say(str(exc), error=True)
            return
        self._say(f"✓ Saved {printable(message.file_name or '')} to {printable(str(saved))}")

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
