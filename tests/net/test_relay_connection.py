"""RelayConnection against a real relay process: every command, and its refusals.

What a real relay never sends (an error to a quiet ack the client cannot provoke, malformed
push frames) comes from ``scripted_relay``: a TLS WebSocket server with a relay identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.server import ServerConnection, serve

from payk.errors import (
    FingerprintMismatchError,
    LocalProtocolError,
    NetworkError,
    QuotaError,
    RelayRefusedError,
)
from payk.net.relay import Delivery, MailboxCreds, RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.envelope import MAX_ENVELOPE
from payk.protocol.primitives import signing_key_generate
from payk.relay.tls import load_or_create_identity
from tests.relay.harness import RelayProcess, start_relay

pytestmark = pytest.mark.e2e
REQUESTS = mb.request_codec()
ANSWERS = mb.response_codec()


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


# --- several envelopes per send frame ----------------------------------------------------------


async def test_send_many_stores_every_envelope_in_item_order(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        one, two = await conn.create_mailbox(), await conn.create_mailbox()
        # 20 KB envelopes: three to a SendMany frame, so the items span several frames
        items = [(one if i % 2 else two).send_id for i in range(14)]
        bodies = [bytes([i]) * (20_000 if i % 3 else 100) for i in range(14)]
        outcomes = await conn.send_many(list(zip(items, bodies, strict=True)))
        assert outcomes == [None] * 14
        for box in (one, two):
            expected = [b for s, b in zip(items, bodies, strict=True) if s == box.send_id]
            assert [d.envelope for d in await conn.fetch(box)] == expected


async def test_send_many_names_each_refusal_and_stores_the_rest(tmp_path: Path) -> None:
    small = await start_relay(tmp_path / "small", "--mailbox-max-count", "2")
    try:
        async with await RelayConnection.connect(small.address) as conn:
            full, free = await conn.create_mailbox(), await conn.create_mailbox()
            await conn.send_many([(full.send_id, b"a"), (full.send_id, b"b")])
            outcomes = await conn.send_many(
                [
                    (free.send_id, b"kept"),
                    (full.send_id, b"no room"),
                    (b"\x00" * 16, b"nobody"),
                    (free.send_id, b"x" * (MAX_ENVELOPE + 1)),
                    (free.send_id, b"kept too"),
                ]
            )
            stored = [d.envelope for d in await conn.fetch(free)]
    finally:
        await small.terminate()
    assert outcomes[0] is None and outcomes[4] is None
    assert isinstance(outcomes[1], QuotaError)
    assert isinstance(outcomes[2], RelayRefusedError) and outcomes[2].code == "UNKNOWN"
    assert isinstance(outcomes[3], LocalProtocolError)  # never sent
    assert stored == [b"kept", b"kept too"]


async def test_send_many_of_nothing_sends_nothing(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        assert await conn.send_many([]) == []
        await conn.ping()


async def test_send_many_on_a_lost_connection_is_a_network_error(relay: RelayProcess) -> None:
    conn = await RelayConnection.connect(relay.address)
    box = await conn.create_mailbox()
    await conn.close()
    with pytest.raises(NetworkError):
        await conn.send_many([(box.send_id, b"late")])


# --- several envelopes per push frame, quiet acks ---------------------------------------------


async def test_a_backlog_and_new_envelopes_are_delivered_in_order(relay: RelayProcess) -> None:
    async with (
        await RelayConnection.connect(relay.address) as owner,
        await RelayConnection.connect(relay.address) as contact,
    ):
        box = await owner.create_mailbox()
        backlog = [b"waiting %02d" % i for i in range(40)]  # one Pushes frame on subscribe
        for body in backlog:
            await contact.send(box.send_id, body)
        await owner.subscribe(box)
        fresh = [b"new %02d" % i for i in range(10)]
        for body in fresh:  # one at a time: pipelined sends may commit in any order
            await contact.send(box.send_id, body)
        pushed: list[Delivery] = []
        async with asyncio.timeout(10):
            async for delivery in owner.deliveries():
                pushed.append(delivery)
                if len(pushed) == len(backlog) + len(fresh):
                    break
        assert [d.envelope for d in pushed] == backlog + fresh
        assert {d.recv_id for d in pushed} == {box.recv_id}
        await owner.ack(box, [d.id for d in pushed], quiet=True)
        assert await owner.fetch(box) == []


async def test_a_quiet_ack_deletes_without_waiting_for_an_answer(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        for body in (b"a", b"b", b"c"):
            await conn.send(box.send_id, body)
        got = await conn.fetch(box)
        await conn.ack(box, [got[0].id, got[2].id], quiet=True)
        assert [d.envelope for d in await conn.fetch(box)] == [b"b"]  # read after the ack
        await conn.ack(box, [b"\x00" * 65], quiet=True)  # malformed: refused, and ignored
        await conn.ping()
        assert not conn.closed
        assert [d.envelope for d in await conn.fetch(box)] == [b"b"]


async def test_a_quiet_ack_on_a_closed_connection_is_a_network_error(relay: RelayProcess) -> None:
    conn = await RelayConnection.connect(relay.address)
    box = await conn.create_mailbox()
    await conn.send(box.send_id, b"kept")
    got = await conn.fetch(box)  # proves the mailbox: the ack itself is the only frame
    await conn.close()
    with pytest.raises(NetworkError):
        await conn.ack(box, [got[0].id], quiet=True)
    async with await RelayConnection.connect(relay.address) as again:
        assert [d.envelope for d in await again.fetch(box)] == [b"kept"]


Script = Callable[[mb.Request], list[mb.Response | bytes]]


@contextlib.asynccontextmanager
async def scripted_relay(tmp_path: Path, script: Script) -> AsyncIterator[ScriptedRelay]:
    """A TLS WebSocket server with a relay's identity that answers each request by ``script``.

    For what a real relay never sends: an error to a quiet ack the client cannot provoke,
    malformed push frames. ``script`` returns messages or raw frames to send, in order.
    """
    identity = load_or_create_identity(tmp_path)
    scripted = ScriptedRelay()

    async def serve_one(ws: ServerConnection) -> None:
        await ws.send(ANSWERS.encode(mb.Challenge(nonce=bytes(mb.NONCE_LEN))))
        async for frame in ws:
            request = REQUESTS.decode(frame)  # type: ignore[arg-type]
            scripted.requests.append(request)
            for answer in script(request):
                await ws.send(answer if isinstance(answer, bytes) else ANSWERS.encode(answer))

    async with serve(
        serve_one, "127.0.0.1", 0, ssl=identity.server_context(), compression=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        scripted.address = RelayAddress(
            fingerprint=identity.fingerprint, host="127.0.0.1", port=port
        )
        yield scripted


class ScriptedRelay:
    """What ``scripted_relay`` serves at and what it was asked."""

    def __init__(self) -> None:
        self.address: RelayAddress | None = None
        self.requests: list[mb.Request] = []


def _answer_everything_ok(request: mb.Request) -> list[mb.Response | bytes]:
    return [mb.Ok(rid=request.rid)]


async def test_an_error_to_a_quiet_ack_is_ignored_and_the_connection_kept(
    tmp_path: Path,
) -> None:
    def script(request: mb.Request) -> list[mb.Response | bytes]:
        if isinstance(request, mb.Ack):  # as the relay answers an unproved mailbox
            return [mb.Error(rid=request.rid, code=mb.ErrorCode.UNAUTHORIZED, detail="no")]
        return _answer_everything_ok(request)

    box = MailboxCreds(recv_id=b"r" * 16, send_id=b"s" * 16, auth_seed=signing_key_generate())
    async with scripted_relay(tmp_path, script) as fake:
        assert fake.address is not None
        async with await RelayConnection.connect(fake.address) as conn:
            await conn.ack(box, [b"\x01" * 16], quiet=True)
            await conn.ping()  # answered after the error: the error was read and dropped
            assert not conn.closed
            with pytest.raises(RelayRefusedError) as info:
                await conn.ack(box, [b"\x02" * 16])  # the same refusal, waited for, is raised
            assert info.value.code == mb.ErrorCode.UNAUTHORIZED
    acks = [r for r in fake.requests if isinstance(r, mb.Ack)]
    assert [a.quiet for a in acks] == [True, False]


def _pushes_frame(items: object) -> bytes:
    return struct.pack(">BI", 1, 0) + msgspec.msgpack.encode(["pm", items])


@pytest.mark.parametrize(
    "frame",
    [
        _pushes_frame([[b"r", [b"i", b"x"]]] * (mb.MAX_BATCH + 1)),
        _pushes_frame([[b"r", [b"i", b"x" * (MAX_ENVELOPE + 1)]]]),
        _pushes_frame([[b"r", b"not an item"]]),
        _pushes_frame("not a list"),
        _pushes_frame([[b"r", [b"i", b"x"]]])[:-3],  # cut short
    ],
    ids=["too-many", "body-too-large", "item-not-array", "not-a-list", "truncated"],
)
async def test_malformed_pushes_end_the_connection_with_a_network_error(
    tmp_path: Path, frame: bytes
) -> None:
    box = MailboxCreds(recv_id=b"r" * 16, send_id=b"s" * 16, auth_seed=signing_key_generate())
    good = mb.Pushes(
        items=[
            mb.Pushed(recv_id=box.recv_id, item=mb.Item(id=b"%d" % i, body=b"ok")) for i in (1, 2)
        ]
    )

    def script(request: mb.Request) -> list[mb.Response | bytes]:
        if isinstance(request, mb.Subscribe):
            assert request.many
            return [mb.Ok(rid=request.rid), good, frame]
        return _answer_everything_ok(request)

    async with scripted_relay(tmp_path, script) as fake:
        assert fake.address is not None
        conn = await RelayConnection.connect(fake.address)
        try:
            await conn.subscribe(box)
            received: list[Delivery] = []
            with pytest.raises(NetworkError, match="broke the protocol"):
                async with asyncio.timeout(10):
                    async for delivery in conn.deliveries():
                        received.append(delivery)
            assert [d.id for d in received] == [b"1", b"2"]
            assert conn.closed
            with pytest.raises(NetworkError):
                await conn.ping()
        finally:
            await conn.close()
