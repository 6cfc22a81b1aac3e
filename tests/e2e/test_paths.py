"""Every path out, end to end: real relays, real ``payk`` commands, real proxy programs.

Alice and Bob talk through ``microsocks``; through an obfs4 bridge (``obfs4proxy`` on both
sides); with Bob's relay down for Alice and only a forwarding relay reachable; with no relay
via ``payk lan sync``; and with no network via a bundle file carried by a third person. Each
test checks that the message arrives exactly once (a second sync shows nothing new).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Payk, RelayFactory, Result, connect, read_line
from tests.net.programs import microsocks_process, obfs4_bridge

pytestmark = pytest.mark.e2e


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m["text"]) for m in messages]


@dataclass
class WithOptions(Payk):
    """The same person, with global path options before every command."""

    options: tuple[str, ...] = ()

    def __call__(
        self, *args: str, passphrase: str | None = None, check: bool = True, json_mode: bool = True
    ) -> Result:
        return super().__call__(
            *self.options, *args, passphrase=passphrase, check=check, json_mode=json_mode
        )


def as_user(person: Payk, *options: str) -> WithOptions:
    return WithOptions(person.home, person.passphrase, person.downloads, options)


def test_through_microsocks(relays: RelayFactory, people: tuple[Payk, Payk]) -> None:
    relay = relays.start()
    with microsocks_process() as proxy:
        alice, bob = (as_user(p, "--proxy", proxy) for p in people)
        alice.init("Alice", [relay.address])
        bob.init("Bob", [relay.address])
        connect(alice, bob)
        assert alice("send", "Bob", "hello through socks").data["paths"] >= 1
        result = bob("sync", "--save", str(bob.downloads)).data
        assert texts(result["messages"]) == ["hello through socks"]
        assert {(p["path"], p["ok"]) for p in result["paths"]} == {("socks5", True)}
        assert bob.sync() == []


def test_a_dead_proxy_queues_and_fails_clearly(
    relays: RelayFactory, people: tuple[Payk, Payk]
) -> None:
    relay = relays.start()
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    with microsocks_process() as proxy:
        dead = proxy
    sent = alice("--proxy", dead, "send", "Bob", "waits").data
    assert sent["paths"] == 0
    assert alice("--proxy", dead, "sync", check=False).code == 3
    assert alice("--proxy", "http://nope:1", "sync", check=False).code == 1
    alice.sync()  # directly, the queued message goes out
    assert texts(bob.sync()) == ["waits"]


def test_through_an_obfs4_bridge(relays: RelayFactory, people: tuple[Payk, Payk]) -> None:
    relay = relays.start()
    with obfs4_bridge(relay.port) as line:
        alice, bob = (as_user(p, "--bridge", line) for p in people)
        alice.init("Alice", [relay.address])
        bob.init("Bob", [relay.address])
        connect(alice, bob)
        assert alice("send", "Bob", "hello over obfs4").data["paths"] >= 1
        result = bob("sync", "--save", str(bob.downloads)).data
        assert texts(result["messages"]) == ["hello over obfs4"]
        assert {(p["path"], p["ok"]) for p in result["paths"]} == {("obfs4", True)}
        assert bob.sync() == []


def test_only_a_forwarding_relay_reachable(relays: RelayFactory, people: tuple[Payk, Payk]) -> None:
    home = relays.start("home")
    domestic = relays.start("domestic")
    alice, bob = people
    alice.init("Alice", [home.address])
    bob.init("Bob", [home.address])
    connect(alice, bob)
    home.stop()  # the international cut: Alice cannot reach Bob's relay
    assert alice("send", "Bob", "no way out").data["paths"] == 0
    sent = alice("--via", domestic.address, "send", "Bob", "through the domestic relay").data
    assert sent["paths"] >= 1
    relays.start("home", port=home.port)  # the domestic relay delivers once it can
    received = bob.sync("--wait", "60")
    while len(received) < 2:
        more = bob.sync("--wait", "60")
        assert more, "the forwarded messages never arrived"
        received += more
    # the message queued while cut off went out through the forwarder too
    assert sorted(texts(received)) == ["no way out", "through the domestic relay"]
    assert bob.sync() == []


def test_no_network_a_bundle_carried_by_a_third_person(
    relays: RelayFactory, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    relay = relays.start()
    alice, bob = people
    carol = Payk(tmp_path / "carol", "carol passphrase", tmp_path / "carol-downloads")
    for person, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        person.init(name, [relay.address])
    connect(alice, bob)
    relay.stop()  # no network from here on
    assert alice("send", "Bob", "on a USB stick").data["paths"] == 0
    first, second = tmp_path / "alice.bundle", tmp_path / "carol.bundle"
    assert alice("bundle", "export", "--out", str(first)).data["envelopes"] >= 1
    data = first.read_bytes()
    assert relay.address.encode() not in data and b"USB" not in data
    took = carol("bundle", "import", str(first)).data
    assert took["messages"] == [] and took["delivered"] == 0 and took["carried"] >= 1
    assert carol("bundle", "import", str(first)).data["carried"] == 0  # twice: no change
    carol("bundle", "export", "--out", str(second))
    tampered = bytearray(second.read_bytes())
    tampered[len(tampered) // 2] ^= 1
    (tmp_path / "tampered.bundle").write_bytes(bytes(tampered))
    refused = bob("bundle", "import", str(tmp_path / "tampered.bundle"), check=False)
    assert refused.code == 4 and "altered" in refused.stderr
    got = bob("bundle", "import", str(second), "--save", str(bob.downloads)).data
    assert texts(got["messages"]) == ["on a USB stick"]
    again = bob("bundle", "import", str(second)).data
    assert again["messages"] == [] and again["delivered"] == 0 and again["carried"] == 0
    relays.start("relay", port=relay.port)  # the network returns: the relay copy is a duplicate
    alice.sync()
    assert bob.sync() == []
    history = bob("history", "Alice").data["messages"]
    assert texts(history) == ["on a USB stick"]


def test_no_relay_at_all_lan_sync(
    relays: RelayFactory, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    relay = relays.start()
    alice, bob = people
    carol = Payk(tmp_path / "carol", "carol passphrase", tmp_path / "carol-downloads")
    for person, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        person.init(name, [relay.address])
    connect(alice, bob)
    relay.stop()  # no relay from here on
    alice("send", "Bob", "over the lan")
    bob("send", "Alice", "and back")
    server = alice.spawn("lan", "serve", "--listen", "127.0.0.1:0", "--save", str(alice.downloads))
    try:
        port = json.loads(read_line(server))["serving"]
        stranger = carol("lan", "sync", "--peer", f"127.0.0.1:{port}").data
        assert (stranger["messages"], stranger["delivered"], stranger["carried"]) == ([], 0, 0)
        assert json.loads(read_line(server))["messages"] == []  # Carol brought nothing either
        found = bob("lan", "sync", "--interface", "127.0.0.1", "--wait", "30").data  # by mDNS
        assert texts(found["messages"]) == ["over the lan"] and found["peers"] == 1
        assert texts(json.loads(read_line(server))["messages"]) == ["and back"]
        for _ in range(2):  # the first repeat brings only Alice's receipt, the second nothing
            again = bob("lan", "sync", "--peer", f"127.0.0.1:{port}").data
            assert again["messages"] == []
            assert json.loads(read_line(server))["messages"] == []
        assert again["delivered"] == 0 and again["carried"] == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()
    assert sorted(texts(bob("history", "Alice").data["messages"])) == ["and back", "over the lan"]


def test_lan_sync_without_peers_is_a_network_error(
    relays: RelayFactory, people: tuple[Payk, Payk]
) -> None:
    relay = relays.start()
    alice, _ = people
    alice.init("Alice", [relay.address])
    result = alice("lan", "sync", "--interface", "127.0.0.1", "--wait", "1", check=False)
    assert result.code == 3
    assert alice("lan", "sync", "--peer", "nowhere", check=False).code == 1
