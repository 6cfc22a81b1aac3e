"""Two people talk through real relay processes with real ``payk`` commands."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
from pathlib import Path

import pytest

from tests.e2e.conftest import Payk, Relay, RelayFactory, connect, read_line

pytestmark = pytest.mark.e2e


def test_invite_accept_and_talk_both_ways(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    assert alice.init("Alice", [relay.address]).data == {"name": "Alice", "relays": [relay.address]}
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    sent = bob("send", "Alice", "salam Alice").data
    assert sent["paths"] == 1 and len(sent["id"]) == 32
    got = alice.sync()
    assert [(m["from"], m["conversation"], m["text"], m["id"]) for m in got] == [
        ("Bob", "Bob", "salam Alice", sent["id"])
    ]
    assert {"id", "conversation", "from", "text", "file", "sent_at", "paths"} <= set(got[0])
    alice("send", "Bob", "salam Bob")
    assert [m["text"] for m in bob.sync()] == ["salam Bob"]
    history = bob("history", "Alice").data["messages"]
    assert [(m["text"], m["status"]) for m in history] == [
        ("salam Alice", "delivered"),
        ("salam Bob", "received"),
    ]
    code = alice("verify", "Bob").data
    assert code == {
        "contact": "Bob",
        "code": bob("verify", "Alice").data["code"],
        "verified": False,
    }
    assert alice("verify", "Bob", "--confirm").data["verified"] is True
    assert alice("contacts").data == {"contacts": [{"name": "Bob", "verified": True}]}


def test_bad_input_gets_one_clear_sentence(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    link = alice("invite").data["link"]
    tampered = link[:-10] + ("A" if link[-10] != "A" else "B") + link[-9:]
    for bad in (tampered, link[: len(link) // 2], "https://example.org"):
        result = bob("accept", bad, check=False)
        assert result.code == 1 and "invitation" in result.stderr
        assert "Traceback" not in result.stderr
    bob("accept", link, "--as", "Alice")
    again = bob("accept", link, check=False)
    assert again.code == 1 and "already used" in again.stderr
    unknown = bob("send", "Nobody", "hi", check=False)
    assert unknown.code == 1 and "no contact named" in unknown.stderr


def test_wrong_passphrase_is_exit_2_and_harmless(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, _ = people
    alice.init("Alice", [relay.address])
    before = {p.name: p.read_bytes() for p in alice.home.iterdir()}
    wrong = alice("contacts", passphrase="not the passphrase", check=False)
    assert wrong.code == 2 and wrong.stderr.strip() == "payk: wrong passphrase."
    assert {p.name: p.read_bytes() for p in alice.home.iterdir()} == before
    assert alice("contacts").data == {"contacts": []}


def test_a_relay_with_the_wrong_key_is_refused(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, _ = people
    fingerprint, rest = relay.address[len("payk://") :].split("@")
    forged = "payk://" + ("A" if fingerprint[0] != "A" else "B") + fingerprint[1:] + "@" + rest
    alice.init("Alice", [forged])
    result = alice("invite", check=False)
    assert result.code == 3
    assert "intercepting" in result.stderr


def test_two_relays_one_killed(relays: RelayFactory, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    one, two = relays.start("one"), relays.start("two")
    alice.init("Alice", [one.address, two.address])
    bob.init("Bob", [one.address, two.address])
    connect(alice, bob)
    assert bob("send", "Alice", "over both").data["paths"] == 2
    got = alice.sync()
    assert [(m["text"], m["paths"]) for m in got] == [("over both", 2)]
    one.stop()
    sent = bob("send", "Alice", "over the survivor")
    assert sent.data["paths"] == 1 and "unreachable" in sent.stderr
    assert [m["text"] for m in alice.sync()] == ["over the survivor"]
    alice("send", "Bob", "and back")
    assert [m["text"] for m in bob.sync()] == ["and back"]


def test_offline_then_back(relays: RelayFactory, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    relay = relays.start("only")
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    relay.stop()
    queued = bob("send", "Alice", "written while offline").data
    assert queued["paths"] == 0
    assert alice("sync", check=False).code == 3
    back = relays.start("only", port=relay.port)
    assert back.address == relay.address
    bob.sync()
    got = alice.sync()
    assert [m["text"] for m in got] == ["written while offline"]
    assert [m["status"] for m in bob("history", "Alice").data["messages"]] == ["sent"]
    bob.sync()
    assert [m["status"] for m in bob("history", "Alice").data["messages"]] == ["delivered"]


def test_a_file_arrives_verified(relay: Relay, people: tuple[Payk, Payk], tmp_path: Path) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    data = hashlib.sha256(b"seed").digest() * 50_000  # 1.6 MB
    path = tmp_path / "evidence.bin"
    path.write_bytes(data)
    assert bob("send", "Alice", "--file", str(path)).data["paths"] == 1
    got = alice.sync()
    assert len(got) == 1
    saved = Path(got[0]["file"])
    assert saved.parent == alice.downloads and saved.name == "evidence.bin"
    assert saved.read_bytes() == data
    gone = bob("send", "Alice", "--file", str(tmp_path / "vanished.bin"), check=False)
    assert gone.code == 1 and "not a file" in gone.stderr


def test_listen_prints_each_message_as_a_json_line(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    listener = alice.spawn("listen", "--save", str(alice.downloads))
    try:
        bob("send", "Alice", "first")
        bob("send", "Alice", "second")
        lines = [json.loads(read_line(listener)) for _ in range(2)]
        assert [(m["from"], m["text"]) for m in lines] == [("Bob", "first"), ("Bob", "second")]
    finally:
        listener.send_signal(signal.SIGINT)
        listener.wait(timeout=30)
    assert listener.stderr is not None
    err = listener.stderr.read()
    listener.stderr.close()
    assert listener.returncode == 130 and "interrupted" in err
    assert alice.sync() == []


def test_a_hanging_relay_costs_only_its_timeout(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    with socket.socket() as hole:  # accepts TCP, then never answers: a blackholed relay
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        silent = f"payk://{'A' * 43}@127.0.0.1:{hole.getsockname()[1]}"
        for person in people:
            person.init(person.home.name.title(), [silent, relay.address])
            (person.home / "config.toml").write_text("network_timeout = 1.5\n")
        invite = alice("invite")
        assert "unreachable" in invite.stderr
        bob("accept", invite.data["link"], "--as", "Alice")
        alice.sync()
        assert bob("send", "Alice", "through the live one").data["paths"] == 1
        assert [m["text"] for m in alice.sync()] == ["through the live one"]
