"""What the conversation list shows and how each kind of conversation is read and written.

Strategy: the screens never ask the client about contacts, groups or channels directly; they go
through these few functions, so a new kind of conversation is one more branch here and no
change in the widgets. Everything here reads the local store only, except ``send_text`` and
``send_file`` which hand the message to the client (stored first, then sent).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from payk.client.facade import Client, Sent
from payk.client.messages import Message
from payk.errors import UsageError
from payk.tui.render import Conversation

__all__ = ["HISTORY_LIMIT", "conversations", "history", "send_file", "send_text"]

HISTORY_LIMIT = 200

Progress = Callable[[int, int], None]


def conversations(client: Client) -> list[Conversation]:
    """Every conversation, contacts first (by name)."""
    return [
        Conversation(kind="contact", name=contact.alias, verified=contact.verified)
        for contact in client.contacts()
    ]


def history(client: Client, conversation: Conversation) -> list[Message]:
    """The last messages of a conversation, oldest first."""
    _only_contacts(conversation)
    return client.history(conversation.name, limit=HISTORY_LIMIT)


async def send_text(client: Client, conversation: Conversation, text: str) -> Sent:
    """Send ``text`` (it is stored first, so it waits in the outbox if no relay is up)."""
    _only_contacts(conversation)
    return await client.send_text(conversation.name, text)


async def send_file(
    client: Client, conversation: Conversation, path: Path, progress: Progress | None = None
) -> Sent:
    """Send a file, reporting (done, total) envelope copies to ``progress``."""
    _only_contacts(conversation)
    return await client.send_file(conversation.name, path, progress=progress)


def _only_contacts(conversation: Conversation) -> None:
    if conversation.kind != "contact":
        raise UsageError(f"{conversation.kind} conversations are not supported yet")
