"""Groups, channels and locking in the terminal app, over a real relay process."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from payk.tui import PaykApp
from payk.tui.groups import DetailsScreen, NewScreen
from payk.tui.invite import AcceptScreen
from payk.tui.main_screen import MainScreen
from payk.tui.unlock import UnlockScreen
from tests.tui.conftest import Payk, Relay, press_button, running, type_text, until
from tests.tui.test_conversation import _names, _thread_text
from tests.tui.test_dialogs import _text


async def _create(pilot: Pilot[None], app: PaykApp, kind: str, name: str) -> None:
    await pilot.press("ctrl+n")
    assert isinstance(app.screen, NewScreen)
    app.screen.query_one("#new-name", Input).value = name
    await press_button(pilot, kind)
    await until(pilot, lambda: isinstance(app.screen, MainScreen), f"the new {kind}")


async def _share(pilot: Pilot[None], app: PaykApp) -> str:
    await pilot.press("ctrl+b")
    assert isinstance(app.screen, DetailsScreen)
    area = app.screen.query_one("#link", TextArea)
    await press_button(pilot, "share")
    await until(pilot, lambda: area.text.startswith("payk:"), "the link")
    return area.text


async def _join(pilot: Pilot[None], app: PaykApp, link: str) -> None:
    await pilot.press("ctrl+g")
    assert isinstance(app.screen, AcceptScreen)
    app.screen.query_one("#accept-link", Input).value = link
    await press_button(pilot, "accept")
    await until(pilot, lambda: isinstance(app.screen, MainScreen), "the join")


async def test_a_group_made_joined_approved_and_talked_in(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    async with running(alice) as (a_app, a_pilot), running(bob) as (b_app, b_pilot):
        await _create(a_pilot, a_app, "group", "Neighbours")
        await until(a_pilot, lambda: _names(a_app) == ["Neighbours"], "the group in the list")
        assert "group" in _text(a_app, "#thread-title")
        link = await _share(a_pilot, a_app)
        assert link.startswith("payk:group")
        await _join(b_pilot, b_app, link)
        await until(b_pilot, lambda: _names(b_app) == ["Neighbours"], "Bob's group")
        roster = a_app.screen.query_one("#roster")
        await until(a_pilot, lambda: "? Bob" in str(roster.render()), "Bob's request")
        a_app.screen.query_one("#approve-name", Input).value = "Nobody"
        await press_button(a_pilot, "approve")
        await until(a_pilot, lambda: "Nobody" in _text(a_app, "#details-status"), "the refusal")
        field = a_app.screen.query_one("#approve-name", Input)
        field.value = "Bob"
        field.focus()
        await a_pilot.press("enter")
        await until(a_pilot, lambda: "• Bob" in str(roster.render()), "Bob as a member")
        await a_pilot.press("escape")
        await a_pilot.click("#composer")
        await type_text(a_pilot, "welcome Bob")
        await a_pilot.press("enter")
        await until(b_pilot, lambda: "welcome Bob" in _thread_text(b_app), "the group message")
        await b_pilot.click("#composer")
        await type_text(b_pilot, "thanks")
        await b_pilot.press("enter")
        await until(a_pilot, lambda: "thanks" in _thread_text(a_app), "Bob's answer")


async def test_a_channel_is_followed_and_read_only_for_readers(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    async with running(alice) as (a_app, a_pilot), running(bob) as (b_app, b_pilot):
        await _create(a_pilot, a_app, "channel", "News")
        link = await _share(a_pilot, a_app)
        assert link.startswith("payk:channel")
        await a_pilot.press("escape")
        await _join(b_pilot, b_app, link)
        await until(b_pilot, lambda: _names(b_app) == ["News"], "Bob follows News")
        composer = b_app.screen.query_one("#composer", Input)
        assert composer.disabled and "admins" in str(composer.placeholder)
        await a_pilot.click("#composer")
        await type_text(a_pilot, "first post")
        await a_pilot.press("enter")
        await until(b_pilot, lambda: "first post" in _thread_text(b_app), "the post")


async def test_a_lock_returns_to_the_unlock_screen(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, _ = people
    alice.init("Alice", [relay.address])
    async with running(alice) as (app, pilot):
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen), "the unlock screen")
        assert app.client is None
        await type_text(pilot, alice.passphrase)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        alice("lock")  # from another terminal
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen), "the lock to arrive")
