"""Disappearing messages: per-message timers, the conversation default, and the purge.

Strategy: a message's timer travels inside it (``Text.expire`` / ``FileOffer.expire``, seconds)
so each side needs nothing else to honour it; the clock starts when a device stores the
message (sending or receiving), so both copies vanish about ``expire`` seconds after delivery
whatever the senders' clocks say. A row in ``expiry`` is written in the same transaction as
the message. The conversation default lives in ``timers`` and is changed by either side with
a ``Timer`` control message over the pairwise session; the latest ``set_at`` wins, so both
sides converge on the same setting, which both can show. ``purge`` deletes due messages (the
store runs with ``secure_delete``, and cascades remove file data and outbox copies) and the
copies of received files payk itself saved; it runs when a ``Client`` opens, before history is
read, and every ``PURGE_INTERVAL`` seconds while ``listen`` runs; after deleting it folds the
write-ahead log back, so no older version of a page keeps the text. The relay's copy is gone as
soon as it was acknowledged, long before any timer ends.

Groups work the same way over their feed: ``GroupText.expire`` starts a row of
``group_expiry`` when any member's device stores the text (``payk.client.feed_rows``), and the
group default lives in ``group_timers``, changed by any member with a ``GroupTimer`` posted to
the group; every member reads the same posts and keeps the one with the latest ``set_at``
(ties: the longer timer), so all converge. ``purge`` deletes due group messages alongside the
pairwise ones, in the same transaction and under the same checkpoint, and keeps their random
ids in ``group_gone`` so reading the feed again never stores them anew. Channels have no
timers.

A change of a default that is adopted (not an older setting that is ignored, not a repeat of
the setting in force) also leaves a notice in that conversation's history, for the one who set
it and for everyone who adopts it, so nobody can quietly change how long a conversation is
kept. A notice is a history row with status ``notice`` and a random local id: it is never
sent, takes no receipts, is never unread (those look for status ``received``) and has no
timer of its own. Its text is the phrase after the setter (``set disappearing messages to 1
day``); ``notice_line`` puts "You" or the setter's name in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from payk.client import contacts, outbox
from payk.client.store import layout
from payk.client.store.sqlcipher import Database
from payk.errors import StorageError, UsageError
from payk.protocol import content
from payk.protocol import group_content as gc
from payk.protocol.content import Content, FileOffer, Text, Timer

if TYPE_CHECKING:
    from payk.client.facade import Client
    from payk.client.messages import Message

__all__ = [
    "NOTICE",
    "PURGE_INTERVAL",
    "TimerSetting",
    "conversation_timer",
    "format_duration",
    "group_timer",
    "group_timer_for",
    "group_timer_received",
    "is_notice",
    "notice_line",
    "notice_phrase",
    "parse_duration",
    "purge",
    "purge_forever",
    "received",
    "set_timer",
    "start",
    "timer_for",
]

PURGE_INTERVAL = 0.5
NOTICE = "notice"  # the status of a history row that records a change of the default timer
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_WORDS = {"w": "week", "d": "day", "h": "hour", "m": "minute"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerSetting:
    """A conversation's default timer: ``seconds`` (0 = off), who set it and when.

    ``contact`` names the conversation: a contact, or a group when ``group`` is true (then
    ``setter`` is the name of the member who set it).
    """

    contact: str
    seconds: int
    set_at: int | None
    set_by_peer: bool
    group: bool = False
    setter: str = ""

    def as_json(self) -> dict[str, object]:
        """The ``--json`` shape of ``payk disappear``."""
        if self.group:
            by = None if self.set_at is None else (self.setter if self.set_by_peer else "me")
            return {
                "group": self.contact,
                "seconds": self.seconds,
                "set_by": by,
                "set_at": self.set_at,
            }
        set_by = None if self.set_at is None else ("them" if self.set_by_peer else "me")
        return {
            "contact": self.contact,
            "seconds": self.seconds,
            "set_by": set_by,
            "set_at": self.set_at,
        }


def parse_duration(text: str) -> int:
    """Seconds from ``30s``, ``10m``, ``1h``, ``2d``, ``1w`` or a plain number; ``off`` is 0.

    Raises:
        UsageError: not a duration, or longer than a year.
    """
    cleaned = text.strip().lower()
    if cleaned in {"off", "never", "0"}:
        return 0
    match = _DURATION.match(cleaned)
    if match is None:
        raise UsageError(f"{text!r} is not a duration (examples: 30s, 10m, 1h, 2d, 1w, off)")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not 0 < seconds <= content.MAX_EXPIRE:
        raise UsageError("a disappearing timer is between 1 second and 365 days")
    return seconds


def format_duration(seconds: int) -> str:
    """``1h``, ``90s``, ``off``: the largest unit that divides ``seconds``."""
    if seconds <= 0:
        return "off"
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def notice_phrase(seconds: int) -> str:
    """``set disappearing messages to 1 day``, or ``turned off disappearing messages``."""
    if seconds <= 0:
        return "turned off disappearing messages"
    amount, unit = seconds, "second"
    for short, word in _WORDS.items():
        if seconds % _UNITS[short] == 0:
            amount, unit = seconds // _UNITS[short], word
            break
    return f"set disappearing messages to {amount} {unit}{'' if amount == 1 else 's'}"


def is_notice(message: Message) -> bool:
    """Whether a history row records a change of the default timer (not a message)."""
    return message.status == NOTICE


def notice_line(message: Message) -> str:
    """The sentence a notice shows: ``You set ...`` or ``Sara turned off ...``."""
    return f"{'You' if message.outgoing else message.sender} {message.text or ''}"


def _store_notice(db: Database, contact_id: int, timer: Timer, *, mine: bool, now: int) -> int:
    """A notice in the conversation with ``contact_id``; returns its row id."""
    return db.execute(
        "INSERT INTO messages (contact_id, msg_id, outgoing, text, sent_at, stored_at, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            contact_id,
            secrets.token_bytes(16),  # local only: never sent, so no receipt can name it
            int(mine),
            notice_phrase(timer.seconds),
            timer.set_at,
            now,
            NOTICE,
        ),
    )


def conversation_timer(db: Database, contact_id: int, alias: str = "") -> TimerSetting:
    """The default timer of the conversation with ``contact_id``."""
    row = db.one(
        "SELECT seconds, set_at, set_by_peer FROM timers WHERE contact_id = ?", (contact_id,)
    )
    if row is None:
        return TimerSetting(contact=alias, seconds=0, set_at=None, set_by_peer=False)
    return TimerSetting(
        contact=alias,
        seconds=int(row[0]),
        set_at=int(row[1]),
        set_by_peer=bool(row[2]),
    )


def timer_for(db: Database, contact_id: int, expire: int | None) -> int:
    """The timer for a new message to the contact: ``expire`` if given, else the
    conversation's default.

    Raises:
        UsageError: ``expire`` is out of range.
    """
    if expire is not None:
        if not 0 <= expire <= content.MAX_EXPIRE:
            raise UsageError("a disappearing timer is between 1 second and 365 days")
        return expire
    return conversation_timer(db, contact_id).seconds


def start(db: Database, message: int, seconds: int, now: int) -> None:
    """Start the timer of a stored message (inside the transaction that stored it)."""
    if seconds > 0:
        db.execute(
            "INSERT OR IGNORE INTO expiry (message, expires_at) VALUES (?, ?)",
            (message, now + seconds),
        )


def received(db: Database, contact_id: int, item: Content, *, now: int) -> int:
    """Honour the timer an incoming item carries, or a new conversation default.

    Returns the row id of the notice a changed default left in the history, else 0.
    """
    if isinstance(item, Timer):
        return _timer_received(db, contact_id, item, now=now)
    if isinstance(item, Text | FileOffer) and item.expire > 0:
        row = db.one(
            "SELECT rowid_ FROM messages WHERE contact_id = ? AND msg_id = ? AND outgoing = 0",
            (contact_id, item.id),
        )
        if row is not None:
            start(db, int(row[0]), item.expire, now)
    return 0


def _timer_received(db: Database, contact_id: int, timer: Timer, *, now: int) -> int:
    current = conversation_timer(db, contact_id)
    if current.set_at is not None and (current.set_at, current.seconds) >= (
        timer.set_at,
        timer.seconds,
    ):
        # ours is newer (or, set in the same second, longer): the peer adopts it when our
        # Timer arrives, so both sides settle on the same setting; or it is ours again
        return 0
    _store_timer(db, contact_id, timer, by_peer=True)
    if timer.seconds == current.seconds:
        return 0  # the same setting again: nothing changed
    return _store_notice(db, contact_id, timer, mine=False, now=now)


def _store_timer(db: Database, contact_id: int, timer: Timer, *, by_peer: bool) -> None:
    db.execute(
        "INSERT OR REPLACE INTO timers (contact_id, seconds, set_at, set_by_peer) "
        "VALUES (?, ?, ?, ?)",
        (contact_id, timer.seconds, timer.set_at, int(by_peer)),
    )


async def set_timer(client: Client, alias: str, seconds: int) -> TimerSetting:
    """Set the conversation default with ``alias`` on both sides (0 turns it off).

    Never raises for relays being down: the change waits in the outbox.

    Raises:
        UsageError: no such contact, or the timer is out of range.
    """
    if not 0 <= seconds <= content.MAX_EXPIRE:
        raise UsageError("a disappearing timer is between 1 second and 365 days")
    db, key = client.profile.db, client.profile.pickle_key
    now = client.clock()
    timer = Timer(seconds=seconds, set_at=now)
    with db.transaction():
        contact = contacts.contact_by_alias(db, alias)
        before = conversation_timer(db, contact.id).seconds
        session = contacts.load_session(db, contact.id, key)
        sealed = session.seal(content.encode(timer), now=now)
        contacts.save_session(db, contact.id, session, key)
        _store_timer(db, contact.id, timer, by_peer=False)
        if seconds != before:
            _store_notice(db, contact.id, timer, mine=True, now=now)
        outbox.enqueue(
            db,
            contact_id=contact.id,
            envelopes=[sealed],
            targets=contacts.targets(db, contact.id),
            message=None,
        )
    await client.flush(force=True)
    return conversation_timer(db, contact.id, contact.alias)


# --- groups ----------------------------------------------------------------------------------


def group_timer(db: Database, group_ref: int, name: str = "") -> TimerSetting:
    """The default timer of the group ``group_ref``."""
    row = db.one(
        "SELECT seconds, set_at, set_by, by_me FROM group_timers WHERE group_ref = ?",
        (group_ref,),
    )
    if row is None:
        return TimerSetting(contact=name, seconds=0, set_at=None, set_by_peer=False, group=True)
    return TimerSetting(
        contact=name,
        seconds=int(row[0]),
        set_at=int(row[1]),
        set_by_peer=not row[3],
        group=True,
        setter=str(row[2]),
    )


def group_timer_for(db: Database, group_ref: int, expire: int | None) -> int:
    """The timer for a new group text: ``expire`` if given, else the group default.

    Raises:
        UsageError: ``expire`` is out of range.
    """
    if expire is not None:
        if not 0 <= expire <= content.MAX_EXPIRE:
            raise UsageError("a disappearing timer is between 1 second and 365 days")
        return expire
    return group_timer(db, group_ref).seconds


def group_timer_received(
    db: Database, group_ref: int, timer: gc.GroupTimer, *, by: str, mine: bool, now: int
) -> int:
    """Adopt a group's ``GroupTimer`` unless the one we hold is newer (ours or read back).

    Returns the row id of the notice a changed default left in the group's history, else 0.
    """
    current = group_timer(db, group_ref)
    if current.set_at is not None and (current.set_at, current.seconds) >= (
        timer.set_at,
        timer.seconds,
    ):
        return 0
    db.execute(
        "INSERT OR REPLACE INTO group_timers (group_ref, seconds, set_at, set_by, by_me) "
        "VALUES (?, ?, ?, ?, ?)",
        (group_ref, timer.seconds, timer.set_at, by, int(mine)),
    )
    if timer.seconds == current.seconds:
        return 0  # the same setting again: nothing changed
    return db.execute(
        "INSERT INTO group_messages (group_ref, msg_id, sender, outgoing, kind, text, sent_at, "
        "stored_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            group_ref,
            secrets.token_bytes(16),
            by,
            int(mine),
            NOTICE,
            notice_phrase(timer.seconds),
            timer.set_at,
            now,
            NOTICE,
        ),
    )


# --- purging ---------------------------------------------------------------------------------


def purge(db: Database, now: int) -> int:
    """Delete every message whose timer has run out, in conversations and groups; returns how
    many went.

    Copies of received files that payk saved are deleted too; a file the person sent stays
    where it was. A group message's feed entry still waiting to be sent stays queued (it is
    Megolm ciphertext the other members need).
    """
    with db.transaction():
        due = db.query(
            "SELECT m.rowid_, m.outgoing, m.file_path FROM expiry e "
            "JOIN messages m ON m.rowid_ = e.message WHERE e.expires_at <= ?",
            (now,),
        )
        for row in due:
            db.execute("DELETE FROM messages WHERE rowid_ = ?", (row[0],))
        group_due = db.query(
            "SELECT m.rowid_, m.group_ref, m.msg_id FROM group_expiry e "
            "JOIN group_messages m ON m.rowid_ = e.message WHERE e.expires_at <= ?",
            (now,),
        )
        for row in group_due:
            db.execute("DELETE FROM group_messages WHERE rowid_ = ?", (row[0],))
            db.execute(
                "INSERT OR IGNORE INTO group_gone (group_ref, msg_id) VALUES (?, ?)",
                (row[1], row[2]),
            )
    if due or group_due:  # old page versions stay in the write-ahead log until it is folded back
        layout.checkpoint(db)
    for row in due:
        if not row[1] and row[2]:
            with contextlib.suppress(OSError):
                Path(str(row[2])).unlink(missing_ok=True)
    return len(due) + len(group_due)


async def purge_forever(client: Client) -> None:
    """Purge while a long-running client (``listen``, the TUI) is open."""
    while True:
        with contextlib.suppress(StorageError):  # busy now: the next round tries again
            purge(client.profile.db, client.clock())
        await asyncio.sleep(PURGE_INTERVAL)
