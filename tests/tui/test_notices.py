"""A change of the disappearing timer in the terminal app: a dim centred line of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from payk.client.messages import Message
from payk.tui.render import message_text, notice_text
from payk.tui.widgets import ThreadView
from tests.tui.conftest import Payk, running, until

NOW = int(datetime(2026, 11, 25, 9, 30, tzinfo=UTC).timestamp())


def _notice(*, outgoing: bool, text: str) -> Message:
    return Message(
        id="ab" * 16,
        conversation="Sara",
        sender="Me" if outgoing else "Sara",
        outgoing=outgoing,
        text=text,
        file=None,
        file_name=None,
        file_size=None,
        sent_at=NOW - 60,
        status="notice",
        paths=0,
    )


def _styles(text: Text) -> set[str]:
    return {str(span.style) for span in text.spans} | {str(text.style)}


def test_a_notice_is_one_dim_centred_line_without_a_sender() -> None:
    theirs = message_text(
        _notice(outgoing=False, text="turned off disappearing messages"), now=NOW, tz=UTC
    )
    assert theirs.plain == "Sara turned off disappearing messages  09:29"
    assert theirs.justify == "center"
    assert "dim italic" in _styles(theirs) and "bold" not in _styles(theirs)
    mine = notice_text(_notice(outgoing=True, text="set disappearing messages to 1 day"), now=NOW)
    assert mine.plain.startswith("You set disappearing messages to 1 day  ")


def test_a_notice_text_cannot_drive_the_terminal() -> None:
    shown = message_text(_notice(outgoing=False, text="set \x1b[2Jit"), now=NOW, tz=UTC)
    assert "\x1b" not in shown.plain


async def test_the_thread_shows_a_timer_change_as_a_system_line(
    contacts: tuple[Payk, Payk],
) -> None:
    alice, bob = contacts
    alice("disappear", "Bob", "1d")
    async with running(bob) as (app, pilot):
        thread = app.screen.query_one("#thread", ThreadView)

        def notices() -> list[str]:
            found = [c for c in thread.children if isinstance(c, Static) and c.has_class("notice")]
            return [str(c.render()) for c in found]

        await until(pilot, lambda: bool(notices()), "the notice in Bob's thread")
        assert notices()[0].startswith("Alice set disappearing messages to 1 day")
        assert not any(c.has_class("msg") for c in thread.children), "not a message bubble"
