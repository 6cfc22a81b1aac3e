"""Dialogs to make an invitation (link and QR code) and to accept a link.

Strategy: both dialogs do their network work in a ``@work`` coroutine and close themselves with
a result the main screen acts on: ``InviteScreen`` returns whether a new invitation (and so new
mailboxes to listen on) exists, ``AcceptScreen`` the new conversation (any kind of link). The
link is shown in a read-only text area, so it can be selected or copied (Ctrl+Y copies it);
the QR code is drawn in black and white in a scrollable box, because an invitation carries a
post-quantum key and its code is larger than a small terminal.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from payk.client.facade import Client
from payk.errors import PaykError
from payk.tui.groups import join_link
from payk.tui.render import Conversation, qr_text

__all__ = ["AcceptScreen", "InviteScreen"]


class InviteScreen(ModalScreen[bool]):
    """Creates a one-time invitation and shows it as a link and a QR code."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+y", "copy", "Copy link"),
    ]

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client
        self.link: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("New invitation", classes="heading")
            yield Label(
                "Give this one-time link to one person, over a channel you trust.", classes="hint"
            )
            yield TextArea("Creating the invitation…", read_only=True, soft_wrap=True, id="link")
            with ScrollableContainer(classes="qr-scroll"):
                yield Static("", classes="qr", id="qr")
            with Horizontal(classes="buttons"):
                yield Button("Copy link", id="copy", disabled=True)
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.create()

    @work(exclusive=True, group="invite", exit_on_error=False)
    async def create(self) -> None:
        """Create mailboxes on the relays and the link."""
        try:
            link = await self.client.invite()
        except PaykError as exc:
            self.query_one("#link", TextArea).text = f"No invitation: {exc}"
            return
        self.link = link
        self.query_one("#link", TextArea).text = link
        self.query_one("#qr", Static).update(qr_text(link))
        self.query_one("#copy", Button).disabled = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.action_close()

    def action_copy(self) -> None:
        """Copy the link through the terminal (OSC 52)."""
        if self.link is not None:
            self.app.copy_to_clipboard(self.link)
            self.notify("The link is on the clipboard (if your terminal allows it).")

    def action_close(self) -> None:
        """Close; the main screen starts listening on the new mailboxes."""
        self.dismiss(self.link is not None)


class AcceptScreen(ModalScreen[Conversation | None]):
    """Accepts a link someone gave us: a person's invitation, a group's, or a channel."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("Join", classes="heading")
            yield Label(
                "Paste the link you were given (a person, a group or a channel):", classes="hint"
            )
            yield Input(placeholder="payk:invite… / payk:group… / payk:channel…", id="accept-link")
            yield Label("Your name for them (optional; else the name they chose):", classes="hint")
            yield Input(placeholder="name", id="accept-alias")
            yield Label("", id="accept-status", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Accept", id="accept", variant="primary")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "accept-link":
            self.query_one("#accept-alias", Input).focus()
        else:
            self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "accept":
            self._accept()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """Close without accepting."""
        self.dismiss(None)

    def _accept(self) -> None:
        link = "".join(self.query_one("#accept-link", Input).value.split())
        alias = self.query_one("#accept-alias", Input).value.strip() or None
        if not link:
            self._say("Paste the link first.", error=True)
            return
        self.accept(link, alias)

    @work(exclusive=True, group="accept", exit_on_error=False)
    async def accept(self, link: str, alias: str | None) -> None:
        """Accept the link and close with the new conversation."""
        self._say("Accepting…")
        self.query_one("#accept", Button).disabled = True
        try:
            joined = await join_link(self.client, link, alias)
        except PaykError as exc:
            self._say(str(exc), error=True)
            self.query_one("#accept", Button).disabled = False
            return
        self.dismiss(joined)

    def _say(self, sentence: str, *, error: bool = False) -> None:
        status = self.query_one("#accept-status", Label)
        status.update(Text(sentence))
        status.set_class(error, "error")
