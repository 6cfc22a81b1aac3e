"""Disappearing messages in groups, with a real relay process and real ``payk`` commands:
a timed message leaves every member's store (pages and write-ahead log included), and the
group default set by one member is shown to and used by all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Payk, Relay
from tests.e2e.test_groups import _admit
from tests.e2e.test_safety import _files, _rows, _store_plaintext, _until

pytestmark = pytest.mark.e2e


@pytest.fixture
def trio(tmp_path: Path, relay: Relay) -> tuple[Payk, Payk, Payk]:
    people = tuple(
        Payk(tmp_path / n, f"{n} passphrase", tmp_path / f"{n}-downloads")
        for n in ("alice", "bob", "carol")
    )
    for person, name in zip(people, ("Alice", "Bob", "Carol"), strict=True):
        person.init(name, [relay.address])
    alice, bob, carol = people
    alice("group", "create", "Union")
    _admit(alice, bob, "Bob")
    _admit(alice, carol, "Carol")
    return people  # type: ignore[return-value]


def test_a_two_second_group_message_disappears_from_every_member(
    trio: tuple[Payk, Payk, Payk],
) -> None:
    alice, bob, carol = trio
    secret, kept = "the printing press moves to the old bakery", "see you at the meeting"
    sent = alice("send", "Union", secret, "--expire", "2s").data
    assert sent["paths"] == 1
    alice("send", "Union", kept)
    for person in (bob, carol):
        got = [m for m in person.sync() if m["conversation"] == "Union"]
        assert [m["text"] for m in got] == [secret, kept]
        assert got[0]["expires_at"] is not None and got[1]["expires_at"] is None
    assert secret.encode() in _store_plaintext(carol), "the page scan sees a stored message"

    def gone(person: Payk) -> bool:
        return [m["text"] for m in person("history", "Union").data["messages"]] == [kept]

    _until(lambda: all(gone(p) for p in trio), "the group message to disappear")
    for person in trio:
        rows, pages = _rows(person), _store_plaintext(person)
        assert kept.encode() in rows and kept.encode() in pages, "the scans see what is kept"
        assert secret.encode() not in rows
        assert secret.encode() not in pages, "deleted, and its pages overwritten"
        for path in _files(person.home):
            assert secret.encode() not in path.read_bytes()


def test_a_group_timer_set_by_one_member_is_shown_to_and_used_by_all(
    trio: tuple[Payk, Payk, Payk],
) -> None:
    alice, bob, carol = trio
    assert carol("disappear", "Union").data["seconds"] == 0
    set_now = bob("disappear", "Union", "1h").data
    assert (set_now["group"], set_now["seconds"], set_now["set_by"]) == ("Union", 3600, "me")
    for person in (alice, carol):
        person.sync()
        shown = person("disappear", "Union").data
        assert (shown["seconds"], shown["set_by"], shown["set_at"]) == (
            3600,
            "Bob",
            set_now["set_at"],
        )
    text = carol("disappear", "Union", json_mode=False).data
    assert "disappear 1h after delivery (set by Bob)" in text

    alice("send", "Union", "timed by the group default")
    [got] = bob.sync()
    assert got["text"] == "timed by the group default"
    assert got["expires_at"] is not None and got["expires_at"] - got["sent_at"] >= 3600 - 60

    off = carol("disappear", "Union", "off").data
    assert (off["seconds"], off["set_by"]) == (0, "me")
    alice.sync()
    assert alice("disappear", "Union").data["set_by"] == "Carol"
    alice("send", "Union", "no longer timed")
    [notice, plain] = bob.sync()
    assert (notice["notice"], notice["text"]) == (True, "Carol turned off disappearing messages")
    assert (plain["notice"], plain["expires_at"]) == (False, None)


def test_history_shows_who_changed_the_group_timer(trio: tuple[Payk, Payk, Payk]) -> None:
    alice, bob, carol = trio
    bob("disappear", "Union", "1d")
    bob("send", "Union", "kept for a day")
    alice.sync()
    shown = alice("history", "Union").data["messages"]
    assert [(m["notice"], m["from"], m["text"]) for m in shown] == [
        (True, "Bob", "Bob set disappearing messages to 1 day"),
        (False, "Bob", "kept for a day"),
    ]
    notice = shown[0]
    assert (notice["status"], notice["expires_at"], notice["outgoing"]) == ("notice", None, False)
    assert set(notice) >= {"id", "conversation", "file", "sent_at", "paths", "reply_to"}
    mine = bob("history", "Union").data["messages"][0]
    assert (mine["notice"], mine["text"]) == (True, "You set disappearing messages to 1 day")
    people = alice("history", "Union", json_mode=False).data
    assert "Bob set disappearing messages to 1 day" in people
    carol("disappear", "Union", "1d")  # the same setting again: nobody gets a second line
    alice.sync()
    again = alice("history", "Union").data["messages"]
    assert sum(m["notice"] for m in again) == 1


def test_channels_refuse_timers(trio: tuple[Payk, Payk, Payk]) -> None:
    alice, _, _ = trio
    alice("channel", "create", "News")
    refused = alice("disappear", "News", "1h", check=False)
    assert refused.code == 1
    assert "disappearing timers work with contacts and groups, not channels" in refused.stderr
    timed = alice("send", "News", "timed post", "--expire", "1h", check=False)
    assert timed.code == 1 and "not in channels" in timed.stderr
    reply = alice("send", "Union", "an answer", "--reply", "abcd", check=False)
    assert reply.code == 1 and "--reply works with contacts" in reply.stderr
