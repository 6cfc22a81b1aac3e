"""The client façade against the in-memory relay twin: invite, accept, talk both ways,
receipts, files, duplicates over two relays, outages and impostors."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payk.client import inbox
from payk.client.facade import Client
from payk.errors import (
    AuthenticationError,
    FingerprintMismatchError,
    InvitationError,
    NetworkError,
    UsageError,
)
from payk.net.memory import MemoryNetwork
from payk.protocol.address import RelayAddress


@dataclass
class Pair:
    alice: Client
    bob: Client
    net: MemoryNetwork
    relays: list[RelayAddress]


async def _pair(tmp_path: Path, relays: int = 2) -> Pair:
    net = MemoryNetwork()
    addresses = [net.add_relay(4000 + i) for i in range(relays)]
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=addresses, network=net)
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=addresses, network=net)
    alice.config = _fast(alice, tmp_path)
    bob.config = _fast(bob, tmp_path)
    return Pair(alice, bob, net, addresses)


def _fast(client: Client, tmp_path: Path):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(client.config, downloads=tmp_path / f"dl-{client.name}")


async def _connect(pair: Pair) -> None:
    link = await pair.alice.invite()
    assert await pair.bob.accept(link, alias="Alice") == "Alice"
    await pair.alice.sync()


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    p = await _pair(tmp_path)
    yield p
    await p.alice.close()
    await p.bob.close()


async def test_invitation_makes_contacts_on_both_sides(pair: Pair) -> None:
    await _connect(pair)
    assert [c.alias for c in pair.alice.contacts()] == ["Bob"]
    assert [c.alias for c in pair.bob.contacts()] == ["Alice"]
    assert pair.alice.safety("Bob").code == pair.bob.safety("Alice").code
    assert not pair.bob.safety("Alice").verified
    assert pair.bob.confirm("Alice").verified


async def test_messages_flow_both_ways_with_receipts(pair: Pair) -> None:
    await _connect(pair)
    sent = await pair.bob.send_text("Alice", "salam from bob")
    assert sent.paths == 2
    got = await pair.alice.sync()
    assert [(m.text, m.sender, m.paths) for m in got] == [("salam from bob", "Bob", 2)]
    assert got[0].id == sent.id
    await pair.alice.send_text("Bob", "hello back")
    got = await pair.bob.sync()
    assert [m.text for m in got] == ["hello back"]
    statuses = {m.text: m.status for m in pair.bob.history("Alice")}
    assert statuses["salam from bob"] == "delivered"
    assert [m.text for m in pair.alice.history("Bob")] == ["salam from bob", "hello back"]


async def test_a_second_sync_brings_nothing_twice(pair: Pair) -> None:
    await _connect(pair)
    await pair.bob.send_text("Alice", "once")
    assert len(await pair.alice.sync()) == 1
    assert await pair.alice.sync() == []
    await pair.bob.sync()
    assert [r.stored() for r in pair.net.relays.values()] == [[], []]


async def test_bob_is_named_by_alice_hello_without_alias(pair: Pair) -> None:
    link = await pair.alice.invite()
    placeholder = await pair.bob.accept(link)
    assert placeholder == "contact"
    await pair.alice.sync()
    await pair.bob.sync()
    assert [c.alias for c in pair.bob.contacts()] == ["Alice"]


async def test_one_relay_down_never_blocks(pair: Pair) -> None:
    await _connect(pair)
    pair.net.down.add(pair.relays[0])
    sent = await pair.bob.send_text("Alice", "via the other relay")
    assert sent.paths == 1
    assert [m.text for m in await pair.alice.sync()] == ["via the other relay"]
    assert any("unreachable" in w for w in pair.bob.warnings)


async def test_all_relays_down_queues_until_one_returns(pair: Pair) -> None:
    await _connect(pair)
    pair.net.down.update(pair.relays)
    sent = await pair.bob.send_text("Alice", "patience")
    assert sent.paths == 0 and pair.bob.pending() == 2
    with pytest.raises(NetworkError):
        await pair.alice.sync()
    pair.net.down.clear()
    await pair.bob.flush(force=True)
    assert pair.bob.pending() == 0
    assert [m.text for m in await pair.alice.sync()] == ["patience"]


async def test_an_impostor_relay_is_refused(tmp_path: Path) -> None:
    pair = await _pair(tmp_path, relays=1)
    pair.net.impostor.add(pair.relays[0])
    with pytest.raises(FingerprintMismatchError, match="intercepting"):
        await pair.alice.invite()
    await pair.alice.close()
    await pair.bob.close()


async def test_invitations_are_one_time(pair: Pair, tmp_path: Path) -> None:
    link = await pair.alice.invite()
    await pair.bob.accept(link, alias="Alice")
    with pytest.raises(UsageError, match="already used"):
        await pair.bob.accept(link, alias="Alice again")
    with pytest.raises(InvitationError):
        await pair.bob.accept(link[:-20])
    with pytest.raises(UsageError):
        await pair.alice.accept(link)


async def test_unknown_contact_is_a_usage_error(pair: Pair) -> None:
    with pytest.raises(UsageError, match="no contact named"):
        await pair.bob.send_text("Nobody", "hi")


async def test_files_arrive_verified(pair: Pair, tmp_path: Path) -> None:
    await _connect(pair)
    data = bytes(range(256)) * 1000
    path = tmp_path / "photo.bin"
    path.write_bytes(data)
    ticks: list[tuple[int, int]] = []
    await pair.bob.send_file("Alice", path, progress=lambda d, t: ticks.append((d, t)))
    assert ticks[-1][0] == ticks[-1][1]
    got = await pair.alice.sync()
    assert len(got) == 1 and got[0].file_name == "photo.bin"
    saved = Path(got[0].file or "")
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(data).digest()  # noqa: ASYNC240
    assert pair.alice.profile.home not in saved.parents


async def test_a_vanished_file_queues_nothing(pair: Pair, tmp_path: Path) -> None:
    await _connect(pair)
    with pytest.raises(UsageError, match="not a file"):
        await pair.bob.send_file("Alice", tmp_path / "gone.jpg")
    assert pair.bob.pending() == 0


async def test_wrong_passphrase(tmp_path: Path) -> None:
    pair = await _pair(tmp_path)
    await pair.alice.close()
    await pair.bob.close()
    with pytest.raises(AuthenticationError):
        Client.open(tmp_path / "a", "not it")


async def test_duplicated_and_reordered_envelopes_arrive_once_each(pair: Pair) -> None:
    await _connect(pair)
    texts = [f"message {i}" for i in range(6)]
    for text in texts:
        await pair.bob.send_text("Alice", text)
    relay = pair.net.relays[pair.relays[0]]
    for box in relay._by_send.values():
        copies = list(box.queue.values())
        box.queue.clear()
        for n, envelope in enumerate(reversed(copies + copies)):  # twice, newest first
            box.queue[(10_000 + n).to_bytes(8, "big")] = envelope
    got = await pair.alice.sync()
    assert sorted(m.text or "" for m in got) == texts
    assert await pair.alice.sync() == []


async def test_garbage_from_a_relay_is_dropped_not_fatal(pair: Pair) -> None:
    await _connect(pair)
    relay = pair.net.relays[pair.relays[0]]
    for box in relay._by_send.values():
        box.queue[b"\xff" * 8] = b"not an envelope"
    await pair.bob.send_text("Alice", "still here")
    got = await pair.alice.sync()
    assert [m.text for m in got] == ["still here"]
    assert any("dropped" in w for w in pair.alice.warnings)


async def test_seen_envelope_ids_are_forgotten_after_sixty_days(tmp_path: Path) -> None:
    net = MemoryNetwork()
    relays = [net.add_relay(5000)]
    now = [int(time.time())]
    alice = Client.create(
        tmp_path / "a", "pa", name="Alice", relays=relays, network=net, clock=lambda: now[0]
    )
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=relays, network=net)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    await bob.send_text("Alice", "remembered for a while")
    await alice.sync()
    count = "SELECT count(*) FROM seen"
    remembered = alice.profile.db.one(count)[0]
    assert remembered >= 2  # the handshake and the message
    now[0] += inbox.SEEN_KEEP - 1
    assert inbox.forget_old_seen(alice.profile.db, now=now[0]) == 0
    now[0] += 2
    assert inbox.forget_old_seen(alice.profile.db, now=now[0]) == remembered
    assert alice.profile.db.one(count)[0] == 0
    await alice.close()
    await bob.close()
