"""Groups, channels and locking in the terminal app, over a real relay process."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from payk.tui.groups import DetailsScreen, NewScreen
from payk.tui.invite import AcceptScreen
from payk.tui.main_screen import MainScreen
from payk.tui.unlock import UnlockScreen
from tests.tui.conftest import Payk, Relay, running, type_text, until
from tests.tui.test_conversation import _names, _thread_text
from tests.tui.test_dialogs import _text


async def _create(pilot: object, app: object, kind: str, name: str) -> None:
    await pilot.press("ctrl+n")  # type: ignore[attr-defined]
    assert isinstance(app.screen, NewScreen)  # type: ignore[attr-defined]
    app.screen.query_one("#new-name", Input).value = name  # type: ignore[attr-defined]
    await pilot.click(f"#{kind}")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, MainScreen), f"the new {kind}")  # type: ignore[arg-type, attr-defined]


async def _share(pilot: object, app: object) -> str:
    await pilot.press("ctrl+b")  # type: ignore[attr-defined]
    assert isinstance(app.screen, DetailsScreen)  # type: ignore[attr-defined]
    area = app.screen.query_one("#link", TextArea)  # type: ignore[attr-defined]
    await pilot.click("#share")  # type: ignore[attr-defined]
    await until(pilot, lambda: area.text.startswith("payk:"), "the link")  # type: ignore[arg-type]
    return area.text


async def _join(pilot: object, app: object, link: str) -> None:
    await pilot.press("ctrl+g")  # type: ignore[attr-defined]
    assert isinstance(app.screen, AcceptScreen)  # type: ignore[attr-defined]
    app.screen.query_one("#accept-link", Input).value = link  # type: ignore[attr-defined]
    await pilot.click("#accept")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, MainScreen), "the join")  # type: ignore[arg-type, attr-defined]


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
        await a_pilot.click("#approve")
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
