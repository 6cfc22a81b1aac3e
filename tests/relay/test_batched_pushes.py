"""Several envelopes per push frame (``Pushes``) and acks without answers (``Ack.quiet``).

Both are opt-in fields appended to existing requests, so the first tests check the frames
themselves: what an older peer makes of them and how the relay cuts a list of pushes into
frames. The others speak to a real relay process frame by frame (``RawSession``), because
what matters is which frames cross the wire: one ``Pushes`` for a backlog where the client
asked for it, one ``Push`` per envelope where it did not, and nothing at all for a quiet ack
that worked, while a refused one still gets its ``Error``.
"""

from __future__ import annotations

import asyncio
import struct

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection

from payk.net.relay import MailboxCreds, RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol.primitives import sign
from payk.protocol.wire import Codec, MalformedFrame, Message
from payk.relay.service import group_pushes
from tests.relay.harness import RelayProcess, flat_pushes, raw_websocket

REQUESTS = mb.request_codec()
ANSWERS = mb.response_codec()
ANSWER_WITHIN = 10.0
BACKLOG = 30


# --- the frames -------------------------------------------------------------------------------


class OldSubscribe(Message, frozen=True, tag="sb"):
    """``Subscribe`` as a relay without ``many`` declares it."""

    rid: int
    recv_id: bytes


class OldAck(Message, frozen=True, tag="ak"):
    """``Ack`` as a relay without ``quiet`` declares it."""

    rid: int
    recv_id: bytes
    ids: list[bytes]


def _push(index: int, size: int = 100) -> mb.Push:
    item = mb.Item(id=index.to_bytes(16, "big"), body=bytes([index % 256]) * size)
    return mb.Push(recv_id=b"r%d" % (index % 3), item=item)


def test_an_older_relay_reads_the_new_fields_as_the_old_requests() -> None:
    old: Codec[OldSubscribe | OldAck] = Codec(OldSubscribe | OldAck, max_size=mb.MAX_REQUEST)
    subscribe = REQUESTS.encode(mb.Subscribe(rid=1, recv_id=b"box", many=True))
    ack = REQUESTS.encode(mb.Ack(rid=2, recv_id=b"box", ids=[b"a", b"b"], quiet=True))
    assert old.decode(subscribe) == OldSubscribe(rid=1, recv_id=b"box")
    assert old.decode(ack) == OldAck(rid=2, recv_id=b"box", ids=[b"a", b"b"])


def test_requests_from_an_older_client_default_to_the_old_behaviour() -> None:
    old: Codec[OldSubscribe | OldAck] = Codec(OldSubscribe | OldAck, max_size=mb.MAX_REQUEST)
    subscribe = REQUESTS.decode(old.encode(OldSubscribe(rid=1, recv_id=b"box")))
    ack = REQUESTS.decode(old.encode(OldAck(rid=2, recv_id=b"box", ids=[b"a"])))
    assert subscribe == mb.Subscribe(rid=1, recv_id=b"box", many=False)
    assert ack == mb.Ack(rid=2, recv_id=b"box", ids=[b"a"], quiet=False)


def test_pushes_round_trip_in_order() -> None:
    pushes = [_push(i) for i in range(5)]
    (frame,) = group_pushes(pushes)
    assert isinstance(frame, mb.Pushes)
    decoded = ANSWERS.decode(ANSWERS.encode(frame))
    assert isinstance(decoded, mb.Pushes)
    assert flat_pushes([decoded]) == pushes


def test_one_push_alone_stays_a_push_and_none_makes_no_frame() -> None:
    assert group_pushes([_push(1)]) == [_push(1)]
    assert group_pushes([]) == []


def test_a_frame_holds_at_most_max_batch_envelopes() -> None:
    pushes = [_push(i, size=1) for i in range(2 * mb.MAX_BATCH + 1)]
    frames = group_pushes(pushes)
    assert [type(frame) for frame in frames] == [mb.Pushes, mb.Pushes, mb.Push]
    assert [len(f.items) for f in frames if isinstance(f, mb.Pushes)] == [mb.MAX_BATCH] * 2
    assert flat_pushes(frames) == pushes


def test_a_frame_stays_within_its_byte_budget_and_one_padded_bucket() -> None:
    pushes = [_push(i, size=mb.MAX_ENVELOPE) for i in range(10)]
    frames = group_pushes(pushes)
    assert flat_pushes(frames) == pushes
    assert len(frames) > 1
    assert [_envelopes(frame) for frame in frames] == [3, 3, 3, 1]  # 4 x 64 KiB > 256 KiB
    for frame in frames:
        encoded = len(ANSWERS.encode(frame))
        assert encoded <= mb.PUSHES_BYTES + 64  # the frame's own header and tag
        assert mb.padded_size(encoded) <= mb.padded_size(mb.PUSHES_BYTES)


