"""The pure rendering of the terminal app: times, sizes, messages, labels, codes, relays."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import payk.tui
from payk.client.config import Config
from payk.client.messages import Message
from payk.client.paths import PathOutcome
from payk.tui import render
from payk.tui.paths import (
    RelayState,
    render_routes,
    render_states,
    short_relay,
    summary,
    transport_line,
)
from payk.tui.render import (
    Conversation,
    clock_time,
    conversation_label,
    human_size,
    message_text,
    printable,
    qr_text,
)
from payk.tui.safety import code_rows

NOW = int(datetime(2026, 11, 25, 9, 30, tzinfo=UTC).timestamp())

MESSAGE = Message(
    id="00" * 16,
    conversation="Bob",
    sender="Bob",
    outgoing=False,
    text="salam",
    file=None,
    file_name=None,
    file_size=None,
    sent_at=NOW - 60,
    status="received",
    paths=1,
)


def test_clock_time_today_this_year_and_before() -> None:
    assert clock_time(NOW - 60, NOW, UTC) == "09:29"
    assert clock_time(NOW - 86400, NOW, UTC) == "Nov 24 09:30"
    assert clock_time(NOW - 400 * 86400, NOW, UTC) == "2025-10-21 09:30"


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (307_200, "307.2 kB"), (12 * 10**6, "12.0 MB")],
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_a_peers_control_characters_never_reach_the_terminal() -> None:
    hostile = dataclasses.replace(MESSAGE, text="hi\x1b[2J\x07 [bold]there[/]", sender="B\x1bob")
    shown = message_text(hostile, now=NOW, tz=UTC)
    assert "\x1b" not in shown.plain and "\x07" not in shown.plain
    assert "[bold]there[/]" in shown.plain  # markup stays text
    assert printable("a\tb\nc\x00") == "a\tb\nc"


def test_message_lines_show_sender_time_state_and_files() -> None:
    incoming = message_text(MESSAGE, now=NOW, tz=UTC).plain
    assert incoming == "Bob  09:29\nsalam"
    sent = dataclasses.replace(MESSAGE, outgoing=True, sender="Alice", status="delivered")
    assert message_text(sent, now=NOW, tz=UTC).plain == "Alice  09:29  ✓✓ delivered\nsalam"
    queued = dataclasses.replace(sent, status="queued")
    assert "⧗ queued" in message_text(queued, now=NOW, tz=UTC).plain
    photo = dataclasses.replace(
        MESSAGE, text=None, file="/d/photo.jpg", file_name="photo.jpg", file_size=2048
    )
    assert message_text(photo, now=NOW, tz=UTC).plain.splitlines()[1:] == [
        "📎 photo.jpg (2.0 kB)",
        "   saved to /d/photo.jpg",
    ]
    kept = dataclasses.replace(photo, file="photo.jpg")  # not written out: file is the name
    assert message_text(kept, now=NOW, tz=UTC).plain.splitlines()[2:] == [
        "   in the encrypted store: Ctrl+O saves a copy"
    ]
    arriving = dataclasses.replace(photo, status="partial")
    assert "saved to" not in message_text(arriving, now=NOW, tz=UTC).plain
    assert "… arriving" in message_text(arriving, now=NOW, tz=UTC).plain


def test_conversation_labels_mark_verification_kind_and_unread() -> None:
    bob = Conversation(kind="contact", name="Bob", verified=True)
    assert conversation_label(bob).plain == "✓ Bob"
    assert conversation_label(dataclasses.replace(bob, verified=False), 3).plain == "· Bob (3)"
    assert conversation_label(Conversation(kind="group", name="Neighbours")).plain == "# Neighbours"
    assert conversation_label(Conversation(kind="channel", name="News"), 1).plain == "» News (1)"


def test_qr_codes_are_black_and_white_whatever_the_theme() -> None:
    code = qr_text("payk:invite-test")
    assert "█" in code.plain and str(code.style) == render.QR_STYLE
    assert len(set(map(len, code.plain.splitlines()))) == 1  # a rectangle


def test_safety_code_rows() -> None:
    code = " ".join(f"{n:05d}" for n in range(12))
    assert code_rows(code).splitlines() == [
        "00000 00001 00002 00003",
        "00004 00005 00006 00007",
        "00008 00009 00010 00011",
    ]


def test_relay_summary_and_states() -> None:
    a = "payk://" + "A" * 43 + "@127.0.0.1:4430"
    assert short_relay(a) == "payk://AAAAAAAA…@127.0.0.1:4430"
    assert short_relay("not an address") == "not an address"
    states = [RelayState(relay=a, up=True), RelayState(relay=a, up=False, error="timed out")]
    assert summary(states, 0) == "● 1/2 relays up"
    assert summary(states, 3) == "● 1/2 relays up · 3 waiting"
    assert render_states(states).plain.splitlines() == [
        "✓ payk://AAAAAAAA…@127.0.0.1:4430  up",
        "✗ payk://AAAAAAAA…@127.0.0.1:4430  down: timed out",
    ]


@pytest.mark.parametrize(
    "name", ["payk.tui", *(f"payk.tui.{m.name}" for m in pkgutil.iter_modules(payk.tui.__path__))]
)
def test_every_module_has_a_strategy_and_a_truthful_all(name: str) -> None:
    module = importlib.import_module(name)
    assert (module.__doc__ and "Strategy" in module.__doc__) or name == "payk.tui.__main__"
    exported = module.__all__
    assert exported and sorted(exported) == sorted(set(exported))
    assert all(hasattr(module, item) for item in exported)


def test_routes_and_transport() -> None:
    a = "payk://" + "B" * 43 + "@10.0.0.1:443"
    outcomes = [
        PathOutcome(path="direct", relay=a, ok=True),
        PathOutcome(path="forward", relay=a, ok=False, error="no path\x1b[31m"),
    ]
    assert render_routes(outcomes).plain.splitlines() == [
        "✓ direct → payk://BBBBBBBB…@10.0.0.1:443",
        "✗ forward → payk://BBBBBBBB…@10.0.0.1:443  no path[31m",
    ]
    plain = Config(home=Path("/h"))
    assert transport_line(plain) == "Routes: direct."
    every = dataclasses.replace(plain, proxy="socks5://127.0.0.1:9050", bridge="obfs4 x", via=a)
    assert transport_line(every) == (
        "Routes: through SOCKS5 socks5://127.0.0.1:9050, over an obfs4 bridge, "
        "also forwarded via payk://BBBBBBBB…@10.0.0.1:443."
    )
