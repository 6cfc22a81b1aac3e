"""Padded envelopes: the only unit payk moves between devices, relays, LANs and files.

Layout (all integers big-endian)::

    version:1 | kind:1 | envelope_id:16 | body_length:4 | body | zero padding

The whole envelope is exactly one of ``BUCKETS`` bytes long. The first 18 bytes
(``header``) are bound as associated data by every AEAD that seals a body, so a relay cannot
change the kind or swap the id. The relay reads only the version, the kind and the length;
the id lets receivers drop duplicates that arrive over several paths before decrypting.

Senders that care about length privacy (all of ``payk.protocol.session``) make the body
itself fill the bucket (padding inside their AEAD, see :func:`body_capacity`), so the
cleartext length field reveals only the bucket. Parsing checks every length before
slicing, refuses a size that is not a bucket, and refuses non-zero padding, so exactly one
byte string encodes each envelope.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from payk.errors import LocalProtocolError, RemoteProtocolError, UsageError

__all__ = [
    "BUCKETS",
    "HEADER_LEN",
    "ID_LEN",
    "MAX_BODY",
    "MAX_ENVELOPE",
    "OVERHEAD",
    "VERSION",
    "Envelope",
    "Kind",
    "body_capacity",
    "envelope_id",
    "header",
    "header_for",
    "pack",
    "unpack",
]

VERSION = 1
ID_LEN = 16
BUCKETS: tuple[int, ...] = (1024, 4096, 16384, 65536)
MAX_ENVELOPE = BUCKETS[-1]
HEADER_LEN = 2 + ID_LEN
_LENGTH = struct.Struct(">I")
OVERHEAD = HEADER_LEN + _LENGTH.size
MAX_BODY = MAX_ENVELOPE - OVERHEAD


class Kind(IntEnum):
    """What an envelope carries; bound into every AEAD so kinds cannot be confused."""

    HANDSHAKE = 1
    PAIRWISE = 2
    GROUP = 3
    CHANNEL = 4
    FILE_CHUNK = 5
    CONTROL = 6


_KINDS = frozenset(int(kind) for kind in Kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A parsed envelope: its kind, its random id and its (still sealed) body."""

    kind: Kind
    envelope_id: bytes
    body: bytes


def body_capacity(body_length: int) -> int:
    """The body length that exactly fills the smallest bucket holding ``body_length`` bytes.

    Raises:
        UsageError: no bucket is large enough.
    """
    return _bucket_for(body_length) - OVERHEAD


def pack(kind: Kind, body: bytes, *, envelope_id: bytes) -> bytes:
    """Frame ``body`` and pad it with zeros to the smallest bucket that fits.

    Raises:
        UsageError: the body does not fit the largest bucket.
        LocalProtocolError: the id is not 16 bytes (a caller bug).
    """
    size = _bucket_for(len(body))
    framed = header_for(kind, envelope_id) + _LENGTH.pack(len(body)) + body
    return framed + bytes(size - len(framed))


def unpack(data: bytes) -> Envelope:
    """Parse and check an envelope from the network.

    Raises:
        RemoteProtocolError: wrong version, unknown kind, a size that is not a bucket, a
            length that points outside the envelope, or non-zero padding.
    """
    if len(data) not in BUCKETS:
        raise RemoteProtocolError(f"an envelope of {len(data)} bytes is not one of the sizes")
    if data[0] != VERSION:
        raise RemoteProtocolError(f"unknown envelope version {data[0]}")
    if data[1] not in _KINDS:
        raise RemoteProtocolError(f"unknown envelope kind {data[1]}")
    (length,) = _LENGTH.unpack_from(data, HEADER_LEN)
    end = OVERHEAD + length
    if end > len(data):
        raise RemoteProtocolError("the envelope length points past its end")
    if any(data[end:]):
        raise RemoteProtocolError("the envelope padding is not zero")
    return Envelope(
        kind=Kind(data[1]), envelope_id=bytes(data[2:HEADER_LEN]), body=data[OVERHEAD:end]
    )


def header_for(kind: Kind, envelope_id: bytes) -> bytes:
    """The header that :func:`pack` will write, for sealing a body before packing it.

    Raises:
        LocalProtocolError: the id is not 16 bytes (a caller bug).
    """
    if len(envelope_id) != ID_LEN:
        raise LocalProtocolError("an envelope id is 16 bytes")
    return bytes((VERSION, kind)) + envelope_id


def envelope_id(data: bytes) -> bytes:
    """The id of an envelope, for de-duplication before any decryption.

    Raises:
        RemoteProtocolError: the data is too short to hold an id.
    """
    if len(data) < HEADER_LEN:
        raise RemoteProtocolError("too short to be an envelope")
    return bytes(data[2:HEADER_LEN])


def header(data: bytes) -> bytes:
    """The version, kind and id: what every AEAD sealing the body binds as associated data.

    Raises:
        RemoteProtocolError: the data is too short to hold a header.
    """
    if len(data) < HEADER_LEN:
        raise RemoteProtocolError("too short to be an envelope")
    return bytes(data[:HEADER_LEN])


def _bucket_for(body_length: int) -> int:
    for size in BUCKETS:
        if OVERHEAD + body_length <= size:
            return size
    raise UsageError(f"a body of {body_length} bytes does not fit the largest envelope")
