"""Dialogs for groups and channels: make one, join any link, members and approvals, links.

Strategy: the same ``@work``-and-dismiss pattern as the contact dialogs, over the client's
group and channel modules (``payk.client.groups``, ``payk.client.channels``). ``NewScreen``
offers the three things one can start (an invitation for a person, a group, a channel);
``JoinScreen`` takes any link someone gave us and routes it by its prefix (a person's
invitation, a group's invitation, a channel); ``DetailsScreen`` shows a group's members and
pending requests, approves them, and shows the link to share (a group invitation is made on
the relay, so it needs the network; a channel's link is local).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from payk.client import channels, groups
from payk.client.facade import Client
from payk.errors import PaykError, UsageError
from payk.protocol.channel import CHANNEL_LINK_PREFIX
from payk.protocol.group_link import GROUP_LINK_PREFIX
from payk.tui.conversations import feed_lock
from payk.tui.render import Conversation, printable

__all__ = ["DetailsScreen", "NewScreen", "join_link", "render_roster"]

ROSTER_SECONDS = 1.0


async def join_link(client: Client, link: str, alias: str | None) -> Conversation:
    """Accept a person's invitation, ask to join a group, or follow a channel."""
    if link.startswith(GROUP_LINK_PREFIX):
        async with feed_lock(client):
            return Conversation(kind="group", name=await groups.join(client, link, alias=alias))
    if link.startswith(CHANNEL_LINK_PREFIX):
        async with feed_lock(client):
            name = await channels.subscribe(client, link, alias=alias)
        return Conversation(kind="channel", name=name, writable=False)
    return Conversation(kind="contact", name=await client.accept(link, alias=alias))


def render_roster(roster: groups.Roster) -> Text:
    """Members with their roles, then requests waiting for an admin."""
    out = Text()
    out.append(f"{roster.status} · epoch {roster.epoch}\n", style="dim")
    for member in roster.members:
        out.append(f"• {printable(member.name)}", style="bold" if member.you else "")
        out.append(f"  {member.role}{' (you)' if member.you else ''}\n", style="dim")
    if roster.pending:
        out.append("Waiting for approval:\n", style="bold")
        for name in roster.pending:
            out.append(f"? {printable(name)}\n")
    out.rstrip()
    return out


class NewScreen(ModalScreen[Conversation | str | None]):
    """Start something: an invitation for a person, a group, or a channel."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("New", classes="heading")
            yield Label("An invitation for one person (link and QR code):", classes="hint")
            yield Button("Invite a person", id="invite", variant="primary")
            yield Label("Or a group or a channel, with this name:", classes="hint")
            yield Input(placeholder="name", id="new-name")
            yield Label("", id="new-status", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create channel", id="channel")
                yield Button("Create group", id="group")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "invite":
            self.dismiss("invite")
        elif event.button.id in ("group", "channel"):
            self.create(event.button.id, self.query_one("#new-name", Input).value.strip())
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.create("group", event.value.strip())

    def action_cancel(self) -> None:
        """Close without making anything."""
        self.dismiss(None)

    @work(exclusive=True, group="new", exit_on_error=False)
    async def create(self, kind: str, name: str) -> None:
        """Create the group or channel on our first relay."""
        status = self.query_one("#new-status", Label)
        try:
            if not name:
                raise UsageError("give it a name first")
            status.update(Text(f"Creating the {kind}…"))
            maker = groups.create if kind == "group" else channels.create
            async with feed_lock(self.client):
                made = await maker(self.client, name)
        except PaykError as exc:
            status.update(Text(str(exc)))
            status.add_class("error")
            return
        self.dismiss(Conversation(kind=kind, name=made))


class DetailsScreen(ModalScreen[bool]):
    """A group's members, approvals and invitation link; a channel's link."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, client: Client, conversation: Conversation) -> None:
        super().__init__()
        self.client = client
        self.conversation = conversation
        self.changed = False

    def compose(self) -> ComposeResult:
        kind, name = self.conversation.kind, printable(self.conversation.name)
        with Vertical(id="box"):
            yield Label(Text(f"{kind.capitalize()} {name}"), classes="heading")
            with VerticalScroll(id="roster-scroll"):
                yield Static("", id="roster")
            with Horizontal(id="approvals", classes="buttons"):
                yield Input(placeholder="name to approve", id="approve-name")
                yield Button("Approve", id="approve")
            yield TextArea("", read_only=True, soft_wrap=True, id="link")
            yield Label("", id="details-status", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Invitation link", id="share")
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        is_group = self.conversation.kind == "group"
        self.query_one("#approvals").display = is_group
        self.query_one("#link").display = False
        self.query_one("#share", Button).disabled = not self.conversation.writable
        self._show_roster()
        self.set_interval(ROSTER_SECONDS, self._show_roster)  # requests arrive with the feed

    def _show_roster(self) -> None:
        roster = self.query_one("#roster", Static)
        if self.conversation.kind == "group":
            roster.update(render_roster(groups.members(self.client, self.conversation.name)))
        elif self.conversation.writable:
            roster.update("Your channel: share its link; readers stay anonymous.")
        else:
            roster.update("You follow this channel; only its admins post.")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "approve":
            self.approve(self.query_one("#approve-name", Input).value.strip())
        elif event.button.id == "share":
            self.share()
        else:
            self.action_close()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.approve(event.value.strip())

    def action_close(self) -> None:
        """Close, saying whether the group changed."""
        self.dismiss(self.changed)

    @work(exclusive=True, group="approve", exit_on_error=False)
    async def approve(self, who: str) -> None:
        """Admit a member who asked to join (starts a new epoch)."""
        try:
            async with feed_lock(self.client):
                await groups.approve(self.client, self.conversation.name, who)
        except PaykError as exc:
            self._say(str(exc), error=True)
            return
        self.changed = True
        self.query_one("#approve-name", Input).value = ""
        self._say(f"{printable(who)} is a member now.")
        self._show_roster()

    @work(exclusive=True, group="share", exit_on_error=False)
    async def share(self) -> None:
        """Show the link to give to people (a group's is made on the relay)."""
        try:
            if self.conversation.kind == "group":
                async with feed_lock(self.client):
                    link = await groups.invite(self.client, self.conversation.name)
            else:
                link = channels.link(self.client, self.conversation.name)
        except PaykError as exc:
            self._say(str(exc), error=True)
            return
        area = self.query_one("#link", TextArea)
        area.text, area.display = link, True
        self.app.copy_to_clipboard(link)
        self._say("The link is also on the clipboard (if your terminal allows it).")

    def _say(self, sentence: str, *, error: bool = False) -> None:
        status = self.query_one("#details-status", Label)
        status.update(Text(sentence))
        status.set_class(error, "error")
