"""Client groups over the in-memory relay twin, given feeds: names, roles, leave and re-key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payk.client import groups
from payk.client.facade import Client
from payk.client.feed_listen import FeedPoller
from payk.errors import InvitationError, RemoteProtocolError, UsageError
from payk.net.memory import MemoryNetwork
from tests.client import memory_feeds


@dataclass
class Trio:
    alice: Client
    bob: Client
    carol: Client

    @property
    def all(self) -> list[Client]:
        return [self.alice, self.bob, self.carol]


@pytest.fixture
async def trio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Trio]:
    memory_feeds.install(monkeypatch)
    net = MemoryNetwork()
    relay = net.add_relay(4000)
    people = [
        Client.create(tmp_path / n, "pass", name=n.title(), relays=[relay], network=net)
        for n in ("alice", "bob", "carol")
    ]
    trio = Trio(*people)
    await groups.create(trio.alice, "Union")
    for joiner in (trio.bob, trio.carol):
        await groups.join(joiner, await groups.invite(trio.alice, "Union"))
        await groups.approve(trio.alice, "Union", joiner.name)
        await groups.sync_all(joiner)
    for person in people:
        await groups.sync_all(person)
    yield trio
    for person in people:
        await person.close()


async def test_everyone_is_in_and_talks(trio: Trio) -> None:
    for person in trio.all:
        roster = groups.members(person, "Union")
        assert roster.status == "member"
        assert {(m.name, m.role) for m in roster.members} == {
            ("Alice", "owner"),
            ("Bob", "member"),
            ("Carol", "member"),
        }
    sent = await trio.carol.send_text("Union", "hello")
    assert sent.paths == 1
    got = await trio.bob.sync()
    assert [(m.conversation, m.sender, m.text) for m in got] == [("Union", "Carol", "hello")]
    assert [m.text for m in trio.carol.history("Union")] == ["hello"]
    assert trio.alice.warnings == [
        "Bob asks to join Union: payk group approve 'Union' 'Bob'",
        "Carol asks to join Union: payk group approve 'Union' 'Carol'",
    ]
    assert not [w for w in trio.bob.warnings + trio.carol.warnings if "rejected" in w]


async def test_leave_is_followed_by_an_automatic_rekey(trio: Trio) -> None:
    epoch = groups.members(trio.alice, "Union").epoch
    await groups.leave(trio.carol, "Union")
    assert groups.members(trio.carol, "Union").status == "left"
    await groups.sync_all(trio.alice)  # the owner sees the leave and re-keys
    assert groups.members(trio.alice, "Union").epoch == epoch + 1
    await groups.sync_all(trio.bob)
    await trio.bob.send_text("Union", "after carol left")
    assert [m.text for m in await groups.sync_all(trio.alice)] == ["after carol left"]
    assert await groups.sync_all(trio.carol) == []


async def test_members_cannot_do_what_admins_do(trio: Trio) -> None:
    with pytest.raises(RemoteProtocolError, match="not signed by an admin"):
        await groups.invite(trio.bob, "Union")
    with pytest.raises(RemoteProtocolError, match="not signed by an admin"):
        await groups.remove(trio.bob, "Union", "Carol")
    with pytest.raises(UsageError, match="no member called"):
        await groups.remove(trio.alice, "Union", "Mallory")
    with pytest.raises(UsageError, match="nobody called"):
        await groups.approve(trio.alice, "Union", "Mallory")


async def test_names_and_links_are_checked(trio: Trio) -> None:
    with pytest.raises(UsageError, match="already used"):
        await groups.create(trio.alice, "Union")
    with pytest.raises(InvitationError):
        await groups.join(trio.bob, "payk:groupnot-a-link")
    link = await groups.invite(trio.alice, "Union")
    with pytest.raises(UsageError, match="already belong"):
        await groups.join(trio.bob, link)
    with pytest.raises(UsageError, match="no group"):
        groups.members(trio.alice, "Nope")


async def test_a_removed_member_cannot_write(trio: Trio) -> None:
    await groups.remove(trio.alice, "Union", "Carol")
    await groups.sync_all(trio.carol)
    assert groups.members(trio.carol, "Union").status == "removed"
    with pytest.raises(UsageError, match="cannot write"):
        await trio.carol.send_text("Union", "still here?")


async def test_a_removed_member_can_ask_again(trio: Trio) -> None:
    await groups.remove(trio.alice, "Union", "Carol")
    await groups.sync_all(trio.carol)
    await trio.bob.send_text("Union", "while carol was out")
    assert await groups.join(trio.carol, await groups.invite(trio.alice, "Union")) == "Union"
    assert groups.members(trio.carol, "Union").status == "joining"
    await groups.approve(trio.alice, "Union", "Carol")
    await groups.sync_all(trio.carol)
    assert groups.members(trio.carol, "Union").status == "member"
    await groups.sync_all(trio.bob)
    await trio.bob.send_text("Union", "welcome back")
    assert [m.text for m in await groups.sync_all(trio.carol)] == ["welcome back"]
    with pytest.raises(UsageError, match="already belong"):
        await groups.join(trio.carol, await groups.invite(trio.alice, "Union"))


async def test_listen_yields_group_messages(trio: Trio) -> None:
    stream = trio.bob.listen()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await groups.send_text(trio.alice, "Union", "heard while listening")
    message = await asyncio.wait_for(first, timeout=20)
    assert (message.conversation, message.sender) == ("Union", "Alice")
    assert message.text == "heard while listening"
    await stream.aclose()
    assert await groups.sync_all(trio.bob) == []  # read once, not again by the next sync


async def test_feed_poller_finds_nothing_without_new_entries(trio: Trio) -> None:
    woken: list[bool] = []
    poller = FeedPoller(trio.bob, lambda: woken.append(True))
    assert await poller.poll_once() == 0
    assert poller.take() == [] and woken == []
    await groups.send_text(trio.alice, "Union", "one")
    assert await poller.poll_once() == 1
    assert [m.text for m in poller.take()] == ["one"] and woken == [True]
    assert poller.take() == []
