"""Group and channel feeds for ``payk listen``: poll every feed, hand new messages over.

Strategy: relays push pairwise mailboxes but not feeds, so while ``Client.listen`` runs a
``FeedPoller`` calls ``groups.sync_all`` (flush our queued entries, read every group and
channel feed from its stored offset) every few seconds. New messages are kept until the
listen loop takes them; ``wake`` nudges that loop so they are printed at once. A relay that
cannot be reached becomes a warning (``sync_all`` already turns it into one) and the next
round tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from payk.client import groups
from payk.client.messages import Message
from payk.errors import PaykError

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["POLL_SECONDS", "FeedPoller"]

POLL_SECONDS = 2.0


class FeedPoller:
    """Reads every group and channel feed of ``client`` in a loop (one per ``listen``)."""

    def __init__(
        self, client: Client, wake: Callable[[], None], *, interval: float = POLL_SECONDS
    ) -> None:
        self._client = client
        self._wake = wake
        self._interval = interval
        self._news: list[Message] = []

    def take(self) -> list[Message]:
        """The messages read since the last call, oldest first."""
        news, self._news = self._news, []
        return news

    async def poll_once(self) -> int:
        """One round over every feed; returns how many new messages it found."""
        if self._client.profile.db.one("SELECT 1 FROM groups LIMIT 1") is None:
            return 0
        try:
            found = await groups.sync_all(self._client)
        except PaykError as exc:
            self._client.warnings.append(str(exc))
            return 0
        if found:
            self._news += found
            self._wake()
        return len(found)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await self.poll_once()
            await asyncio.sleep(self._interval)
