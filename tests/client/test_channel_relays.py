"""A channel's feed on two relays: either relay down, readers still read; each post once.

Feeds live in a dict shared by the in-memory relays; readers read them through a stand-in for
``feed_http.get_feed`` (the plain HTTP GET) that honours ``MemoryNetwork.down`` and
``impostor`` like the real one honours a dead relay or a wrong TLS key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from payk.client import channels, feed_http, feed_mirrors, groups
from payk.client.facade import Client
from payk.client.feed_rows import by_name
from payk.errors import FingerprintMismatchError, NetworkError
from payk.net.memory import MemoryNetwork
from payk.protocol import channel as ch
from payk.protocol import envelope as env
from payk.protocol import primitives
from payk.protocol.address import RelayAddress, b64u_encode
from tests.client import memory_feeds


@dataclass
class World:
    admin: Client
    reader: Client
    net: MemoryNetwork
    relays: list[RelayAddress]
    gets: list[RelayAddress]


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    memory_feeds.install(monkeypatch, reads=False)  # readers use anonymous GETs only
    net = MemoryNetwork()
    gets: list[RelayAddress] = []

    async def get_feed(
        relay: RelayAddress,
        feed_id: bytes,
        offset: int,
        *,
        limit: int = 100,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[tuple[int, bytes]]:
        await asyncio.sleep(0)  # let the copies' reads interleave, as real GETs do
        gets.append(relay)
        if relay in net.down:
            raise NetworkError(f"could not read the feed on {relay.host}: refused")
        if relay in net.impostor:
            raise FingerprintMismatchError("the relay presented another TLS key")
        return memory_feeds.entries(feed_id, offset, limit)

    monkeypatch.setattr(feed_http, "get_feed", get_feed)
    relays = [net.add_relay(4200), net.add_relay(4201)]
    admin, reader = (
        Client.create(tmp_path / n, "pass", name=n.title(), relays=relays, network=net)
        for n in ("admin", "reader")
    )
    await channels.create(admin, "News")
    link = channels.link(admin, "News")
    mirrors = ch.decode_channel_link(link).mirrors
    assert [m.relay for m in mirrors] == [str(relays[1])]  # the second copy travels in the link
    await channels.subscribe(reader, link)
    yield World(admin, reader, net, relays, gets)
    await admin.close()
    await reader.close()


def _down(world: World, *indexes: int) -> None:
    world.net.down.clear()
    world.net.down.update(world.relays[i] for i in indexes)
    for person in (world.admin, world.reader):
        person.pool.forget_errors()


def _texts(messages: list[object]) -> list[str]:
    return [m.text for m in messages]  # type: ignore[attr-defined]


def _feeds(client: Client) -> list[list[bytes]]:
    row = by_name(client.profile.db, "News", kind="channel")
    return [
        memory_feeds.FEEDS[place.feed_id] for place in feed_mirrors.places(client.profile.db, row)
    ]


def _rejected(client: Client) -> list[str]:
    return [w for w in client.warnings if "rejected" in w]


async def test_both_up_each_post_once(world: World) -> None:
    assert (await groups.send_text(world.admin, "News", "hello both"))[1] == 2
    assert [len(feed) for feed in _feeds(world.admin)] == [1, 1]
    assert _feeds(world.admin)[0] == _feeds(world.admin)[1]  # the same bytes on each copy
    assert _texts(await groups.sync_all(world.reader)) == ["hello both"]
    assert set(world.gets) == set(world.relays)  # both copies were read
    assert await groups.sync_all(world.reader) == []
    assert _texts(groups.history(world.reader, "News")) == ["hello both"]
    assert not _rejected(world.reader) and not world.reader.warnings
    row = by_name(world.reader.profile.db, "News", kind="channel")
    assert feed_mirrors.waiting(world.reader.profile.db, row.id) == []  # readers hold no key


@pytest.mark.parametrize("index", [0, 1])
async def test_either_relay_down(world: World, index: int) -> None:
    await groups.send_text(world.admin, "News", "before")
    assert _texts(await groups.sync_all(world.reader)) == ["before"]
    _down(world, index)
    assert (await groups.send_text(world.admin, "News", "one relay left"))[1] == 1
    assert groups.history(world.admin, "News")[-1].status == "sent"
    assert _texts(await groups.sync_all(world.reader)) == ["one relay left"]
    assert not [w for w in world.reader.warnings if "News" in w]  # the dead copy is skipped
    _down(world)  # back up: the admin's next sync fills the copy that missed the post
    assert await groups.sync_all(world.admin) == []
    assert [len(feed) for feed in _feeds(world.admin)] == [2, 2]
    assert _feeds(world.admin)[0] == _feeds(world.admin)[1]
    for table in ("group_outbox", "mirror_outbox"):
        assert not world.admin.profile.db.query(f"SELECT 1 FROM {table}")
    assert await groups.sync_all(world.reader) == []  # read again from the late copy: skipped
    assert _texts(groups.history(world.reader, "News")) == ["before", "one relay left"]
    assert not _rejected(world.reader) and not _rejected(world.admin)


async def test_both_relays_down_is_reported(world: World) -> None:
    _down(world, 0, 1)
    assert (await groups.send_text(world.admin, "News", "nowhere to go"))[1] == 0
    assert groups.history(world.admin, "News")[-1].status == "queued"
    assert await groups.sync_all(world.reader) == []
    assert any(w.startswith("channel News: could not read") for w in world.reader.warnings)
    _down(world)
    assert await groups.sync_all(world.admin) == []
    assert groups.history(world.admin, "News")[-1].status == "sent"
    assert _texts(await groups.sync_all(world.reader)) == ["nowhere to go"]


async def test_a_post_one_copy_withheld_arrives_later_from_the_other(world: World) -> None:
    for text in ("first", "second", "third"):
        await groups.send_text(world.admin, "News", text)
    first_copy = _feeds(world.admin)[0]
    del first_copy[1]  # the first relay withholds "second" (and numbers what it serves anew)
    _down(world, 1)  # and the other copy cannot be read just now
    assert _texts(await groups.sync_all(world.reader)) == ["first", "third"]
    _down(world)
    assert _texts(await groups.sync_all(world.reader)) == ["second"]  # not refused as old
    assert await groups.sync_all(world.reader) == []
    assert not _rejected(world.reader)
    assert sorted(_texts(groups.history(world.reader, "News"))) == ["first", "second", "third"]


def _resealed(keys: ch.ChannelKeys, data: bytes) -> bytes:
    """The same signed post under a new envelope id (anyone with the link can do this)."""
    parsed = env.unpack(data)
    nonce = bytes(primitives.AEAD_NONCE_LEN)
    old_header = env.header_for(env.Kind.CHANNEL, parsed.envelope_id)
    inner = primitives.aead_open(ch._key(keys, parsed.envelope_id), nonce, parsed.body, old_header)
    new_id = primitives.random_bytes(16)
    header = env.header_for(env.Kind.CHANNEL, new_id)
    body = primitives.aead_seal(ch._key(keys, new_id), nonce, inner, header)
    return env.pack(env.Kind.CHANNEL, body, envelope_id=new_id)


async def test_a_post_served_again_under_new_bytes_is_refused(world: World) -> None:
    await groups.send_text(world.admin, "News", "once")
    first, second = _feeds(world.admin)
    row = by_name(world.reader.profile.db, "News", kind="channel")
    keys = msgspec.msgpack.decode(row.state, type=channels.ChannelState).keys
    second.append(_resealed(keys, first[0]))  # a copy replays it; digests differ, number not
    second.append(first[0])  # and serves the very same bytes twice
    assert _texts(await groups.sync_all(world.reader)) == ["once"]
    assert _rejected(world.reader) == [
        "channel News: rejected a post (a replayed or reordered post (number 0))"
    ]
    assert _texts(groups.history(world.reader, "News")) == ["once"]


async def test_a_copy_under_another_tls_key_is_reported(world: World) -> None:
    world.net.impostor.add(world.relays[1])
    await groups.send_text(world.admin, "News", "read from the first")
    assert _texts(await groups.sync_all(world.reader)) == ["read from the first"]
    assert any("another TLS key" in w for w in world.reader.warnings)


async def test_a_single_relay_channel_is_unchanged(tmp_path: Path, world: World) -> None:
    solo = Client.create(
        tmp_path / "solo", "pass", name="Solo", relays=world.relays[:1], network=world.net
    )
    await channels.create(solo, "Alone")
    row = by_name(solo.profile.db, "Alone", kind="channel")
    assert len(feed_mirrors.places(solo.profile.db, row)) == 1
    link = channels.link(solo, "Alone")
    assert ch.decode_channel_link(link).mirrors == []
    await channels.subscribe(world.reader, link)
    assert (await groups.send_text(solo, "Alone", "solo post"))[1] == 1
    feed = memory_feeds.FEEDS[row.feed_id]
    feed.append(feed[0])  # one copy: a replay is still reported
    assert _texts(await groups.sync_all(world.reader)) == ["solo post"]
    assert _rejected(world.reader) == [
        "channel Alone: rejected a post (a replayed or reordered post (number 0))"
    ]
    await solo.close()


class _OldLink(msgspec.Struct, frozen=True, kw_only=True):
    """A channel link as payk wrote it before copies (no ``mirrors``)."""

    name: str
    relay: str
    feed: bytes
    channel: bytes
    content_key: bytes
    verify_key: bytes


async def test_links_old_and_new_decode_both_ways(world: World) -> None:
    new = ch.decode_channel_link(channels.link(world.admin, "News"))
    fields = {f: getattr(new, f) for f in _OldLink.__struct_fields__}
    old_bytes = msgspec.msgpack.encode(_OldLink(**fields))
    old = ch.decode_channel_link(ch.CHANNEL_LINK_PREFIX + b64u_encode(old_bytes))
    assert old.mirrors == [] and old.feed == new.feed
    as_old = msgspec.msgpack.decode(msgspec.msgpack.encode(new), type=_OldLink)
    assert as_old.feed == new.feed  # an older payk ignores the copies and reads the first feed
