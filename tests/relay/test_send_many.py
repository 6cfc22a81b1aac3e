"""Several envelopes per send frame (``SendMany``), answered by one ``Sent``.

The first tests check the frames: a round trip, the codec's bounds, and what a relay that
predates ``SendMany`` makes of one (an unknown command with the request's rid, which is what
the client falls back on). The others speak to a real relay process frame by frame
(``RawSession``): items stored in item order and still there after the relay is killed, a
full or unknown mailbox refusing only its own items, malformed frames answered with an error
while the connection and the relay go on. The client's fallback runs against a relay server
in this process whose request codec does not know ``SendMany``: the relay as it was before.
The last test reads the relay's metrics: each envelope counted under its own code.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from payk.errors import QuotaError, RelayRefusedError
from payk.net.relay import MailboxCreds, RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol.wire import Codec, MalformedFrame, UnknownMessage
from payk.relay.app import RelayServer
from payk.relay.config import RelayConfig
from tests.relay.harness import RelayProcess, start_relay
from tests.relay.test_batched_pushes import RawSession

REQUESTS = mb.request_codec()
ANSWERS = mb.response_codec()
QUOTA = 5
# A relay from before SendMany: every request but that one.
OLD_REQUESTS = (
    mb.CreateMailbox
    | mb.Auth
    | mb.Send
    | mb.Forward
    | mb.Fetch
    | mb.Ack
    | mb.Subscribe
    | mb.Unsubscribe
    | mb.DeleteMailbox
    | mb.CreateFeed
    | mb.FeedAuth
    | mb.Append
    | mb.ReadFeed
    | mb.Ping
)


def _raw(*fields: object) -> bytes:
    return struct.pack(">BI", 1, 0) + msgspec.msgpack.encode(list(fields))


# --- the frames -------------------------------------------------------------------------------


def test_send_many_and_sent_round_trip() -> None:
    items = [mb.SendItem(send_id=b"box %d" % i, body=b"body %d" % i) for i in range(3)]
    request = mb.SendMany(rid=7, items=items)
    assert REQUESTS.decode(REQUESTS.encode(request)) == request
    answer = mb.Sent(rid=7, codes=["", mb.ErrorCode.QUOTA, ""])
    assert ANSWERS.decode(ANSWERS.encode(answer)) == answer


def test_a_relay_without_send_many_reads_it_as_an_unknown_command_with_its_rid() -> None:
    old: Codec[mb.Request] = Codec(OLD_REQUESTS, max_size=mb.MAX_REQUEST)
    frame = REQUESTS.encode(mb.SendMany(rid=42, items=[mb.SendItem(send_id=b"b", body=b"x")]))
    with pytest.raises(UnknownMessage) as caught:
        old.decode(frame)
    assert caught.value.code == mb.ErrorCode.UNKNOWN_COMMAND
    assert caught.value.rid == 42


@pytest.mark.parametrize(
    "items",
    [
        [],  # nothing to send
        [[b"box", b"x"]] * (mb.MAX_SEND_MANY + 1),  # too many
        [[b"box", b"x" * (mb.MAX_ENVELOPE + 1)]],  # a body too large
        [[b"", b"x"]],  # an empty send id
        [[b"box"]],  # no body
        [b"not a pair"],
        "not a list",
    ],
    ids=["empty", "too-many", "body-too-large", "empty-id", "no-body", "not-a-pair", "not-a-list"],
)
def test_malformed_send_many_is_refused_by_the_relay_codec(items: object) -> None:
    with pytest.raises(MalformedFrame) as caught:
        REQUESTS.decode(_raw("sm", 9, items))
    assert caught.value.code == mb.ErrorCode.MALFORMED
    assert caught.value.rid == 9


def test_a_full_frame_of_the_largest_envelope_fits_the_request_bound() -> None:
    item = mb.SendItem(send_id=b"\xff" * mb.ID_LEN, body=b"\xff" * mb.MAX_ENVELOPE)
    frame = REQUESTS.encode(mb.SendMany(rid=2**32 - 1, items=[item]))
    assert len(frame) <= mb.MAX_REQUEST


# --- a real relay, frame by frame -------------------------------------------------------------


@pytest.fixture
async def small_relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    """A SQLite relay whose mailboxes hold ``QUOTA`` envelopes."""
    process = await start_relay(tmp_path / "relay", "--mailbox-max-count", str(QUOTA))
    yield process
    await process.kill()


async def _mailboxes(relay: RelayProcess, count: int) -> list[MailboxCreds]:
    async with await RelayConnection.connect(relay.address) as conn:
        return [await conn.create_mailbox() for _ in range(count)]


async def _stored(relay: RelayProcess, box: MailboxCreds) -> list[bytes]:
    async with await RelayConnection.connect(relay.address) as conn:
        return [d.envelope for d in await conn.fetch(box, limit=mb.MAX_BATCH)]


def _items(pairs: list[tuple[MailboxCreds, bytes]]) -> list[mb.SendItem]:
    return [mb.SendItem(send_id=box.send_id, body=body) for box, body in pairs]


@pytest.mark.e2e
async def test_items_are_stored_in_order_and_survive_a_killed_relay(tmp_path: Path) -> None:
    relay = await start_relay(tmp_path / "relay")
    try:
        one, two = await _mailboxes(relay, 2)
        pairs = [(one if i % 3 else two, b"item %02d" % i) for i in range(40)]
        sender = await RawSession.open(relay)
        async with sender.ws:
            answer = await sender.ask(mb.SendMany, items=_items(pairs))
        assert answer == mb.Sent(rid=sender.rid, codes=[""] * len(pairs))
    finally:
        await relay.kill()  # no clean shutdown: what was answered must be on disk
    again = await start_relay(tmp_path / "relay")
    try:
        assert await _stored(again, one) == [body for box, body in pairs if box is one]
        assert await _stored(again, two) == [body for box, body in pairs if box is two]
    finally:
        await again.terminate()


@pytest.mark.e2e
async def test_a_full_or_unknown_mailbox_refuses_only_its_own_items(
    small_relay: RelayProcess,
) -> None:
    full, free = await _mailboxes(small_relay, 2)
    async with await RelayConnection.connect(small_relay.address) as conn:
        for i in range(QUOTA):
            await conn.send(full.send_id, b"filler %d" % i)
    unknown = mb.SendItem(send_id=b"\x00" * mb.ID_LEN, body=b"nobody")
    items = [
        *_items([(free, b"first"), (full, b"too many")]),
        unknown,
        *_items([(free, b"second"), (full, b"still too many"), (free, b"third")]),
    ]
    sender = await RawSession.open(small_relay)
    async with sender.ws:
        answer = await sender.ask(mb.SendMany, items=items)
    quota, gone = mb.ErrorCode.QUOTA, mb.ErrorCode.UNKNOWN
    assert answer == mb.Sent(rid=sender.rid, codes=["", quota, gone, "", quota, ""])
    assert await _stored(small_relay, free) == [b"first", b"second", b"third"]
    assert await _stored(small_relay, full) == [b"filler %d" % i for i in range(QUOTA)]


@pytest.mark.parametrize(
    "items",
    [[], [[b"box", b"x"]] * (mb.MAX_SEND_MANY + 1), [[b"box"]], "not a list"],
    ids=["empty", "too-many", "no-body", "not-a-list"],
)
@pytest.mark.e2e
async def test_a_malformed_send_many_gets_an_error_and_the_connection_goes_on(
    relay: RelayProcess, items: object
) -> None:
    (box,) = await _mailboxes(relay, 1)
    sender = await RawSession.open(relay)
    async with sender.ws:
        sender.rid += 1
        await sender.ws.send(_raw("sm", sender.rid, items))
        error = await sender.read()
        assert isinstance(error, mb.Error)
        assert (error.rid, error.code) == (sender.rid, mb.ErrorCode.MALFORMED)
        answer = await sender.ask(mb.SendMany, items=_items([(box, b"after")]))
        assert answer == mb.Sent(rid=sender.rid, codes=[""])
    assert await _stored(relay, box) == [b"after"]
    async with await RelayConnection.connect(relay.address) as other:  # the relay too
        await other.ping()


@pytest.mark.e2e
async def test_send_many_and_sends_written_together_keep_their_order(relay: RelayProcess) -> None:
    (box,) = await _mailboxes(relay, 1)
    bodies = [b"%02d" % i for i in range(60)]
    sender = await RawSession.open(relay)
    async with sender.ws:
        frames = []  # one batch of writes: the relay reads them back to back
        for i in range(0, len(bodies), 3):
            sender.rid += 1
            many = mb.SendMany(
                rid=sender.rid, items=_items([(box, bodies[i]), (box, bodies[i + 1])])
            )
            sender.rid += 1
            one = mb.Send(rid=sender.rid, send_id=box.send_id, body=bodies[i + 2])
            frames += [REQUESTS.encode(many), REQUESTS.encode(one)]
        await asyncio.gather(*(sender.ws.send(frame) for frame in frames))
        answers = [await sender.read() for _ in frames]
    assert [type(answer) for answer in answers] == [mb.Sent, mb.Ok] * (len(bodies) // 3)
    assert await _stored(relay, box) == bodies


# --- the client against a relay that predates SendMany ----------------------------------------


@pytest.fixture
async def old_relay(tmp_path: Path) -> AsyncIterator[RelayServer]:
    """The relay server in this process, with a request codec that lacks ``SendMany``."""
    config = RelayConfig(data_dir=tmp_path, db_url="memory:", port=0, mailbox_max_count=QUOTA)
    server = RelayServer(config)
    server._requests = Codec(OLD_REQUESTS, max_size=mb.MAX_REQUEST)
    await server.start()
    yield server
    await server.stop()


def _unknown_commands(server: RelayServer) -> float:
    sample = server.metrics.registry.get_sample_value(
        "payk_relay_refused_frames_total", {"reason": "unknown_command"}
    )
    return sample or 0.0


async def test_the_client_falls_back_to_single_sends_once_per_connection(
    old_relay: RelayServer,
) -> None:
    assert old_relay.address is not None
    async with await RelayConnection.connect(old_relay.address) as conn:
        full, free = await conn.create_mailbox(), await conn.create_mailbox()
        for i in range(QUOTA):
            await conn.send(full.send_id, b"filler %d" % i)
        first = await conn.send_many([(free.send_id, b"one"), (full.send_id, b"no room")])
        second = await conn.send_many([(free.send_id, b"two"), (b"\x00" * 16, b"nobody")])
        stored = [d.envelope for d in await conn.fetch(free)]
    assert first[0] is None and isinstance(first[1], QuotaError)
    assert second[0] is None and isinstance(second[1], RelayRefusedError)
    assert second[1].code == mb.ErrorCode.UNKNOWN
    assert stored == [b"one", b"two"]
    assert _unknown_commands(old_relay) == 1  # the second call did not ask again


async def test_the_metrics_count_every_envelope_with_its_own_code(tmp_path: Path) -> None:
    config = RelayConfig(data_dir=tmp_path, db_url="memory:", port=0, mailbox_max_count=1)
    server = RelayServer(config)
    address = await server.start()
    try:
        async with await RelayConnection.connect(address) as conn:
            one, two = await conn.create_mailbox(), await conn.create_mailbox()
            await conn.send_many(
                [(one.send_id, b"a"), (one.send_id, b"b"), (two.send_id, b"c"), (b"?", b"d")]
            )
    finally:
        await server.stop()
    counted = {
        code: server.metrics.registry.get_sample_value(
            "payk_relay_requests_total", {"command": "SendMany", "code": code}
        )
        for code in ("OK", mb.ErrorCode.QUOTA, mb.ErrorCode.UNKNOWN)
    }
    assert counted == {"OK": 2.0, mb.ErrorCode.QUOTA: 1.0, mb.ErrorCode.UNKNOWN: 1.0}
