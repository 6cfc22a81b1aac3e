"""Polls and events in groups: send them, count votes, and remind of events.

Strategy: polls, votes and events are ordinary group messages (``payk.protocol.group_content``)
sent with ``groups.send_content``, so they get the same Megolm sender authentication and the
same one-upload cost. The tally is computed from stored messages: each member's latest vote on
a poll counts once (a later vote replaces an earlier one); votes for unknown polls or options
are ignored. For an anonymous poll the tally gives counts only. An event whose reminder time
has passed is reported once by ``due_reminders`` (its row is marked ``reminded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from payk.client import groups
from payk.client.feed_rows import Reminder, by_name, describe, due_reminders
from payk.client.store.sqlcipher import Database
from payk.errors import RemoteProtocolError, UsageError
from payk.protocol import group_content as gc
from payk.protocol import primitives

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["Reminder", "Tally", "due_reminders", "send_event", "send_poll", "send_vote", "tally"]

MIN_PREFIX = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """A poll and its votes: counts per option, and names unless the poll is anonymous."""

    poll: str
    question: str
    options: list[str]
    counts: list[int]
    voters: list[list[str]] | None


async def send_poll(
    client: Client, group: str, question: str, options: list[str], *, anonymous: bool
) -> str:
    """Ask the group a question; returns the poll id (hex)."""
    if not 2 <= len(options) <= 20:
        raise UsageError("a poll has 2 to 20 options")
    item = gc.Poll(
        id=primitives.random_bytes(16),
        question=question,
        options=options,
        anonymous=anonymous,
        sent_at=client.clock(),
    )
    poll_id, _ = await groups.send_content(client, group, item, text=describe(item))
    return poll_id


async def send_vote(client: Client, group: str, poll: str, choice: int) -> str:
    """Vote for option ``choice`` (1-based) of a poll named by its id or an id prefix."""
    found = _poll(client.profile.db, group, poll)
    if not 1 <= choice <= len(found.options):
        raise UsageError(f"choose an option from 1 to {len(found.options)}")
    item = gc.Vote(
        id=primitives.random_bytes(16), poll=found.id, choice=choice - 1, sent_at=client.clock()
    )
    vote_id, _ = await groups.send_content(client, group, item, text=describe(item))
    return vote_id


async def send_event(
    client: Client, group: str, title: str, *, starts_at: int, place: str, remind_at: int
) -> str:
    """Announce an event to the group; returns its id (hex)."""
    item = gc.Event(
        id=primitives.random_bytes(16),
        title=title,
        starts_at=starts_at,
        place=place,
        remind_at=remind_at,
        sent_at=client.clock(),
    )
    event_id, _ = await groups.send_content(client, group, item, text=describe(item))
    return event_id


def _contents(db: Database, group_ref: int, kind: str) -> list[tuple[int, str, gc.GroupContent]]:
    rows = db.query(
        "SELECT rowid_, sender, data FROM group_messages WHERE group_ref = ? AND kind = ? "
        "ORDER BY rowid_",
        (group_ref, kind),
    )
    out = []
    for row in rows:
        try:
            out.append((int(row["rowid_"]), str(row["sender"]), gc.decode(bytes(row["data"]))))
        except RemoteProtocolError:
            continue
    return out


def _poll(db: Database, group: str, poll: str) -> gc.Poll:
    row = by_name(db, group)
    prefix = poll.lower()
    if len(prefix) < MIN_PREFIX:
        raise UsageError(f"give at least {MIN_PREFIX} characters of the poll id")
    matches = [
        item
        for _, _, item in _contents(db, row.id, "poll")
        if isinstance(item, gc.Poll) and item.id.hex().startswith(prefix)
    ]
    if len(matches) != 1:
        raise UsageError(f"no single poll in {group!r} has an id starting with {poll!r}")
    return matches[0]


def tally(client: Client, group: str, poll: str) -> Tally:
    """The current tally of a poll (each member's latest vote counts once)."""
    db = client.profile.db
    found = _poll(db, group, poll)
    latest: dict[str, int] = {}
    for _, sender, item in _contents(db, by_name(db, group).id, "vote"):
        if isinstance(item, gc.Vote) and item.poll == found.id:
            if item.choice < len(found.options):
                latest[sender] = item.choice
    counts = [0] * len(found.options)
    voters: list[list[str]] = [[] for _ in found.options]
    for sender, choice in sorted(latest.items()):
        counts[choice] += 1
        voters[choice].append(sender)
    return Tally(
        poll=found.id.hex(),
        question=found.question,
        options=list(found.options),
        counts=counts,
        voters=None if found.anonymous else voters,
    )
