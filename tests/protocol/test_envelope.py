"""Envelopes: framing, buckets, strict parsing."""

from __future__ import annotations

import pytest

from payk.errors import LocalProtocolError, RemoteProtocolError, UsageError
from payk.protocol import envelope as env

ID = bytes(range(16))


def test_pack_pads_to_the_smallest_bucket_and_round_trips() -> None:
    data = env.pack(env.Kind.PAIRWISE, b"body", envelope_id=ID)
    assert len(data) == env.BUCKETS[0]
    parsed = env.unpack(data)
    assert (parsed.kind, parsed.envelope_id, parsed.body) == (env.Kind.PAIRWISE, ID, b"body")
    assert env.envelope_id(data) == ID
    assert env.header(data) == bytes((env.VERSION, env.Kind.PAIRWISE)) + ID


@pytest.mark.parametrize("size", env.BUCKETS)
def test_body_capacity_fills_each_bucket_exactly(size: int) -> None:
    capacity = env.body_capacity(size - env.OVERHEAD)
    assert capacity == size - env.OVERHEAD
    assert len(env.pack(env.Kind.CONTROL, bytes(capacity), envelope_id=ID)) == size


def test_a_body_one_byte_over_a_bucket_goes_to_the_next() -> None:
    body = bytes(env.BUCKETS[0] - env.OVERHEAD + 1)
    assert len(env.pack(env.Kind.PAIRWISE, body, envelope_id=ID)) == env.BUCKETS[1]


def test_oversized_body_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        env.pack(env.Kind.PAIRWISE, bytes(env.MAX_BODY + 1), envelope_id=ID)
    with pytest.raises(UsageError):
        env.body_capacity(env.MAX_BODY + 1)
    assert env.MAX_ENVELOPE == max(env.BUCKETS)


def test_wrong_id_length_is_a_caller_bug() -> None:
    with pytest.raises(LocalProtocolError):
        env.pack(env.Kind.PAIRWISE, b"", envelope_id=b"short")


def _good() -> bytearray:
    return bytearray(env.pack(env.Kind.PAIRWISE, b"body", envelope_id=ID))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.__setitem__(0, 2), "version"),
        (lambda d: d.__setitem__(1, 0), "kind"),
        (lambda d: d.__setitem__(1, 99), "kind"),
        (lambda d: d.__setitem__(slice(18, 22), (5000).to_bytes(4, "big")), "length"),
        (lambda d: d.__setitem__(-1, 1), "padding"),
        (lambda d: d.extend(b"\0"), "sizes"),
        (lambda d: d.__delitem__(slice(-1, None)), "sizes"),
    ],
)
def test_malformed_envelopes_are_refused(mutate: object, reason: str) -> None:
    data = _good()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(RemoteProtocolError, match=reason):
        env.unpack(bytes(data))


def test_truncated_and_oversized_inputs() -> None:
    for data in (b"", b"\x01", bytes(17), bytes(env.MAX_ENVELOPE * 2)):
        with pytest.raises(RemoteProtocolError):
            env.unpack(data)
    with pytest.raises(RemoteProtocolError):
        env.envelope_id(b"\x01\x02")
    with pytest.raises(RemoteProtocolError):
        env.header(b"")
