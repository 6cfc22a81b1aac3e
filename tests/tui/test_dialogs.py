"""The dialogs over a real relay: invitation and accept, safety codes, paths, files, unread."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input, Label, OptionList, ProgressBar, Static

from payk.tui.groups import NewScreen
from payk.tui.invite import AcceptScreen, InviteScreen
from payk.tui.main_screen import MainScreen
from payk.tui.paths import PathsScreen
from payk.tui.safety import SafetyScreen
from payk.tui.transfer import SendFileScreen
from tests.tui.conftest import (
    Payk,
    Relay,
    RelayFactory,
    connect,
    press_button,
    running,
    type_text,
    until,
)
from tests.tui.test_conversation import _names, _thread_text


def _text(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector).render())  # type: ignore[attr-defined]


async def test_invite_in_one_app_accept_in_the_other(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    async with running(alice) as (a_app, a_pilot), running(bob) as (b_app, b_pilot):
        assert _names(a_app) == [] and "No conversations yet" in _thread_text(a_app)
        await a_pilot.press("ctrl+n")
        assert isinstance(a_app.screen, NewScreen)
        await press_button(a_pilot, "invite")
        await until(a_pilot, lambda: isinstance(a_app.screen, InviteScreen), "the invitation")
        invite = a_app.screen
        await until(a_pilot, lambda: invite.link is not None, "the invitation link")
        link = invite.link
        assert link is not None and link.startswith("payk:invite")
        assert "█" in _text(a_app, "#qr")
        await a_pilot.press("escape")
        assert isinstance(a_app.screen, MainScreen)

        await b_pilot.press("ctrl+g")
        assert isinstance(b_app.screen, AcceptScreen)
        b_app.screen.query_one("#accept-link", Input).value = link[:-12]
        await press_button(b_pilot, "accept")
        await until(b_pilot, lambda: "invitation" in _text(b_app, "#accept-status"), "refusal")
        assert isinstance(b_app.screen, AcceptScreen)  # a broken link keeps the dialog open
        b_app.screen.query_one("#accept-link", Input).value = link
        b_app.screen.query_one("#accept-alias", Input).focus()
        await type_text(b_pilot, "Alice")
        await b_pilot.press("enter")
        await until(b_pilot, lambda: isinstance(b_app.screen, MainScreen), "the dialog to close")
        await until(b_pilot, lambda: _names(b_app) == ["Alice"], "Alice in Bob's list")
        await until(a_pilot, lambda: _names(a_app) == ["Bob"], "Bob in Alice's list")

        await b_pilot.click("#composer")
        await type_text(b_pilot, "salam")
        await b_pilot.press("enter")
        await until(a_pilot, lambda: "salam" in _thread_text(a_app), "Bob's first message")


async def test_safety_code_matches_the_other_side_and_confirms(contacts: tuple[Payk, Payk]) -> None:
    alice, bob = contacts
    theirs = bob("verify", "Alice").data["code"]
    async with running(alice) as (app, pilot):
        assert "not verified" in _text(app, "#thread-title")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SafetyScreen)
        shown = _text(app, "#safety-code")
        assert shown.split() == theirs.split() and len(shown.splitlines()) == 3
        assert "not verified" in _text(app, "#safety-state")
        await press_button(pilot, "confirm")
        assert "✓ verified" in _text(app, "#safety-state")
        assert app.screen.query_one("#confirm", Button).disabled
        await pilot.press("escape")
        await until(pilot, lambda: "✓ verified" in _text(app, "#thread-title"), "the new mark")
        assert app.client is not None
        assert [(c.alias, c.verified) for c in app.client.contacts()] == [("Bob", True)]


async def test_verify_and_file_need_a_contact(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, _ = people
    alice.init("Alice", [relay.address])
    async with running(alice) as (app, pilot):
        keys = app.screen.active_bindings  # the footer shows these
        assert {"ctrl+s", "ctrl+o", "ctrl+b"}.isdisjoint(keys)
        assert keys["ctrl+n"].enabled and keys["ctrl+g"].enabled
        await pilot.press("ctrl+s", "ctrl+o", "ctrl+b")
        assert isinstance(app.screen, MainScreen)  # nothing to verify, nowhere to send
        assert app.screen.query_one("#composer", Input).disabled


async def test_paths_show_a_relay_going_down(
    relays: RelayFactory, people: tuple[Payk, Payk]
) -> None:
    alice, _ = people
    up, down = relays.start("up"), relays.start("down")
    alice.init("Alice", [up.address, down.address])
    down.stop()
    async with running(alice) as (app, pilot):
        summary = app.screen.query_one("#path-summary", Label)
        await until(pilot, lambda: "1/2 relays up" in str(summary.render()), "the summary")
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, PathsScreen)
        states = app.screen.query_one("#relay-states", Static)
        await until(pilot, lambda: "down:" in str(states.render()), "the probe")
        lines = str(states.render()).splitlines()
        assert lines[0].startswith("✓ ") and lines[0].endswith(f":{up.port}  up")
        assert lines[1].startswith("✗ ") and f":{down.port}  down: " in lines[1]
        assert "Outbox: 0 envelope copies waiting" in _text(app, "#outbox")
        up.stop()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: str(states.render()).count("✗ ") == 2, "both down")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_a_file_goes_out_with_a_progress_bar_and_arrives(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(bytes(range(256)) * 1200)  # several chunks
    async with running(alice) as (a_app, a_pilot), running(bob) as (b_app, b_pilot):
        await a_pilot.press("ctrl+o")
        assert isinstance(a_app.screen, SendFileScreen)
        dialog = a_app.screen
        a_app.screen.query_one("#file-path", Input).value = str(tmp_path / "missing.jpg")
        await a_pilot.press("enter")
        await until(a_pilot, lambda: "missing" in _text(a_app, "#file-status"), "the refusal")
        assert isinstance(a_app.screen, SendFileScreen)
        bar = dialog.query_one("#file-progress", ProgressBar)
        a_app.screen.query_one("#file-path", Input).value = str(photo)
        await a_pilot.press("enter")
        await until(a_pilot, lambda: isinstance(a_app.screen, MainScreen), "the file to go out")
        assert bar.total is not None and bar.total > 2 and bar.progress == bar.total
        await until(b_pilot, lambda: "saved to" in _thread_text(b_app), "the file at Bob's")
        assert "📎 photo.jpg (307.2 kB)" in _thread_text(b_app)
        saved = list(bob.downloads.iterdir())
        assert [p.read_bytes() for p in saved] == [photo.read_bytes()]


async def test_unread_counts_for_conversations_not_open(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, bob = people
    carol = Payk(tmp_path / "carol", "carol passphrase", tmp_path / "carol-downloads")
    for person, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        person.init(name, [relay.address])
    connect(alice, bob)
    carol("accept", alice("invite").data["link"], "--as", "Alice")
    alice.sync()
    async with running(alice) as (app, pilot):
        await until(pilot, lambda: _names(app) == ["Bob", "Carol"], "both contacts")
        assert "Bob" in _text(app, "#thread-title")
        carol("send", "Alice", "one")
        carol("send", "Alice", "two")
        items = {i.conversation.name: i for i in app.screen.query("ConversationItem")}
        await until(pilot, lambda: items["Carol"].unread == 2, "two unread from Carol")  # type: ignore[attr-defined]
        assert "(2)" in str(items["Carol"].label.render())  # type: ignore[attr-defined]
        assert items["Bob"].unread == 0  # type: ignore[attr-defined]
        await pilot.press("down")
        await until(pilot, lambda: "two" in _thread_text(app), "Carol's thread")
        assert items["Carol"].unread == 0  # type: ignore[attr-defined]
        carol("send", "Alice", "three")
        await until(pilot, lambda: items["Carol"].unread == 0 and "three" in _thread_text(app), "3")  # type: ignore[attr-defined]
        await pilot.press("up")  # Bob's thread: what Carol sends next stays unread
        await until(pilot, lambda: "Bob" in _text(app, "#thread-title"), "Bob's thread")
        carol("send", "Alice", "four")
        await until(pilot, lambda: items["Carol"].unread == 1, "one unread from Carol")  # type: ignore[attr-defined]
    async with running(alice) as (app, pilot):  # a new session still knows what is unread
        await until(pilot, lambda: _names(app) == ["Bob", "Carol"], "both contacts again")
        items = {i.conversation.name: i for i in app.screen.query("ConversationItem")}
        assert items["Carol"].unread == 1  # type: ignore[attr-defined]
        assert "(1)" in str(items["Carol"].label.render())  # type: ignore[attr-defined]


async def test_a_received_file_stays_in_the_store_until_saved(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    leaflet = tmp_path / "leaflet.pdf"
    leaflet.write_bytes(b"%PDF meeting points " * 500)
    alice("send", "Bob", "--file", str(leaflet))
    async with running(bob, save=False) as (app, pilot):
        await until(pilot, lambda: "encrypted store" in _thread_text(app), "the kept file")
        assert not bob.downloads.exists()
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, SendFileScreen)
        await press_button(pilot, "save")
        assert "Choose a received file" in _text(app, "#file-status")
        folder = tmp_path / "chosen"
        folder.mkdir()
        app.screen.query_one("#file-path", Input).value = str(folder)
        app.screen.query_one("#received", OptionList).highlighted = 0
        await press_button(pilot, "save")
        assert "✓ Saved leaflet.pdf" in _text(app, "#file-status")
        assert [p.read_bytes() for p in folder.iterdir()] == [leaflet.read_bytes()]


async def test_a_bundle_carries_a_message_while_the_relay_is_down(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    relay.stop()
    carried = tmp_path / "usb" / "payk.bundle"
    carried.parent.mkdir()
    async with running(alice) as (a_app, a_pilot), running(bob) as (b_app, b_pilot):
        await type_text(a_pilot, "by hand")
        await a_pilot.press("enter")
        await until(a_pilot, lambda: "⧗ queued" in _thread_text(a_app), "the queued message")
        for app, pilot, button, path in (
            (a_app, a_pilot, "import", tmp_path / "missing.bundle"),
            (a_app, a_pilot, "export", carried),
            (b_app, b_pilot, "import", carried),
        ):
            await pilot.press("ctrl+r")
            assert isinstance(app.screen, PathsScreen)
            app.screen.query_one("#bundle-path", Input).value = str(path)
            await press_button(pilot, button)
            await until(pilot, lambda p=path, a=app: p.name in _text(a, "#warnings"), button)  # type: ignore[misc]
            shown = _text(app, "#warnings")
            await pilot.press("escape")
            if path.name == "missing.bundle":
                assert shown.startswith("✗ missing.bundle")
            elif button == "export":
                assert shown.startswith("✓ Wrote") and carried.is_file()
            else:
                assert "1 new message(s)" in shown
        await until(b_pilot, lambda: "by hand" in _thread_text(b_app), "the carried message")