def test_a_larger_envelope_than_the_budget_goes_alone() -> None:
    pushes = [_push(1, size=10), _push(2, size=mb.MAX_ENVELOPE), _push(3, size=10)]
    frames = group_pushes(pushes, max_bytes=1000)
    assert frames == pushes


@pytest.mark.parametrize(
    "items",
    [
        [[b"r", [b"id", b"x"]]] * (mb.MAX_BATCH + 1),  # too many
        [[b"r", [b"id", b"x" * (mb.MAX_ENVELOPE + 1)]]],  # a body too large
        [[b"r", b"not an item"]],
        [[b"r"]],  # no item
        [b"not a pair"],
        "not a list",
    ],
    ids=["too-many", "body-too-large", "item-not-array", "no-item", "not-a-pair", "not-a-list"],
)
def test_malformed_pushes_are_refused_by_the_client_codec(items: object) -> None:
    frame = struct.pack(">BI", 1, 0) + msgspec.msgpack.encode(["pm", items])
    with pytest.raises(MalformedFrame):
        ANSWERS.decode(frame)


# --- a real relay, frame by frame -------------------------------------------------------------


class RawSession:
    """One WebSocket to the relay, spoken by hand: requests out, every frame in as it comes."""

    def __init__(self, ws: ClientConnection, challenge: mb.Challenge) -> None:
        self.ws = ws
        self.nonce = challenge.nonce
        self.rid = 0
        self.last_size = 0

    @classmethod
    async def open(cls, relay: RelayProcess) -> RawSession:
        return cls(*await raw_websocket(relay))

    async def write(self, build: type, **fields: object) -> int:
        """Send one request; returns its rid."""
        self.rid += 1
        await self.ws.send(REQUESTS.encode(build(rid=self.rid, **fields)))
        return self.rid

    async def write_raw(self, *fields: object) -> int:
        """Send a request as a message array, e.g. with fields an older client lacks."""
        self.rid += 1
        frame = struct.pack(">BI", 1, 0) + msgspec.msgpack.encode(
            [fields[0], self.rid, *fields[1:]]
        )
        await self.ws.send(frame)
        return self.rid

    async def read(self) -> mb.Response:
        frame = await asyncio.wait_for(self.ws.recv(), ANSWER_WITHIN)
        assert isinstance(frame, bytes)
        self.last_size = len(frame)
        return ANSWERS.decode(frame)

    async def ask(self, build: type, **fields: object) -> mb.Response:
        rid = await self.write(build, **fields)
        answer = await self.read()
        assert getattr(answer, "rid", None) == rid, answer
        return answer

    async def auth(self, box: MailboxCreds) -> None:
        sig = sign(box.auth_seed, mb.auth_message(self.nonce, box.recv_id))
        assert await self.ask(mb.Auth, recv_id=box.recv_id, sig=sig) == mb.Ok(rid=self.rid)

    async def pushes_and_ok(self, count: int, rid: int) -> list[tuple[mb.Push | mb.Pushes, int]]:
        """The push frames (with their sizes) holding ``count`` envelopes, and ``rid``'s Ok.

        The Ok to a ``Subscribe`` and the pushes it starts come from two tasks of the relay,
        in either order.
        """
        frames: list[tuple[mb.Push | mb.Pushes, int]] = []
        answered = False
        while sum(_envelopes(f) for f, _ in frames) < count or not answered:
            frame = await self.read()
            if isinstance(frame, mb.Push | mb.Pushes):
                frames.append((frame, self.last_size))
            else:
                assert frame == mb.Ok(rid=rid), frame
                answered = True
        return frames


def _envelopes(frame: mb.Response) -> int:
    if isinstance(frame, mb.Pushes):
        return len(frame.items)
    return 1 if isinstance(frame, mb.Push) else 0


async def _box_with_backlog(relay: RelayProcess, count: int) -> tuple[MailboxCreds, list[bytes]]:
    bodies = [b"envelope %03d" % i for i in range(count)]
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        for body in bodies:
            await conn.send(box.send_id, body)
    return box, bodies


