"""What the conversation list shows and how each kind of conversation is read and written.

Strategy: the screens never ask the client about contacts, groups or channels directly; they go
through these few functions, so a new kind of conversation is one more branch here and no
change in the widgets. Contacts come from ``Client.contacts``, groups and channels from their
rows (``payk.client.feed_rows``); ``history`` and ``send_text`` take any of the three names, as
the client does. Everything here reads the local store only, except ``send_*`` (stored first,
then sent) and ``sync_feeds``, which reads the feeds of groups and channels: the client's
``listen`` covers mailboxes only, so the app polls feeds on a timer.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from pathlib import Path

from payk.client import groups
from payk.client.facade import Client, Sent
from payk.client.feed_rows import all_rows
from payk.client.messages import Message
from payk.errors import UsageError
from payk.tui.render import Conversation

__all__ = [
    "HISTORY_LIMIT",
    "conversations",
    "feed_lock",
    "has_feeds",
    "history",
    "send_file",
    "send_text",
    "sync_feeds",
]

HISTORY_LIMIT = 200

Progress = Callable[[int, int], None]
_LOCKS: weakref.WeakKeyDictionary[Client, asyncio.Lock] = weakref.WeakKeyDictionary()


def conversations(client: Client) -> list[Conversation]:
    """Every conversation: contacts, then groups, then channels (each by name)."""
    found = [
        Conversation(kind="contact", name=contact.alias, verified=contact.verified)
        for contact in client.contacts()
    ]
    rows = all_rows(client.profile.db)
    for kind in ("group", "channel"):
        found += [
            Conversation(kind=kind, name=row.name, writable=row.writer_seed is not None)
            for row in rows
            if row.kind == kind
        ]
    return found


def feed_lock(client: Client) -> asyncio.Lock:
    """One lock per client around every group and channel operation.

    The app polls feeds on a timer while the person approves, posts or joins; the group
    modules read, apply and save a feed's entries in steps with network waits in between, so
    two of them on one group must not interleave.
    """
    return _LOCKS.setdefault(client, asyncio.Lock())


def has_feeds(client: Client) -> bool:
    """Whether there is any group or channel to poll."""
    return bool(all_rows(client.profile.db))


async def sync_feeds(client: Client) -> list[Message]:
    """Read every group's and channel's feed; the new messages, stored."""
    if not has_feeds(client):
        return []
    async with feed_lock(client):
        return await groups.sync_all(client)


def history(client: Client, conversation: Conversation) -> list[Message]:
    """The last messages of a conversation, oldest first."""
    return client.history(conversation.name, limit=HISTORY_LIMIT)


async def send_text(
    client: Client, conversation: Conversation, text: str, *, reply_to: str | None = None
) -> Sent:
    """Send ``text`` (stored first, so it waits in the outbox if no relay is up), perhaps as
    an answer to the message ``reply_to`` (contacts only)."""
    if not conversation.writable:
        raise UsageError(f"only the admins of {conversation.name!r} can post to it")
    if conversation.kind == "contact":
        return await client.send_text(conversation.name, text, reply_to=reply_to)
    async with feed_lock(client):
        return await client.send_text(conversation.name, text)


async def send_file(
    client: Client, conversation: Conversation, path: Path, progress: Progress | None = None
) -> Sent:
    """Send a file, reporting (done, total) envelope copies to ``progress``."""
    _only_contacts(conversation)
    return await client.send_file(conversation.name, path, progress=progress)


def _only_contacts(conversation: Conversation) -> None:
    if conversation.kind != "contact":
        raise UsageError("files go to contacts only, not to groups or channels")
