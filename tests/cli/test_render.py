"""The pure renderers of the profile and message commands."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from payk.cli.message_cmd import printable, render_message, render_messages, render_sent
from payk.cli.profile_cmd import (
    passphrase,
    qr_text,
    render_accepted,
    render_contacts,
    render_init,
    render_safety,
)
from payk.client.facade import Safety, Sent
from payk.client.messages import Message
from payk.errors import UsageError


def _text(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _message(**changes: object) -> Message:
    base: dict[str, object] = dict(
        id="ab" * 16,
        conversation="Sara",
        sender="Sara",
        outgoing=False,
        text="salam",
        file=None,
        file_name=None,
        file_size=None,
        sent_at=1,
        status="received",
        paths=2,
    )
    base.update(changes)
    return Message(**base)  # type: ignore[arg-type]


def test_message_lines_show_sender_text_and_state() -> None:
    assert _text(render_message(_message())).strip() == "Sara: salam"
    out = _text(render_message(_message(outgoing=True, sender="Me", status="delivered")))
    assert "Me → Sara: salam" in out and "delivered" in out
    file_line = _text(
        render_message(_message(text=None, file="/d/a.jpg", file_name="a.jpg", file_size=2048))
    )
    assert "a.jpg (2,048 bytes)" in file_line and "saved to /d/a.jpg" in file_line


def test_empty_lists_say_so() -> None:
    assert "Nothing new" in _text(render_messages([], empty="Nothing new."))
    assert "payk invite" in _text(render_contacts([]))


def test_sent_and_queued_read_differently() -> None:
    assert "over 2 relay" in _text(render_sent("Sara", Sent(id="ab" * 16, paths=2)))
    assert "queued" in _text(render_sent("Sara", Sent(id="ab" * 16, paths=0)))


def test_safety_and_init_panels() -> None:
    safety = Safety(contact="Sara", code="12345 67890", qr=b"x", verified=False)
    assert "--confirm" in _text(render_safety(safety, None))
    confirmed = dataclasses.replace(safety, verified=True)
    assert "✓ verified" in _text(render_safety(confirmed, None))
    assert "payk://x" in _text(render_init("Me", ["payk://x"], Path("/h")))


def test_qr_is_drawn_with_blocks() -> None:
    assert "█" in qr_text("payk:invite-example")


def test_passphrase_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYK_PASSPHRASE", "from env")
    assert passphrase() == "from env"
    monkeypatch.delenv("PAYK_PASSPHRASE")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(UsageError, match="PAYK_PASSPHRASE"):
        passphrase()


def test_peer_text_cannot_drive_the_terminal() -> None:
    assert printable("hi\x1b[2J\x07 there\nnext") == "hi[2J there\nnext"
    assert "\x1b" not in _text(render_message(_message(text="\x1b]0;pwned\x07")))


def test_accept_says_who_or_what_happens_next() -> None:
    assert "Sara is now a contact" in _text(render_accepted("Sara", named=True))
    assert "until their answer" in _text(render_accepted("contact", named=False))
