"""Read marks and replies in the terminal app, two people over a real relay process."""

from __future__ import annotations

from textual.widgets import Input

from payk.tui.widgets import ThreadView
from tests.tui.conftest import Payk, Relay, connect, running, type_text, until


def _thread_text(app: object) -> str:
    thread = app.screen.query_one("#thread", ThreadView)  # type: ignore[attr-defined]
    return "\n".join(str(child.render()) for child in thread.children)


async def test_the_sender_sees_read_and_a_reply_shows_its_quote(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    async with running(alice) as (a_app, a_pilot):
        await a_pilot.click("#composer")
        await type_text(a_pilot, "tea or coffee")
        await a_pilot.press("enter")
        await until(a_pilot, lambda: "✓ sent" in _thread_text(a_app), "the relay to take it")
        assert "✓✓ read" not in _thread_text(a_app)  # Bob's app is not open yet
        async with running(bob) as (b_app, b_pilot):
            await until(b_pilot, lambda: "tea or coffee" in _thread_text(b_app), "Bob to see it")
            await until(a_pilot, lambda: "✓✓ read" in _thread_text(a_app), "the read mark")
            await b_pilot.press("ctrl+y")
            composer = b_app.screen.query_one("#composer", Input)
            assert "tea or coffee" in composer.placeholder
            await type_text(b_pilot, "tea")
            await b_pilot.press("enter")
            await until(a_pilot, lambda: "“tea or coffee”" in _thread_text(a_app), "the quote")
            assert "↳ “tea or coffee”\nBob" in _thread_text(a_app)  # the quote tops Bob's answer
