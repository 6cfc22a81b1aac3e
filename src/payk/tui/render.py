"""Pure rendering for the terminal app: message lines, conversation labels, times, QR codes.

Strategy: everything the screens show about messages and conversations is built here from
client values (``Message``, ``Conversation``) with ``now`` passed in, as rich ``Text`` objects
(never markup: a peer's text must not style or drive the terminal, so control characters are
dropped too). Only bold, dim and italic are used, so the text reads the same on light and dark
themes; colours come from the ``.tcss`` file through theme variables. QR codes are the one
exception: they are drawn with explicit black and white so that a camera can read them on any
theme. A notice (someone changed the disappearing timer) is one dim centred line, not a
message from someone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, tzinfo

import segno
from rich.text import Text

from payk.client import disappearing
from payk.client.messages import Message

__all__ = [
    "STATUS_MARKS",
    "Conversation",
    "clock_time",
    "conversation_label",
    "file_line",
    "human_size",
    "message_text",
    "notice_text",
    "printable",
    "qr_text",
]

STATUS_MARKS = {
    "queued": "⧗ queued",
    "sent": "✓ sent",
    "delivered": "✓✓ delivered",
    "read": "✓✓ read",
    "received": "",
    "partial": "… arriving",
    "failed": "✗ did not verify",
}

QR_STYLE = "#ffffff on #000000"  # segno draws light modules as blocks


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """One entry of the conversation list.

    ``kind`` is ``contact``, ``group`` or ``channel``; ``name`` is what the client's ``send_*``
    and ``history`` take; ``verified`` is the safety-code state (contacts); ``writable`` is
    false for a channel we only read.
    """

    kind: str
    name: str
    verified: bool = False
    writable: bool = True


def printable(text: str) -> str:
    """``text`` without control characters (tabs and newlines stay)."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")


def clock_time(sent_at: int, now: int, tz: tzinfo | None = None) -> str:
    """``14:05`` today, ``Nov 24 14:05`` this year, ``2025-11-24 14:05`` before."""
    when = datetime.fromtimestamp(sent_at, tz).astimezone(tz)
    today = datetime.fromtimestamp(now, tz).astimezone(tz)
    if when.date() == today.date():
        return when.strftime("%H:%M")
    if when.year == today.year:
        return when.strftime("%b %d %H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def human_size(size: int) -> str:
    """``812 B``, ``3.4 kB``, ``12.0 MB``."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def file_line(message: Message) -> str:
    """The attachment line of a message: name, size, and where a received copy was saved."""
    name = printable(message.file_name or "file")
    line = f"📎 {name}"
    if message.file_size is not None:
        line += f" ({human_size(message.file_size)})"
    if message.outgoing or message.status != "received":
        return line
    if message.file and message.file != message.file_name:
        return line + f"\n   saved to {printable(message.file)}"
    return line + "\n   in the encrypted store: Ctrl+O saves a copy"


def notice_text(message: Message, *, now: int, tz: tzinfo | None = None) -> Text:
    """A notice as one dim centred line: ``Sara turned off disappearing messages  14:05``."""
    out = Text(justify="center", style="dim italic")
    out.append(printable(disappearing.notice_line(message)))
    out.append(f"  {clock_time(message.sent_at, now, tz)}")
    return out


def message_text(message: Message, *, now: int, tz: tzinfo | None = None) -> Text:
    """One message: the line it answers (if any), who and when, then its text or file; a
    notice as ``notice_text``."""
    if disappearing.is_notice(message):
        return notice_text(message, now=now, tz=tz)
    out = Text()
    quoted = message.quoted()
    if quoted is not None:
        out.append(f"↳ “{printable(quoted)}”\n", style="dim italic")
    out.append(printable(message.sender), style="bold")
    out.append(f"  {clock_time(message.sent_at, now, tz)}", style="dim")
    mark = STATUS_MARKS.get(message.status, message.status)
    if mark:
        out.append(f"  {mark}", style="dim italic")
    if message.text is not None:
        out.append("\n" + printable(message.text))
    if message.file_name is not None:
        out.append("\n" + file_line(message), style="italic")
    return out


def conversation_label(conversation: Conversation, unread: int = 0) -> Text:
    """A list entry: a mark for verified contacts, groups (#) or channels (»), and unread."""
    marks = {"group": "# ", "channel": "» "}
    out = Text(no_wrap=True, overflow="ellipsis")
    if conversation.kind == "contact":
        out.append("✓ " if conversation.verified else "· ", style="bold" if unread else "")
    else:
        out.append(marks.get(conversation.kind, "  "))
    out.append(printable(conversation.name), style="bold" if unread else "")
    if unread:
        out.append(f" ({unread})", style="bold")
    return out


def qr_text(data: str | bytes) -> Text:
    """A QR code drawn with half blocks in fixed black and white, whatever the theme."""
    buffer = io.StringIO()
    segno.make(data, error="l").terminal(out=buffer, compact=True)
    return Text(buffer.getvalue().rstrip("\n"), style=QR_STYLE, no_wrap=True, overflow="crop")
