"""Terminal-app fixtures: real relay processes and real profiles, driven through Pilot.

The relay and the two people come from ``tests/e2e/conftest.py`` (real ``payk relay serve``
processes on loopback, real ``payk`` commands). ``Tui`` runs a ``PaykApp`` on one person's
profile under ``app.run_test()`` at 80x24; ``until`` waits for a condition on the screen with a
deadline (never a bare sleep).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from textual.pilot import Pilot
from textual.widgets import Button

from payk.tui import PaykApp
from payk.tui.main_screen import MainScreen
from tests.e2e.conftest import (
    Payk,
    Relay,
    RelayFactory,
    connect,
    contacts_on,
    people,
    relay,
    relays,
)

__all__ = [
    "Payk",
    "Relay",
    "RelayFactory",
    "connect",
    "contacts",
    "people",
    "press_button",
    "relay",
    "relays",
    "running",
    "type_text",
    "until",
]

WAIT = 30.0


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYK_KDF_PROFILE", "fast")


@pytest.fixture
def contacts(relay: Relay, people: tuple[Payk, Payk]) -> tuple[Payk, Payk]:
    """Alice and Bob, each with a profile on the relay, already contacts of each other."""
    return contacts_on(relay, people)


def keys(text: str) -> list[str]:
    """The key names that type ``text``."""
    names = {" ": "space", ".": "full_stop", ",": "comma", "!": "exclamation_mark"}
    return [names.get(ch, ch) for ch in text]


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type ``text`` into the focused widget, key by key."""
    await pilot.press(*keys(text))


async def press_button(pilot: Pilot[None], button_id: str) -> None:
    """Press a button of the current screen as a click or Enter would."""
    pilot.app.screen.query_one(f"#{button_id}", Button).press()
    await pilot.pause()


async def until(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, within: float = WAIT
) -> None:
    """Let the app run until ``condition()`` holds; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.05)


@asynccontextmanager
async def running(
    person: Payk, *, unlock: bool = True, size: tuple[int, int] = (80, 24), save: bool = True
) -> AsyncIterator[tuple[PaykApp, Pilot[None]]]:
    """``person``'s terminal app, unlocked (by typing the passphrase) unless told otherwise;
    received files are written to their downloads folder unless ``save`` is false."""
    app = PaykApp(person.home, downloads=person.downloads if save else None)
    try:
        async with app.run_test(size=size) as pilot:
            if unlock:
                await type_text(pilot, person.passphrase)
                await pilot.press("enter")
                await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            yield app, pilot
    finally:
        await asyncio.wait_for(app.close_client(), WAIT)
