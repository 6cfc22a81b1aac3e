"""A group's feed on two relays: either relay down, members still talk; no duplicates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payk.client import feed_mirrors, groups
from payk.client.facade import Client
from payk.errors import NetworkError
from payk.net.memory import MemoryNetwork
from payk.protocol.address import RelayAddress
from payk.protocol.group_link import decode_group_link
from tests.client import memory_feeds


@dataclass
class Pair:
    alice: Client
    bob: Client
    net: MemoryNetwork
    relays: list[RelayAddress]


@pytest.fixture
async def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pair]:
    memory_feeds.install(monkeypatch)
    net = MemoryNetwork()
    relays = [net.add_relay(4100), net.add_relay(4101)]
    alice, bob = (
        Client.create(tmp_path / n, "pass", name=n.title(), relays=relays, network=net)
        for n in ("alice", "bob")
    )
    await groups.create(alice, "Union")
    link = await groups.invite(alice, "Union")
    assert len(decode_group_link(link).mirrors) == 1  # the second copy travels in the link
    await groups.join(bob, link)
    await groups.approve(alice, "Union", "Bob")
    await groups.sync_all(bob)
    await groups.sync_all(alice)
    yield Pair(alice, bob, net, relays)
    await alice.close()
    await bob.close()


def _down(pair: Pair, index: int | None) -> None:
    pair.net.down.clear()
    if index is not None:
        pair.net.down.add(pair.relays[index])
    for person in (pair.alice, pair.bob):
        person.pool.forget_errors()


def _texts(messages: list[object]) -> list[str]:
    return [m.text for m in messages]  # type: ignore[attr-defined]


async def test_both_up_no_duplicates(pair: Pair) -> None:
    assert groups.members(pair.bob, "Union").status == "member"
    await groups.send_text(pair.alice, "Union", "hello both")
    assert _texts(await groups.sync_all(pair.bob)) == ["hello both"]
    assert await groups.sync_all(pair.bob) == []
    assert [m.text for m in groups.history(pair.bob, "Union")] == ["hello both"]
    assert not [w for w in pair.bob.warnings if "rejected" in w]


@pytest.mark.parametrize("index", [0, 1])
async def test_either_relay_down_both_directions(pair: Pair, index: int) -> None:
    _down(pair, index)
    await groups.send_text(pair.alice, "Union", "alice with one relay")
    assert _texts(await groups.sync_all(pair.bob)) == ["alice with one relay"]
    await groups.send_text(pair.bob, "Union", "bob with one relay")
    assert _texts(await groups.sync_all(pair.alice)) == ["bob with one relay"]
    _down(pair, None)  # back up: the copy catches up, nobody sees anything twice
    assert await groups.sync_all(pair.alice) == []
    assert await groups.sync_all(pair.bob) == []
    assert [m.text for m in groups.history(pair.bob, "Union")] == [
        "alice with one relay",
        "bob with one relay",
    ]
    for person in (pair.alice, pair.bob):
        assert not [w for w in person.warnings if "rejected" in w]
        assert not person.profile.db.query("SELECT 1 FROM mirror_outbox")


async def test_both_relays_down_is_an_error(pair: Pair) -> None:
    pair.net.down.update(pair.relays)
    await groups.send_text(pair.alice, "Union", "nowhere to go")
    assert groups.history(pair.alice, "Union")[-1].status == "queued"
    assert await groups.sync_all(pair.bob) == []
    assert any("Union" in w for w in pair.bob.warnings)
    row = groups.by_name(pair.bob.profile.db, "Union")
    with pytest.raises(NetworkError):
        await groups._read_all(pair.bob, row)
    _down(pair, None)
    assert _texts(await groups.sync_all(pair.alice)) == []
    assert _texts(await groups.sync_all(pair.bob)) == ["nowhere to go"]


async def test_a_single_relay_group_has_no_copies(tmp_path: Path, pair: Pair) -> None:
    solo = Client.create(
        tmp_path / "solo", "pass", name="Solo", relays=pair.relays[:1], network=pair.net
    )
    await groups.create(solo, "Alone")
    row = groups.by_name(solo.profile.db, "Alone")
    assert len(feed_mirrors.places(solo.profile.db, row)) == 1
    assert decode_group_link(await groups.invite(solo, "Alone")).mirrors == []
    await solo.close()
