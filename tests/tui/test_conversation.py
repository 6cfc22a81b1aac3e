"""Two people talk through their terminal apps over a real relay process."""

from __future__ import annotations

from textual.widgets import Input, Label, ListView

from payk.tui.main_screen import MainScreen
from payk.tui.unlock import UnlockScreen
from payk.tui.widgets import ConversationItem, ThreadView
from tests.tui.conftest import Payk, running, type_text, until


def _thread_text(app: object) -> str:
    thread = app.screen.query_one("#thread", ThreadView)  # type: ignore[attr-defined]
    return "\n".join(str(child.render()) for child in thread.children)


def _names(app: object) -> list[str]:
    view = app.screen.query_one("#conversations", ListView)  # type: ignore[attr-defined]
    return [item.conversation.name for item in view.query(ConversationItem)]


async def test_wrong_passphrase_then_the_right_one(contacts: tuple[Payk, Payk]) -> None:
    alice, _ = contacts
    async with running(alice, unlock=False) as (app, pilot):
        assert isinstance(app.screen, UnlockScreen)
        await type_text(pilot, "not it")
        await pilot.press("enter")
        status = app.screen.query_one("#unlock-status", Label)
        await until(pilot, lambda: "Wrong passphrase" in str(status.render()), "the refusal")
        assert app.client is None and isinstance(app.screen, UnlockScreen)
        assert app.screen.query_one("#passphrase", Input).value == ""
        await type_text(pilot, alice.passphrase)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert _names(app) == ["Bob"]


async def test_a_message_typed_in_one_app_arrives_in_the_other(contacts: tuple[Payk, Payk]) -> None:
    alice, bob = contacts
    async with running(alice) as (a_app, a_pilot), running(bob) as (b_app, b_pilot):
        assert _names(a_app) == ["Bob"] and _names(b_app) == ["Alice"]
        await a_pilot.click("#composer")
        await type_text(a_pilot, "salam Bob")
        await a_pilot.press("enter")
        await until(b_pilot, lambda: "salam Bob" in _thread_text(b_app), "Bob to see it")
        receipts = ("✓✓ delivered", "✓✓ read")  # Bob's open thread may send both at once
        await until(a_pilot, lambda: any(r in _thread_text(a_app) for r in receipts), "receipt")
        assert a_app.screen.query_one("#composer", Input).value == ""
