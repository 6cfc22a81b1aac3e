"""The wire codec: round trips, and every kind of bad frame becomes a MalformedFrame."""

from __future__ import annotations

import struct

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payk.errors import RemoteProtocolError
from payk.protocol import mailbox as mb
from payk.protocol.wire import HEADER_LEN, VERSION, MalformedFrame, UnknownMessage
from payk.relay.app import pad_frame

REQUESTS = mb.request_codec()
ANSWERS = mb.response_codec()
ID = b"i" * 16


def _frame(body: object, *, pad: int = 0, version: int = VERSION) -> bytes:
    return struct.pack(">BI", version, pad) + bytes(pad) + msgspec.msgpack.encode(body)


@pytest.mark.parametrize(
    "message",
    [
        mb.CreateMailbox(rid=1, auth_key=b"k" * 32, pow=b"12345678"),
        mb.Auth(rid=2, recv_id=ID, sig=b"s" * 64),
        mb.Send(rid=3, send_id=ID, body=b"x" * 1000),
        mb.Forward(rid=4, relay="payk://x@h:1", send_id=ID, body=b""),
        mb.Fetch(rid=5, recv_id=ID, limit=7),
        mb.Ack(rid=6, recv_id=ID, ids=[ID, ID]),
        mb.Subscribe(rid=7, recv_id=ID),
        mb.Unsubscribe(rid=8, recv_id=ID),
        mb.DeleteMailbox(rid=9, recv_id=ID),
        mb.CreateFeed(rid=10, writer_key=b"w" * 32),
        mb.FeedAuth(rid=11, feed_id=ID, sig=b"s" * 64),
        mb.Append(rid=12, feed_id=ID, body=b"post"),
        mb.ReadFeed(rid=13, feed_id=ID, offset=5, limit=2),
        mb.Ping(rid=2**32 - 1),
    ],
)
def test_requests_round_trip(message: mb.Request) -> None:
    assert REQUESTS.decode(REQUESTS.encode(message)) == message


@pytest.mark.parametrize(
    "message",
    [
        mb.Challenge(nonce=b"n" * 32, pow_bits=8),
        mb.Ok(rid=1),
        mb.MailboxCreated(rid=2, recv_id=ID, send_id=ID),
        mb.Envelopes(rid=3, items=[mb.Item(id=ID, body=b"e")]),
        mb.FeedCreated(rid=4, feed_id=ID),
        mb.Appended(rid=5, offset=9),
        mb.FeedEntries(rid=6, entries=[mb.FeedEntry(offset=0, body=b"p")]),
        mb.Push(recv_id=ID, item=mb.Item(id=ID, body=b"e")),
        mb.Error(rid=7, code=mb.ErrorCode.QUOTA, detail="full"),
    ],
)
def test_answers_round_trip(message: mb.Response) -> None:
    assert ANSWERS.decode(ANSWERS.encode(message)) == message


def test_padding_gives_exact_sizes_and_decodes() -> None:
    empty = mb.Envelopes(rid=1, items=[])
    one = mb.Envelopes(rid=1, items=[mb.Item(id=ID, body=b"x" * 1024)])
    sizes = set()
    for message in (empty, one):
        frame = ANSWERS.encode(message, pad_to=mb.padded_size(len(ANSWERS.encode(message))))
        assert ANSWERS.decode(frame) == message
        sizes.add(len(frame))
    assert sizes == {mb.padded_size(0)}


def test_a_larger_answer_moves_to_a_larger_bucket() -> None:
    assert mb.padded_size(5000) > mb.padded_size(100)
    assert mb.padded_size(70_000) >= 70_000


def test_unknown_trailing_fields_are_skipped() -> None:
    frame = _frame(["fe", 5, ID, 3, "a field from the future", [1, 2]])
    assert REQUESTS.decode(frame) == mb.Fetch(rid=5, recv_id=ID, limit=3)


def test_unknown_tag_is_reported_with_its_request_id() -> None:
    with pytest.raises(UnknownMessage) as info:
        REQUESTS.decode(_frame(["zz", 42, b"?"]))
    assert info.value.rid == 42
    assert info.value.code == "UNKNOWN_COMMAND"


def test_known_tag_with_bad_fields_is_malformed_not_unknown() -> None:
    with pytest.raises(MalformedFrame) as info:
        REQUESTS.decode(_frame(["fe", 9, ID, 100_000]))  # limit above MAX_BATCH
    assert type(info.value) is MalformedFrame
    assert info.value.rid == 9


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x01\x00\x00",
        b"\x02\x00\x00\x00\x00\x91\xa2pi",  # unknown version
        b"\x01\xff\xff\xff\xff\x00",  # padding longer than the frame
        b"\x01\x00\x00\x00\x00\xdd\xff\xff\xff\xff",  # array of 4 billion elements, truncated
        b"\x01\x00\x00\x00\x00\xc6\x7f\xff\xff\xff",  # bin of 2 GiB, truncated
        b"\x01\x00\x00\x00\x00\xc1",  # never-used msgpack byte
        b"GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_garbage_and_truncated_frames_are_malformed(frame: bytes) -> None:
    with pytest.raises(MalformedFrame):
        REQUESTS.decode(frame)


def test_oversized_frame_is_refused_before_decoding() -> None:
    big = REQUESTS.encode(mb.Ping(rid=1), pad_to=mb.MAX_REQUEST + 1)
    with pytest.raises(MalformedFrame, match="length"):
        REQUESTS.decode(big)
    assert REQUESTS.decode(REQUESTS.encode(mb.Ping(rid=1), pad_to=mb.MAX_REQUEST)) == mb.Ping(rid=1)


def test_oversized_envelope_field_is_refused() -> None:
    body = b"x" * (mb.MAX_ENVELOPE + 1)
    frame = _frame(["se", 1, ID, body])
    with pytest.raises(MalformedFrame):
        REQUESTS.decode(frame)
    assert REQUESTS.decode(_frame(["se", 1, ID, body[:-1]])).body == body[:-1]


def test_malformed_is_a_remote_protocol_error() -> None:
    assert issubclass(MalformedFrame, RemoteProtocolError)
    assert HEADER_LEN == 5


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    for codec in (REQUESTS, ANSWERS):
        try:
            codec.decode(data)
        except MalformedFrame:
            pass


@given(st.binary(max_size=200))
def test_random_msgpack_bodies_never_raise_anything_else(data: bytes) -> None:
    try:
        REQUESTS.decode(b"\x01\x00\x00\x00\x00" + data)
    except MalformedFrame:
        pass


@given(body=st.binary(max_size=9000), extra=st.integers(min_value=-50, max_value=20_000))
def test_the_relay_pads_a_frame_exactly_as_the_codec_would(body: bytes, extra: int) -> None:
    push = mb.Push(recv_id=ID, item=mb.Item(id=ID, body=body))
    plain = ANSWERS.encode(push)
    for size in (mb.padded_size(len(plain)), len(plain) + extra):
        padded = pad_frame(plain, size)
        assert padded == ANSWERS.encode(push, pad_to=size)
        assert ANSWERS.decode(padded) == push
