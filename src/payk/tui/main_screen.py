"""The main screen: conversations on the left, the open thread and the composer on the right.

Strategy: the screen owns the open ``Client``. Network work runs in ``@work`` coroutines on the
app's event loop (the client's ``listen()`` in one exclusive worker, restarted whenever new
mailboxes exist, each send in its own worker), so the screen never blocks. Everything shown is
read back from the local store: a message appears once the client has stored it, and a timer
re-reads the store once a second, which is how delivery receipts, names from a contact's hello
and new contacts show up. ``listen()`` covers mailboxes; a second worker reads the feeds of
groups and channels every few seconds. Unread counts are kept for this session (messages that
arrived while their conversation was not open). When ``listen()`` reports a lock (``payk lock``,
``payk panic`` or Ctrl+L), the screen posts ``Locked`` and the app asks for the passphrase.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, ListView

from payk.client import disappearing
from payk.client.facade import Client, Sent
from payk.client.messages import Message as ChatMessage
from payk.client.safety import lock
from payk.errors import AuthenticationError, PaykError
from payk.tui import conversations as convs
from payk.tui.groups import DetailsScreen, NewScreen
from payk.tui.invite import AcceptScreen, InviteScreen
from payk.tui.paths import PathsScreen, relay_states, summary
from payk.tui.render import Conversation, printable
from payk.tui.safety import SafetyScreen
from payk.tui.transfer import SendFileScreen
from payk.tui.vault import VaultScreen
from payk.tui.widgets import ConversationItem, ThreadView

__all__ = ["MainScreen"]

REFRESH_SECONDS = 1.0
PROBE_SECONDS = 15.0
FEED_SECONDS = 3.0
WELCOME = (
    "No conversations yet.\n\n"
    "Ctrl+N makes an invitation to give to one person, or a group or a channel;\n"
    "Ctrl+G takes a link someone gave you."
)


class MainScreen(Screen[None]):
    """Conversations, the open thread, the composer; messages arrive live."""

    class Locked(Message):
        """The profile was locked; its keys are gone from this process."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new", "New"),
        Binding("ctrl+g", "accept", "Join"),
        Binding("ctrl+s", "verify", "Verify"),
        Binding("ctrl+b", "details", "Members"),
        Binding("ctrl+o", "send_file", "File"),
        Binding("ctrl+r", "paths", "Relays"),
        Binding("ctrl+f", "vault", "Vault"),
        Binding("ctrl+l", "lock", "Lock"),
        Binding("ctrl+y", "reply", "Reply", show=False),  # the footer is full at 80 columns
        Binding("up", "move(-1)", "Previous conversation", show=False),
        Binding("down", "move(1)", "Next conversation", show=False),
    ]

    AUTO_FOCUS = "#composer"

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client
        self.current: Conversation | None = None
        self.unread: dict[str, int] = client.unread()  # contacts' counts are kept in the store
        self._list_lock = asyncio.Lock()
        self._typing_focused = False
        self.reply_to: ChatMessage | None = None
        self._shown: list[ChatMessage] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Label("Conversations", id="sidebar-title")
                yield ListView(id="conversations")
                yield Label("", id="path-summary")
            with Vertical(id="thread-pane"):
                yield Label("", id="thread-title")
                yield ThreadView(id="thread")
                yield Input(placeholder="Write a message; Enter sends", id="composer")
        yield Footer()

    def on_mount(self) -> None:
        self.app.sub_title = self.client.name
        self.open(None)
        self.call_next(self.refresh_local)
        self.set_interval(REFRESH_SECONDS, self.refresh_local)
        self.set_interval(PROBE_SECONDS, self.probe)
        self.set_interval(FEED_SECONDS, self.poll_feeds)
        self.listen()
        self.probe()

    # --- reading the local store -----------------------------------------------------------

    async def refresh_local(self) -> None:
        """Re-read conversations and the open thread from the store (no network)."""
        try:
            await self._refresh_list()
            self._refresh_thread()
        except PaykError:  # the store went away (a lock): the Locked message follows
            return

    async def _refresh_list(self) -> None:
        async with self._list_lock:  # the timer and an arrival may both redraw the list
            await self._redraw_list(convs.conversations(self.client))

    async def _redraw_list(self, found: list[Conversation]) -> None:
        items = list(self.query(ConversationItem))
        if [item.conversation for item in items] == found:
            return
        if [item.conversation.name for item in items] == [c.name for c in found]:
            for item, conversation in zip(items, found, strict=True):
                item.set_conversation(conversation)
            self._retitle(found)
            return
        wanted = self.current.name if self.current else None
        index = next((i for i, c in enumerate(found) if c.name == wanted), 0)
        view = self.query_one("#conversations", ListView)
        await view.clear()
        await view.extend(ConversationItem(c, self.unread.get(c.name, 0)) for c in found)
        view.index = index if found else None
        self.open(found[index] if found else None)

    def _retitle(self, found: list[Conversation]) -> None:
        """The open conversation changed in place (its verification mark)."""
        for conversation in found:
            if self.current is not None and conversation.name == self.current.name:
                self.current = conversation
                self.query_one("#thread-title", Label).update(_title(conversation))

    def _refresh_thread(self) -> None:
        thread = self.query_one("#thread", ThreadView)
        if self.current is None:
            self._shown = []
            thread.show_note(WELCOME)
            return
        messages = convs.history(self.client, self.current)
        self._shown = messages
        if messages:
            thread.show(messages, now=self.client.clock())
            if self.current.kind == "contact" and any(not m.outgoing for m in messages):
                self.mark_read(self.current)
        else:
            thread.show_note(f"No messages with {printable(self.current.name)} yet.")

    def open(self, conversation: Conversation | None) -> None:
        """Show ``conversation`` (or the welcome note) and clear its unread count."""
        self.current = conversation
        self.reply_to = None
        composer = self.query_one("#composer", Input)
        composer.disabled = conversation is None or not conversation.writable
        composer.placeholder = _placeholder(conversation)
        self.refresh_bindings()
        if conversation is not None and not self._typing_focused:
            self._typing_focused = True  # once: the first conversation is ready to type in
            composer.focus()
        self.query_one("#thread-title", Label).update(_title(conversation))
        if conversation is not None:
            self.unread.pop(conversation.name, None)
            self._set_unread(conversation.name, 0)
        self._refresh_thread()

    def _set_unread(self, name: str, count: int) -> None:
        for item in self.query(ConversationItem):
            if item.conversation.name == name:
                item.set_unread(count)

    # --- events ----------------------------------------------------------------------------

    def on_list_view_highlighted(self, event: ListView.Highlighted) -> None:
        item = event.item
        if not isinstance(item, ConversationItem) or not item.is_attached:
            return
        if self.current is None or item.conversation.name != self.current.name:
            self.open(item.conversation)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, ConversationItem):
            self.open(event.item.conversation)
            self.query_one("#composer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "composer" or self.current is None or not event.value.strip():
            return
        event.input.value = ""
        reply, self.reply_to = self.reply_to, None
        event.input.placeholder = _placeholder(self.current)
        self.send_text(self.current, event.value, reply)

    def action_move(self, step: int) -> None:
        """Open the previous or next conversation (from the composer, too)."""
        view = self.query_one("#conversations", ListView)
        count = len(view.children)
        if count:
            view.index = max(0, min(count - 1, (view.index or 0) + step))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Verify and File are shown for contacts, Members for groups and channels."""
        kind = self.current.kind if self.current else None
        if action in ("verify", "send_file", "reply"):
            return kind == "contact"
        if action == "details":
            return kind in ("group", "channel")
        return True

    def action_reply(self) -> None:
        """Answer the conversation's last message: the next one sent quotes it."""
        messages = [m for m in self._shown if not disappearing.is_notice(m)]
        if self.current is None or not messages:
            self.notify("Nothing to reply to yet.", severity="warning")
            return
        self.reply_to = messages[-1]
        lines = (self.reply_to.text or self.reply_to.file_name or "").splitlines() or [""]
        quoted = printable(lines[0])
        composer = self.query_one("#composer", Input)
        composer.placeholder = f"Reply to “{quoted[:50]}”; Enter sends"
        composer.focus()

    @work(group="read", exit_on_error=False)
    async def mark_read(self, conversation: Conversation) -> None:
        """Mark what the thread shows as read; the contact gets a read receipt."""
        try:
            await self.client.mark_read(conversation.name)
        except PaykError as exc:
            self.client.warnings.append(str(exc))

    # --- dialogs ---------------------------------------------------------------------------

    def action_new(self) -> None:
        """Start an invitation, a group or a channel."""
        self.app.push_screen(NewScreen(self.client), self._after_new)

    async def _after_new(self, made: Conversation | str | None) -> None:
        if made == "invite":
            self.action_invite()
        elif isinstance(made, Conversation):
            self.current = made
            await self._refresh_list()

    def action_invite(self) -> None:
        """Make an invitation (link and QR code)."""
        self.app.push_screen(InviteScreen(self.client), self._after_invite)

    def _after_invite(self, created: bool | None) -> None:
        if created:
            self.listen()  # the invitation's mailboxes are new: listen on them too

    def action_accept(self) -> None:
        """Accept an invitation link."""
        self.app.push_screen(AcceptScreen(self.client), self._after_accept)

    async def _after_accept(self, joined: Conversation | None) -> None:
        if joined is None:
            return
        self.current = joined
        await self._refresh_list()
        if joined.kind == "contact":
            self.listen()  # the contact's mailboxes are new: listen on them too
        self.notify(_joined(joined), markup=False)

    def action_details(self) -> None:
        """A group's members and approvals, or a channel's link."""
        if self.current is not None and self.current.kind != "contact":
            self.app.push_screen(DetailsScreen(self.client, self.current))

    def action_vault(self) -> None:
        """The evidence vault: list, add, export, verify."""
        self.app.push_screen(VaultScreen(self.client))

    def action_lock(self) -> None:
        """Lock the profile: every payk process on it drops its keys, this one too."""
        lock(self.client.profile.home)

    def action_verify(self) -> None:
        """Compare the open contact's safety code."""
        if self.current is None or self.current.kind != "contact":
            self.notify("Open a conversation with a contact first.", severity="warning")
            return
        self.app.push_screen(SafetyScreen(self.client, self.current.name), self._after_verify)

    async def _after_verify(self, changed: bool | None) -> None:
        if changed:
            await self._refresh_list()

    def action_send_file(self) -> None:
        """Send a file to the open conversation."""
        if self.current is None:
            self.notify("Open a conversation first.", severity="warning")
            return
        self.app.push_screen(SendFileScreen(self.client, self.current), self._after_file)

    def _after_file(self, sent: Sent | None) -> None:
        self._refresh_thread()
        if sent is not None and not sent.paths:
            self.notify("No relay reachable now; the file goes out when one is.")

    def action_paths(self) -> None:
        """Show which relays are up."""
        self.app.push_screen(PathsScreen(self.client))

    # --- network work ----------------------------------------------------------------------

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def probe(self) -> None:
        """Update the one-line relay summary."""
        states = await relay_states(self.client)
        line = self.query_one("#path-summary", Label)
        line.update(summary(states, self.client.pending()))
        line.set_class(not any(state.up for state in states), "down")

    @work(exclusive=True, group="listen", exit_on_error=False)
    async def listen(self) -> None:
        """Stay connected to every relay; each message is shown as it is stored."""
        try:
            async for message in self.client.listen():
                await self.arrived(message)
        except AuthenticationError:
            self.post_message(self.Locked())  # payk lock, or Ctrl+L: the keys are gone
        except PaykError as exc:
            self.notify(str(exc), title="Not listening", severity="error", markup=False)

    @work(exclusive=True, group="feeds", exit_on_error=False)
    async def poll_feeds(self) -> None:
        """Read the feeds of groups and channels (``listen`` covers mailboxes only)."""
        try:
            for message in await convs.sync_feeds(self.client):
                await self.arrived(message)
        except PaykError as exc:
            self.client.warnings.append(str(exc))

    async def arrived(self, message: ChatMessage) -> None:
        """A message was stored: show it, or count it as unread."""
        await self._refresh_list()
        if self.current is not None and message.conversation == self.current.name:
            self._refresh_thread()
            return
        if disappearing.is_notice(message):  # shown in the thread, never counted as unread
            self.notify(printable(disappearing.notice_line(message)), markup=False)
            return
        count = self.unread.get(message.conversation, 0) + 1
        self.unread[message.conversation] = count
        self._set_unread(message.conversation, count)
        preview = printable(message.text or message.file_name or "")[:60]
        self.notify(preview, title=printable(message.sender), markup=False)

    @work(group="send", exit_on_error=False)
    async def send_text(
        self, conversation: Conversation, text: str, reply: ChatMessage | None = None
    ) -> None:
        """Store and send a message; it shows at once as queued, then sent."""
        reply_id = reply.id if reply is not None else None
        try:
            sent = await convs.send_text(self.client, conversation, text, reply_to=reply_id)
        except PaykError as exc:
            self.notify(str(exc), title="Not sent", severity="error", markup=False)
            return
        finally:
            self._refresh_thread()
        if not sent.paths:
            self.notify("No relay reachable now; it goes out when one is.", severity="warning")


def _placeholder(conversation: Conversation | None) -> str:
    if conversation is not None and not conversation.writable:
        return "Only the channel's admins post here."
    return "Write a message; Enter sends"


def _joined(conversation: Conversation) -> str:
    name = printable(conversation.name)
    if conversation.kind == "contact":
        return f"{name} is now a contact; Ctrl+S compares safety codes."
    if conversation.kind == "group":
        return f"You asked to join {name}; an admin of the group approves."
    return f"You follow {name}; its posts arrive here."


def _title(conversation: Conversation | None) -> Text:
    if conversation is None:
        return Text("Welcome to payk", style="bold")
    title = Text(printable(conversation.name), style="bold", no_wrap=True, overflow="ellipsis")
    if conversation.kind == "contact" and conversation.verified:
        title.append("  ✓ verified")
    elif conversation.kind == "contact":
        title.append("  · not verified (Ctrl+S compares safety codes)", style="dim")
    else:
        title.append(f"  {conversation.kind} · Ctrl+B members and link", style="dim")
    return title
