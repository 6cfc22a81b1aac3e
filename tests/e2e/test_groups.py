"""Groups end to end: real relay process, real ``payk`` commands, three people."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from .conftest import Payk, Relay, RelayFactory, read_line


@pytest.fixture
def trio(tmp_path: Path, relay: Relay) -> tuple[Payk, Payk, Payk]:
    people = tuple(
        Payk(tmp_path / n, f"{n} passphrase", tmp_path / f"{n}-downloads")
        for n in ("alice", "bob", "carol")
    )
    for person, name in zip(people, ("Alice", "Bob", "Carol"), strict=True):
        person.init(name, [relay.address])
    return people  # type: ignore[return-value]


def _admit(admin: Payk, joiner: Payk, who: str, group: str = "Union") -> None:
    link = admin("group", "invite", group).data["link"]
    assert joiner("group", "join", link).data == {"group": group, "status": "pending"}
    pending = admin("group", "members", group).data["pending"]
    assert pending == [who]
    approved = admin("group", "approve", group, who).data
    assert approved["member"] == who
    joiner.sync()


def _texts(messages: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(m["from"], m["text"]) for m in messages]


def test_create_invite_approve_talk_remove(trio: tuple[Payk, Payk, Payk]) -> None:
    alice, bob, carol = trio
    assert alice("group", "create", "Union").data == {"group": "Union"}
    _admit(alice, bob, "Bob")
    _admit(alice, carol, "Carol")
    roster = carol("group", "members", "Union").data
    assert roster["status"] == "member"
    assert sorted((m["name"], m["role"]) for m in roster["members"]) == [
        ("Alice", "owner"),
        ("Bob", "member"),
        ("Carol", "member"),
    ]

    sent = bob("send", "Union", "meeting at six").data
    assert sent["paths"] == 1
    assert _texts(alice.sync()) == [("Bob", "meeting at six")]
    assert _texts(carol.sync()) == [("Bob", "meeting at six")]
    history = alice("history", "Union").data["messages"]
    assert [(m["from"], m["text"]) for m in history] == [("Bob", "meeting at six")]

    removed = alice("group", "remove", "Union", "Carol").data
    assert removed["epoch"] == roster["epoch"] + 1
    carol.sync()
    assert carol("group", "members", "Union").data["status"] == "removed"
    bob("send", "Union", "carol is out")
    assert _texts(alice.sync()) == [("Bob", "carol is out")]
    assert carol.sync() == []
    assert [m["text"] for m in carol("history", "Union").data["messages"]] == ["meeting at six"]


def test_unapproved_joiner_reads_nothing(trio: tuple[Payk, Payk, Payk]) -> None:
    alice, bob, carol = trio
    alice("group", "create", "Union")
    _admit(alice, bob, "Bob")
    link = alice("group", "invite", "Union").data["link"]
    carol("group", "join", link)
    bob("send", "Union", "not for carol")
    assert carol.sync() == []
    assert carol("group", "members", "Union").data["status"] == "joining"
    refused = carol("send", "Union", "let me in", check=False)
    assert refused.code == 1 and "cannot write" in refused.stderr


def test_relay_injecting_a_membership_op_is_caught(
    trio: tuple[Payk, Payk, Payk], relay: Relay
) -> None:
    alice, bob, _ = trio
    alice("group", "create", "Union")
    _admit(alice, bob, "Bob")
    bob.sync()
    db = sqlite3.connect(relay.data / "relay.db")
    try:
        feed_id, first = db.execute(
            "SELECT feed_id, body FROM feed_entries ORDER BY pos LIMIT 1"
        ).fetchone()
        (pos,) = db.execute("SELECT next_pos FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone()
        # the relay serves the group's first op again: as is, under a fresh envelope id, and
        # relabelled with the current epoch
        fresh = first[:2] + bytes(16) + first[18:]
        relabelled = first[:2] + bytes([1]) * 16 + first[18:23] + (2).to_bytes(4, "big")
        relabelled += first[27:]
        for offset, body in enumerate((first, fresh, relabelled), start=pos):
            db.execute("INSERT INTO feed_entries VALUES (?, ?, ?, 0)", (feed_id, offset, body))
        db.execute("UPDATE feeds SET next_pos = ? WHERE feed_id = ?", (pos + 3, feed_id))
        db.commit()
    finally:
        db.close()
    result = bob("sync", "--save", str(bob.downloads))
    assert result.data["messages"] == []
    assert "rejected a replayed feed entry" in result.stderr
    assert "rejected an operation sealed in epoch 1, not 2" in result.stderr
    assert "rejected a feed entry (op) that does not authenticate" in result.stderr
    assert bob("group", "members", "Union").data["status"] == "member"


def test_poll_vote_tally_and_event(trio: tuple[Payk, Payk, Payk]) -> None:
    alice, bob, _ = trio
    alice("group", "create", "Union")
    _admit(alice, bob, "Bob")
    poll = alice("group", "poll", "Union", "Strike on Monday?", "yes", "no").data["poll"]
    assert _texts(bob.sync()) == [("Alice", "[poll] Strike on Monday? 1. yes / 2. no")]
    bob("group", "vote", "Union", poll[:8], "2")
    bob("group", "vote", "Union", poll[:8], "1")  # a later vote replaces the first
    alice("group", "vote", "Union", poll, "1")
    tally = alice("group", "tally", "Union", poll[:8]).data
    assert tally["question"] == "Strike on Monday?"
    assert tally["options"] == [
        {"option": "yes", "votes": 2, "voters": ["Alice", "Bob"]},
        {"option": "no", "votes": 0, "voters": []},
    ]
    bad = bob("group", "vote", "Union", poll[:8], "3", check=False)
    assert bad.code == 1 and "from 1 to 2" in bad.stderr

    alice("group", "event", "Union", "March", "--at", "1", "--place", "the square")
    result = bob("sync", "--save", str(bob.downloads))
    assert [m["text"] for m in result.data["messages"]][-1].startswith("[event] March")
    assert "reminder: March (Union)" in result.stderr
    again = bob("sync", "--save", str(bob.downloads))
    assert "reminder" not in again.stderr


def test_listen_prints_group_messages_as_json_lines(trio: tuple[Payk, Payk, Payk]) -> None:
    alice, bob, _ = trio
    alice("group", "create", "Union")
    _admit(alice, bob, "Bob")
    alice.sync()
    listener = alice.spawn("listen")
    try:
        bob("send", "Union", "heard without a sync")
        line = json.loads(read_line(listener))
        assert (line["conversation"], line["from"], line["text"]) == (
            "Union",
            "Bob",
            "heard without a sync",
        )
    finally:
        listener.send_signal(signal.SIGINT)
        listener.wait(timeout=30)
    assert listener.stderr is not None
    listener.stderr.close()
    assert listener.returncode == 130
    assert alice.sync() == []  # listen stored it: the next sync has nothing new


@pytest.mark.parametrize("killed", [0, 1])
def test_group_on_two_relays_survives_one_killed(
    tmp_path: Path, relays: RelayFactory, killed: int
) -> None:
    pair = [relays.start("first"), relays.start("second")]
    alice = Payk(tmp_path / "alice", "alice passphrase", tmp_path / "alice-downloads")
    bob = Payk(tmp_path / "bob", "bob passphrase", tmp_path / "bob-downloads")
    for person, name in ((alice, "Alice"), (bob, "Bob")):
        person.init(name, [r.address for r in pair])
    alice("group", "create", "Union")
    _admit(alice, bob, "Bob")
    alice.sync()
    bob("send", "Union", "both relays up")
    assert _texts(alice.sync()) == [("Bob", "both relays up")]  # once, not twice

    pair[killed].stop()
    alice("send", "Union", "one relay is gone")
    assert _texts(bob.sync()) == [("Alice", "one relay is gone")]
    bob("send", "Union", "still here")
    assert _texts(alice.sync()) == [("Bob", "still here")]
