"""LAN exchanges between clients in one process (real loopback TCP, in-memory relays down)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payk.client import carry
from payk.client.facade import Client
from payk.client.lan import Exchange, LanServer, sync_with_peers
from payk.errors import NetworkError
from payk.net.memory import MemoryNetwork


@dataclass
class Trio:
    alice: Client
    bob: Client
    carol: Client


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[Trio]:
    net = MemoryNetwork()
    relay = [net.add_relay(4000)]
    people = [
        Client.create(tmp_path / name, "pw", name=name, relays=relay, network=net)
        for name in ("Alice", "Bob", "Carol")
    ]
    alice, bob, carol = people
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    net.down.update(relay)
    yield Trio(alice, bob, carol)
    for person in people:
        await person.close()


async def serving(client: Client, *, carry_for_others: bool) -> tuple[LanServer, list[Exchange]]:
    seen: list[Exchange] = []
    server = LanServer(client, carry=carry_for_others, report=seen.append)
    return server, seen


async def test_a_stranger_gets_nothing_without_carry(trio: Trio) -> None:
    await trio.alice.send_text("Bob", "private")
    server, seen = await serving(trio.alice, carry_for_others=False)
    port = await server.start("127.0.0.1", 0)
    try:
        done = await sync_with_peers(trio.carol, peers=[("127.0.0.1", port)], carry=True)
    finally:
        await server.close()
    assert (done.arrival.delivered, done.arrival.carried, done.sent) == (0, 0, 0)
    assert carry.carried(trio.carol.profile.db) == []
    assert seen[0].arrival.carried == 0  # Carol has nothing of her own to hand over


async def test_store_carry_forward_over_two_lan_hops(trio: Trio) -> None:
    await trio.alice.send_text("Bob", "hop by hop")
    server, _ = await serving(trio.alice, carry_for_others=True)
    port = await server.start("127.0.0.1", 0)
    try:
        first = await sync_with_peers(trio.carol, peers=[("127.0.0.1", port)])
    finally:
        await server.close()
    assert first.arrival.carried >= 1 and first.arrival.messages == []
    server, _ = await serving(trio.carol, carry_for_others=False)
    port = await server.start("127.0.0.1", 0)
    try:
        second = await sync_with_peers(trio.bob, peers=[("127.0.0.1", port)])
        third = await sync_with_peers(trio.bob, peers=[("127.0.0.1", port)])
    finally:
        await server.close()
    assert [m.text for m in second.arrival.messages] == ["hop by hop"]
    assert third.arrival.messages == [] and third.arrival.delivered == 0


async def test_no_peer_is_a_network_error(trio: Trio) -> None:
    server, _ = await serving(trio.alice, carry_for_others=False)
    port = await server.start("127.0.0.1", 0)
    await server.close()
    with pytest.raises(NetworkError):
        await sync_with_peers(trio.bob, peers=[("127.0.0.1", port)])
