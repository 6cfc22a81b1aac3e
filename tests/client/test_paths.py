"""Routing over every path: the transport path and a forwarding relay, each with its backoff.

Runs over the in-memory network twin (the real programs are in ``tests/e2e/test_paths.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from payk.client.config import Config, load_config
from payk.client.paths import PathNetwork, network_for
from payk.errors import (
    FingerprintMismatchError,
    NetworkError,
    QuotaError,
    RelayRefusedError,
    UsageError,
)
from payk.net.memory import MemoryNetwork
from payk.protocol.address import RelayAddress


def setup() -> tuple[MemoryNetwork, PathNetwork, RelayAddress, RelayAddress]:
    memory = MemoryNetwork()
    home, domestic = memory.add_relay(1), memory.add_relay(2)
    return memory, PathNetwork(memory, via=str(domestic)), home, domestic


async def test_a_send_goes_over_every_path_that_is_up() -> None:
    memory, network, home, _ = setup()
    box = memory.relays[home].create_mailbox()
    link = await network.connect(home)
    await link.send(box.send_id, b"envelope")
    assert memory.relays[home].stored() == [b"envelope", b"envelope"]
    assert {(o.path, o.ok) for o in network.report()} == {("direct", True), ("forward", True)}


async def test_a_dead_forwarder_never_blocks_the_direct_path() -> None:
    memory, network, home, domestic = setup()
    memory.down.add(domestic)
    box = memory.relays[home].create_mailbox()
    link = await network.connect(home)
    await link.send(box.send_id, b"envelope")
    assert memory.relays[home].stored() == [b"envelope"]
    outcomes = {o.path: o for o in network.report()}
    assert outcomes["direct"].ok and not outcomes["forward"].ok
    assert outcomes["forward"].error


async def test_a_failed_path_waits_for_its_backoff() -> None:
    memory, network, home, domestic = setup()
    memory.down.add(domestic)
    box = memory.relays[home].create_mailbox()
    link = await network.connect(home)
    tried = memory.connections
    for _ in range(3):
        await link.send(box.send_id, b"envelope")
    assert memory.connections == tried  # the forwarder is not retried before its time


async def test_no_path_up_is_a_network_error_and_an_impostor_is_named() -> None:
    memory, network, home, domestic = setup()
    memory.down.update({home, domestic})
    with pytest.raises(NetworkError):
        await network.connect(home)
    memory, network, home, domestic = setup()
    memory.impostor.add(home)
    memory.down.add(domestic)
    with pytest.raises(FingerprintMismatchError):
        await network.connect(home)


async def test_reading_needs_the_relay_itself() -> None:
    memory, network, home, _ = setup()
    box = memory.relays[home].create_mailbox()
    memory.down.add(home)
    link = await network.connect(home)  # the forward path is up, the direct one down
    with pytest.raises(NetworkError):
        await link.fetch(box)


def test_settings_are_checked_when_the_network_is_built(tmp_path: Path) -> None:
    assert network_for(Config(home=tmp_path)).transport_name == "direct"
    proxied = network_for(Config(home=tmp_path, proxy="socks5://127.0.0.1:9050"))
    assert proxied.transport_name == "socks5"
    bad = [
        Config(home=tmp_path, proxy="http://x:1"),
        Config(home=tmp_path, bridge="obfs4 nowhere"),
        Config(home=tmp_path, via="relay"),
    ]
    for config in bad:
        with pytest.raises(UsageError):
            network_for(config)


def test_path_settings_come_from_config_toml(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('proxy = "socks5://127.0.0.1:9050"\nvia = "x"\n')
    config = load_config(tmp_path)
    assert (config.proxy, config.via) == ("socks5://127.0.0.1:9050", "x")
    with pytest.raises(UsageError):
        network_for(config)  # "x" is no relay address
    (tmp_path / "config.toml").write_text("bridge = 5\n")
    with pytest.raises(UsageError):
        load_config(tmp_path)


async def test_a_refusal_is_an_answer_not_a_dead_path() -> None:
    memory = MemoryNetwork()
    home = memory.add_relay(1)
    network = PathNetwork(memory)
    box = memory.relays[home].create_mailbox()
    link = await network.connect(home)
    with pytest.raises(RelayRefusedError):
        await link.send(b"no such mailbox", b"envelope")
    await link.send(box.send_id, b"envelope")  # the same path, at once
    assert memory.relays[home].stored() == [b"envelope"]


async def test_send_many_goes_over_every_path_and_judges_each_envelope() -> None:
    memory, network, home, _ = setup()
    relay = memory.relays[home]
    relay.quota = 2
    full, free, other = relay.create_mailbox(), relay.create_mailbox(), relay.create_mailbox()
    link = await network.connect(home)
    outcomes = await link.send_many(
        [(free.send_id, b"one"), (full.send_id, b"a"), (b"no such mailbox", b"lost")]
    )
    # each path stored "one" and "a" (quota 2: the second copy of "a" fills ``full``)
    assert outcomes[0] is None and outcomes[1] is None
    assert isinstance(outcomes[2], RelayRefusedError)
    refused = await link.send_many([(full.send_id, b"b"), (other.send_id, b"two")])
    assert isinstance(refused[0], QuotaError)  # refused over both paths: the refusal
    assert refused[1] is None
    assert relay.stored().count(b"b") == 0 and relay.stored().count(b"two") == 2
    assert {(o.path, o.ok) for o in network.report()} == {("direct", True), ("forward", True)}


async def test_send_many_is_fine_if_one_path_took_the_envelopes() -> None:
    memory, network, home, domestic = setup()
    memory.down.add(domestic)
    box = memory.relays[home].create_mailbox()
    link = await network.connect(home)
    assert await link.send_many([(box.send_id, b"x"), (box.send_id, b"y")]) == [None, None]
    assert memory.relays[home].stored() == [b"x", b"y"]
    outcomes = {o.path: o for o in network.report()}
    assert outcomes["direct"].ok and not outcomes["forward"].ok


async def test_send_many_with_no_path_up_gives_each_envelope_the_outage() -> None:
    memory, network, home, domestic = setup()
    box = memory.relays[home].create_mailbox()
    link = await network.connect(home)
    memory.down.update({home, domestic})
    outcomes = await link.send_many([(box.send_id, b"x"), (box.send_id, b"y")])
    assert len(outcomes) == 2 and all(isinstance(o, NetworkError) for o in outcomes)
    assert memory.relays[home].stored() == []
