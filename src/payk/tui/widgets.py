"""The widgets of the main screen: conversation entries and the thread of messages.

Strategy: widgets hold no client; they are given values (``Conversation``, ``Message``) and
draw them with the pure functions of ``payk.tui.render``. The thread redraws only when what it
shows changed (message ids and delivery states), so the once-a-second refresh from the local
store costs nothing when nothing happened, and the view stays scrolled to the newest message.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.widgets import Label, ListItem, Static

from payk.client import disappearing
from payk.client.messages import Message
from payk.tui.render import Conversation, conversation_label, message_text

__all__ = ["ConversationItem", "ThreadView"]


class ConversationItem(ListItem):
    """One conversation in the list, with its unread count."""

    def __init__(self, conversation: Conversation, unread: int = 0) -> None:
        self.label = Label(conversation_label(conversation, unread))
        super().__init__(self.label)
        self.conversation = conversation
        self.unread = unread

    def set_conversation(self, conversation: Conversation) -> None:
        """The same conversation with a new state (its verification mark)."""
        self.conversation = conversation
        self.label.update(conversation_label(conversation, self.unread))

    def set_unread(self, unread: int) -> None:
        """Show a new unread count."""
        self.unread = unread
        self.label.update(conversation_label(self.conversation, unread))
        self.set_class(unread > 0, "unread")


class ThreadView(VerticalScroll):
    """The messages of one conversation, newest at the bottom."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: tuple[tuple[str, str], ...] = ()
        self.placeholder: str | None = None

    def show(self, messages: Sequence[Message], *, now: int) -> bool:
        """Draw ``messages`` if they differ from what is shown; True if it redrew."""
        key = tuple((m.id, m.status) for m in messages)
        if key == self.shown and self.placeholder is None:
            return False
        self.shown, self.placeholder = key, None
        self.remove_children()
        self.mount_all(_bubble(m, now) for m in messages)
        self.call_after_refresh(self.scroll_end, animate=False)
        return True

    def show_note(self, note: str) -> None:
        """Show a sentence instead of messages (no conversation, or an empty one)."""
        if note == self.placeholder:
            return
        self.shown, self.placeholder = (), note
        self.remove_children()
        self.mount(Static(note, classes="note"))


def _bubble(message: Message, now: int) -> Static:
    if disappearing.is_notice(message):  # a system line, not a bubble from someone
        return Static(message_text(message, now=now), classes="notice")
    side = "outgoing" if message.outgoing else "incoming"
    return Static(message_text(message, now=now), classes=f"msg {side} {message.status}")
