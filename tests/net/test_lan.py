"""LAN frames, want tags and mDNS discovery (zeroconf bound to loopback)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest

from payk.errors import NetworkError, RemoteProtocolError
from payk.net.lan import (
    LanChannel,
    LanHello,
    LanItems,
    LanWant,
    announce,
    browse,
    new_nonce,
    pad_tags,
    want_tag,
)
from payk.protocol.bundle import BundleItem


def test_tags_are_bound_to_the_session_nonce() -> None:
    send_id = b"s" * 16
    first, second = new_nonce(), new_nonce()
    assert want_tag(first, send_id) == want_tag(first, send_id)
    assert want_tag(first, send_id) != want_tag(second, send_id)
    assert want_tag(first, send_id) != want_tag(first, b"t" * 16)


def test_tag_lists_reveal_only_a_block_count() -> None:
    assert len(pad_tags([])) == 32
    tags = [want_tag(b"n" * 32, bytes([i]) * 16) for i in range(33)]
    padded = pad_tags(tags)
    assert len(padded) == 64 and set(tags) <= set(padded)


async def pair() -> tuple[LanChannel, LanChannel, asyncio.Server]:
    accepted: asyncio.Queue[LanChannel] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(LanChannel(reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    client = await LanChannel.open("127.0.0.1", server.sockets[0].getsockname()[1])
    return client, await accepted.get(), server


@pytest.fixture
async def channels() -> AsyncIterator[tuple[LanChannel, LanChannel]]:
    client, served, server = await pair()
    yield client, served
    await client.close()
    await served.close()
    server.close()
    await server.wait_closed()


async def test_messages_cross_both_ways(channels: tuple[LanChannel, LanChannel]) -> None:
    a, b = channels
    item = BundleItem(relay="payk://x@h:1", send_id=b"s", envelope=b"e" * 60000, created_at=1)
    big = LanItems(for_you=[item] * 50, to_carry=[])
    got_b, got_a = await asyncio.gather(a.trade(big, LanItems), b.trade(big, LanItems))
    assert got_a == got_b == big
    nonce = new_nonce()
    await a.send(LanHello(nonce=nonce))
    assert (await b.receive(LanHello)).nonce == nonce


async def test_unexpected_or_malformed_frames_are_protocol_errors(
    channels: tuple[LanChannel, LanChannel],
) -> None:
    a, b = channels
    await a.send(LanWant(tags=[]))
    with pytest.raises(RemoteProtocolError):
        await b.receive(LanHello)
    a._writer.write(struct.pack(">I", 7) + b"garbage")
    with pytest.raises(RemoteProtocolError):
        await b.receive(LanHello)
    a._writer.write(struct.pack(">I", 2**31))
    with pytest.raises(RemoteProtocolError):
        await b.receive(LanHello)
    await a.close()
    with pytest.raises(NetworkError):
        await b.receive(LanHello)


async def test_unreachable_peer_is_a_network_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(NetworkError):
        await LanChannel.open("127.0.0.1", port, timeout=5)


async def test_an_announced_peer_is_found_and_forgotten() -> None:
    async with announce(["127.0.0.1"], 4242, interfaces=["127.0.0.1"]):
        found = await browse(20, interfaces=["127.0.0.1"], enough=1)
    assert ("127.0.0.1", 4242) in found
