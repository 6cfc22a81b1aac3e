"""Replies and read receipts through a real relay process with real ``payk`` commands."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Payk, Relay, connect

pytestmark = pytest.mark.e2e


def test_reply_and_read_receipt(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    asked = alice("send", "Bob", "tea or coffee?").data["id"]
    assert [m["text"] for m in bob.sync()] == ["tea or coffee?"]
    bad = bob("send", "Alice", "tea", "--reply", "ffff" + "0" * 28, check=False)
    assert bad.code == 1 and "no message" in bad.stderr
    answer = bob("send", "Alice", "tea", "--reply", asked[:8]).data["id"]
    alice.sync()
    assert {m["text"]: m["status"] for m in alice("history", "Bob").data["messages"]} == {
        "tea or coffee?": "delivered",  # Bob has not looked at the conversation yet
        "tea": "received",
    }
    shown = bob("history", "Alice").data["messages"]
    assert [(m["id"], m["reply_to"]) for m in shown] == [(asked, None), (answer, asked)]
    alice.sync()
    mine = alice("history", "Bob").data["messages"]
    assert [(m["text"], m["status"], m["reply_to"]) for m in mine] == [
        ("tea or coffee?", "read", None),
        ("tea", "received", asked),
    ]
    human = alice("history", "Bob", json_mode=False).data
    assert "“tea or coffee?”" in human and "✓✓ read" in human