@pytest.mark.e2e
async def test_a_backlog_is_pushed_in_one_padded_pushes_frame_in_order(
    relay: RelayProcess,
) -> None:
    box, bodies = await _box_with_backlog(relay, BACKLOG)
    owner = await RawSession.open(relay)
    async with owner.ws:
        await owner.auth(box)
        rid = await owner.write(mb.Subscribe, recv_id=box.recv_id, many=True)
        ((frame, size),) = await owner.pushes_and_ok(BACKLOG, rid)
    assert isinstance(frame, mb.Pushes)
    pushes = flat_pushes([frame])
    assert [p.item.body for p in pushes] == bodies
    assert {p.recv_id for p in pushes} == {box.recv_id}
    assert size == mb.padded_size(size)  # exactly a bucket: padded like a single Push


@pytest.mark.e2e
async def test_an_older_subscriber_gets_one_push_frame_per_envelope(relay: RelayProcess) -> None:
    box, bodies = await _box_with_backlog(relay, BACKLOG)
    owner = await RawSession.open(relay)
    async with owner.ws:
        await owner.auth(box)
        rid = await owner.write_raw("sb", box.recv_id)  # no ``many`` field at all
        frames = [frame for frame, _ in await owner.pushes_and_ok(BACKLOG, rid)]
        await owner.write(mb.Send, send_id=box.send_id, body=b"later")
        while not isinstance(later := await owner.read(), mb.Push):
            assert isinstance(later, mb.Ok)  # the send's answer may come first
    assert [type(frame) for frame in frames] == [mb.Push] * BACKLOG
    assert [p.item.body for p in flat_pushes(frames)] == bodies
    assert later.item.body == b"later"


@pytest.mark.e2e
async def test_a_quiet_ack_deletes_and_sends_no_answer(relay: RelayProcess) -> None:
    box, bodies = await _box_with_backlog(relay, 3)
    owner = await RawSession.open(relay)
    async with owner.ws:
        await owner.auth(box)
        fetched = await owner.ask(mb.Fetch, recv_id=box.recv_id)
        assert isinstance(fetched, mb.Envelopes)
        assert [item.body for item in fetched.items] == bodies
        ids = [item.id for item in fetched.items]
        await owner.write(mb.Ack, recv_id=box.recv_id, ids=ids[:2], quiet=True)
        ping = await owner.write(mb.Ping)
        assert await owner.read() == mb.Ok(rid=ping)  # nothing came for the ack before it
        left = await owner.ask(mb.Fetch, recv_id=box.recv_id)
        assert isinstance(left, mb.Envelopes)
        assert [item.id for item in left.items] == ids[2:]
        await owner.write(mb.Ack, recv_id=box.recv_id, ids=ids[2:])  # not quiet: answered
        assert await owner.read() == mb.Ok(rid=owner.rid)
        assert await owner.ask(mb.Fetch, recv_id=box.recv_id) == mb.Envelopes(
            rid=owner.rid, items=[]
        )


@pytest.mark.e2e
async def test_a_quiet_ack_amid_a_window_of_sends_keeps_the_order_and_adds_no_answer(
    relay: RelayProcess,
) -> None:
    box, _ = await _box_with_backlog(relay, 1)
    owner = await RawSession.open(relay)
    async with owner.ws:
        await owner.auth(box)
        old = await owner.ask(mb.Fetch, recv_id=box.recv_id)
        assert isinstance(old, mb.Envelopes) and len(old.items) == 1
        window = [b"new %02d" % i for i in range(20)]
        sends = [await owner.write(mb.Send, send_id=box.send_id, body=b) for b in window]
        await owner.write(mb.Ack, recv_id=box.recv_id, ids=[old.items[0].id], quiet=True)
        fetch = await owner.write(mb.Fetch, recv_id=box.recv_id)
        answers = [await owner.read() for _ in range(len(sends) + 1)]
    assert answers[:-1] == [mb.Ok(rid=rid) for rid in sends]
    last = answers[-1]
    assert isinstance(last, mb.Envelopes) and last.rid == fetch
    assert [item.body for item in last.items] == window  # the old one is gone, no new one


@pytest.mark.e2e
async def test_a_quiet_ack_for_an_unproved_mailbox_is_answered_with_an_error(
    relay: RelayProcess,
) -> None:
    box, bodies = await _box_with_backlog(relay, 1)
    stranger = await RawSession.open(relay)
    async with stranger.ws:
        answer = await stranger.ask(mb.Ack, recv_id=box.recv_id, ids=[b"\x00" * 16], quiet=True)
        assert isinstance(answer, mb.Error) and answer.code == mb.ErrorCode.UNAUTHORIZED
        assert await stranger.ask(mb.Ping) == mb.Ok(rid=stranger.rid)
    async with await RelayConnection.connect(relay.address) as conn:
        assert [d.envelope for d in await conn.fetch(box)] == bodies
