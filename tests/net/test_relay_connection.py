"""RelayConnection against a real relay process: every command, and its refusals."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from payk.errors import (
    FingerprintMismatchError,
    LocalProtocolError,
    NetworkError,
    RelayRefusedError,
)
from payk.net.relay import Delivery, MailboxCreds, RelayConnection
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.envelope import MAX_ENVELOPE
from payk.protocol.primitives import signing_key_generate
from tests.relay.harness import RelayProcess

pytestmark = pytest.mark.e2e


async def test_send_fetch_ack_round_trip(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        assert box.recv_id != box.send_id
        await conn.send(box.send_id, b"first")
        await conn.send(box.send_id, b"second")
        got = await conn.fetch(box)
        assert [d.envelope for d in got] == [b"first", b"second"]
        assert all(d.recv_id == box.recv_id for d in got)
        await conn.ack(box, [got[0].id])
        assert [d.envelope for d in await conn.fetch(box)] == [b"second"]
        await conn.ack(box, [got[1].id])
        assert await conn.fetch(box) == []


async def test_envelopes_wait_until_acked_across_connections(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as owner:
        box = await owner.create_mailbox()
    async with await RelayConnection.connect(relay.address) as contact:
        await contact.send(box.send_id, b"kept")
    for _ in range(2):  # not acked: delivered again
        async with await RelayConnection.connect(relay.address) as owner:
            assert [d.envelope for d in await owner.fetch(box)] == [b"kept"]


async def test_subscribe_pushes_new_and_waiting_envelopes(relay: RelayProcess) -> None:
    async with (
        await RelayConnection.connect(relay.address) as owner,
        await RelayConnection.connect(relay.address) as contact,
    ):
        box = await owner.create_mailbox()
        await contact.send(box.send_id, b"waiting")
        await owner.subscribe(box)
        await contact.send(box.send_id, b"new")
        pushed: list[Delivery] = []
        async with asyncio.timeout(10):
            async for delivery in owner.deliveries():
                pushed.append(delivery)
                if len(pushed) == 2:
                    break
        assert [d.envelope for d in pushed] == [b"waiting", b"new"]
        await owner.ack(box, [d.id for d in pushed])
        assert await owner.fetch(box) == []


async def test_unknown_mailbox_is_refused_as_unknown(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        with pytest.raises(RelayRefusedError) as info:
            await conn.send(b"\x00" * 16, b"lost")
        assert info.value.code == "UNKNOWN"


async def test_delete_mailbox_then_sends_are_refused(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"x")
        await conn.delete_mailbox(box)
        with pytest.raises(RelayRefusedError) as info:
            await conn.send(box.send_id, b"y")
        assert info.value.code == "UNKNOWN"


async def test_wrong_auth_key_cannot_read(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"secret")
        thief = dataclasses.replace(box, auth_seed=signing_key_generate())
    async with await RelayConnection.connect(relay.address) as conn:
        with pytest.raises(RelayRefusedError) as info:
            await conn.fetch(thief)
        assert info.value.code == "UNAUTHORIZED"
        assert [d.envelope for d in await conn.fetch(box)] == [b"secret"]


async def test_feed_append_and_read_from_offset(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as writer:
        feed = await writer.create_feed()
        assert [await writer.append(feed, f"post {i}".encode()) for i in range(3)] == [0, 1, 2]
    async with await RelayConnection.connect(relay.address) as reader:
        assert await reader.read_feed(feed.feed_id, offset=1) == [(1, b"post 1"), (2, b"post 2")]
        assert await reader.read_feed(feed.feed_id, offset=0, limit=1) == [(0, b"post 0")]
        assert await reader.read_feed(feed.feed_id, offset=3) == []
        forged = dataclasses.replace(feed, writer_seed=signing_key_generate())
        with pytest.raises(RelayRefusedError) as info:
            await reader.append(forged, b"forged")
        assert info.value.code == "UNAUTHORIZED"


async def test_forward_to_itself_is_delivered_locally(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        await conn.forward(MailboxAddress(relay=relay.address, send_id=box.send_id), b"via")
        assert [d.envelope for d in await conn.fetch(box)] == [b"via"]


async def test_wrong_fingerprint_is_refused(relay: RelayProcess) -> None:
    wrong = dataclasses.replace(relay.address, fingerprint=bytes(32))
    with pytest.raises(FingerprintMismatchError):
        await RelayConnection.connect(wrong)
    async with await RelayConnection.connect(relay.address) as conn:
        await conn.ping()


async def test_unreachable_relay_is_a_network_error(relay: RelayProcess) -> None:
    closed = RelayAddress(fingerprint=relay.address.fingerprint, host="127.0.0.1", port=1)
    with pytest.raises(NetworkError) as info:
        await RelayConnection.connect(closed, timeout=3)
    assert not isinstance(info.value, FingerprintMismatchError)


async def test_requests_after_close_fail_cleanly(relay: RelayProcess) -> None:
    conn = await RelayConnection.connect(relay.address)
    box: MailboxCreds = await conn.create_mailbox()
    await conn.close()
    with pytest.raises(NetworkError):
        await conn.fetch(box)
    assert [d async for d in conn.deliveries()] == []


async def test_push_stream_fails_when_the_relay_goes_away(relay: RelayProcess) -> None:
    conn = await RelayConnection.connect(relay.address)
    try:
        box = await conn.create_mailbox()
        await conn.subscribe(box)
        assert not conn.closed
        await relay.terminate()
        with pytest.raises(NetworkError):
            async with asyncio.timeout(15):
                async for _ in conn.deliveries():
                    pass
        assert conn.closed
        with pytest.raises(NetworkError):
            await conn.ping()
    finally:
        await conn.close()


async def test_pipelined_requests_get_their_own_answers(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        boxes = await asyncio.gather(*(conn.create_mailbox() for _ in range(10)))
        await asyncio.gather(*(conn.send(b.send_id, b.recv_id) for b in boxes))
        fetched = await asyncio.gather(*(conn.fetch(b) for b in boxes))
        assert [[d.envelope for d in got] for got in fetched] == [[b.recv_id] for b in boxes]


async def test_oversized_envelopes_are_refused_before_sending(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        feed = await conn.create_feed()
        too_big = b"x" * (MAX_ENVELOPE + 1)
        for attempt in (
            conn.send(box.send_id, too_big),
            conn.forward(MailboxAddress(relay=relay.address, send_id=box.send_id), too_big),
            conn.append(feed, too_big),
        ):
            with pytest.raises(LocalProtocolError):
                await attempt
        await conn.send(box.send_id, too_big[:-1])  # the largest envelope still fits
        assert [len(d.envelope) for d in await conn.fetch(box)] == [MAX_ENVELOPE]
