"""Bundles and carrying over the in-memory relay twin: deliver, carry on, bounds, idempotence."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payk.client import carry
from payk.client.bundles import export_bundle, import_bundle
from payk.client.bundles import limits as carry_limits
from payk.client.facade import Client
from payk.errors import IntegrityError, UsageError
from payk.net.memory import MemoryNetwork
from payk.protocol.bundle import BundleItem


@dataclass
class Trio:
    alice: Client
    bob: Client
    carol: Client
    net: MemoryNetwork


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[Trio]:
    net = MemoryNetwork()
    relay = [net.add_relay(4000)]
    people = [
        Client.create(tmp_path / name, "pw", name=name, relays=relay, network=net)
        for name in ("Alice", "Bob", "Carol")
    ]
    alice, bob, carol = people
    link = await alice.invite()
    await bob.accept(link, alias="Alice")
    await alice.sync()
    net.down.update(relay)
    yield Trio(alice, bob, carol, net)
    for person in people:
        await person.close()


async def test_a_bundle_carried_by_a_third_person(trio: Trio, tmp_path: Path) -> None:
    await trio.alice.send_text("Bob", "by hand")
    first, second = tmp_path / "a.bundle", tmp_path / "c.bundle"
    count, _ = await export_bundle(trio.alice, first)
    assert count >= 1
    carried = await import_bundle(trio.carol, first)
    assert (carried.delivered, carried.carried, carried.messages) == (0, count, [])
    await export_bundle(trio.carol, second)
    arrived = await import_bundle(trio.bob, second)
    assert [m.text for m in arrived.messages] == ["by hand"]
    again = await import_bundle(trio.bob, second)
    assert (again.messages, again.delivered, again.carried) == ([], 0, 0)


async def test_carried_envelopes_reach_the_relay_when_it_returns(
    trio: Trio, tmp_path: Path
) -> None:
    await trio.alice.send_text("Bob", "carried to the relay")
    path = tmp_path / "a.bundle"
    await export_bundle(trio.alice, path)
    await import_bundle(trio.carol, path)
    trio.net.down.clear()
    await trio.carol.flush(force=True)
    assert carry.carried(trio.carol.profile.db) == []
    assert [m.text for m in await trio.bob.sync()] == ["carried to the relay"]


async def test_tampered_or_missing_bundles_change_nothing(trio: Trio, tmp_path: Path) -> None:
    await trio.alice.send_text("Bob", "x")
    path = tmp_path / "a.bundle"
    await export_bundle(trio.alice, path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        await import_bundle(trio.bob, path)
    assert trio.bob.history("Alice") == []
    with pytest.raises(UsageError):
        await import_bundle(trio.bob, tmp_path / "missing.bundle")


def _item(n: int, *, size: int = 100, at: int = 1000) -> BundleItem:
    relay = "payk://" + "A" * 43 + "@127.0.0.1:1"
    return BundleItem(
        relay=relay, send_id=n.to_bytes(16, "big"), envelope=bytes(size), created_at=at
    )


def test_carrying_is_bounded_in_count_size_and_age(trio: Trio) -> None:
    db = trio.carol.profile.db
    limits = carry.CarryLimits(max_count=3, max_bytes=250, max_age=100)
    with db.transaction():
        assert (
            carry.carry(db, [_item(n, at=1000 + n) for n in range(5)], now=1010, limits=limits) == 2
        )
    kept = carry.carried(db)
    assert [i.created_at for i in kept] == [1003, 1004]  # count 3, then 250 bytes: the newest two
    with db.transaction():
        assert carry.carry(db, [_item(3, at=1003)], now=1010, limits=limits) == 0  # known
        assert carry.carry(db, [_item(9, at=800)], now=1010, limits=limits) == 0  # too old
        carry.prune(db, now=1103, limits=limits)  # 1003 is now 100 s old
    assert [i.created_at for i in carry.carried(db)] == [1004]


async def test_carrying_follows_the_profiles_settings(trio: Trio, tmp_path: Path) -> None:
    await trio.alice.send_text("Bob", "one")
    await trio.alice.send_text("Bob", "two")
    path = tmp_path / "a.bundle"
    count, _ = await export_bundle(trio.alice, path)
    assert count >= 2
    trio.carol.config = dataclasses.replace(trio.carol.config, carry_max_count=1)
    assert carry_limits(trio.carol).max_count == 1
    arrived = await import_bundle(trio.carol, path)
    assert arrived.carried == 1 and len(carry.carried(trio.carol.profile.db)) == 1
    trio.carol.config = dataclasses.replace(trio.carol.config, carry_max_count=0)
    await import_bundle(trio.carol, path)
    assert carry.carried(trio.carol.profile.db) == []  # 0 carries nothing
