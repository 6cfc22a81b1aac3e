"""The binary codec every payk peer speaks: a version byte, padding, one msgpack message.

Strategy: a frame is ``VERSION (1 byte) | pad length (u32, big-endian) | pad (zeros) |
msgpack``. The message is a msgspec ``Struct`` tagged by its first array element, so one
``Codec`` decodes a union of message types in a single pass; trailing fields a newer peer
adds are skipped, so fields can be appended without a version bump. Padding sits before the
message, so a sender can pad a frame to an exact size without re-encoding (the relay pads
"empty" and "envelope waiting" answers to the same size class).

Every length is checked before anything is allocated: the frame against ``max_size``, the pad
length against the frame, and msgspec checks each declared bin/array length against the bytes
that remain (constraints on fields bound them further). Anything wrong becomes a
``MalformedFrame`` (or ``UnknownMessage`` when only the tag is unknown, so a peer can answer
"unknown command" with the request id); nothing here raises anything else on input.
"""

from __future__ import annotations

import struct
from typing import Any, Generic, TypeVar

import msgspec

from payk.errors import RemoteProtocolError

__all__ = [
    "HEADER_LEN",
    "VERSION",
    "Codec",
    "MalformedFrame",
    "Message",
    "UnknownMessage",
]

VERSION = 1
HEADER_LEN = 5
_HEADER = struct.Struct(">BI")

M = TypeVar("M")


class Message(msgspec.Struct, frozen=True, array_like=True, tag_field="t"):
    """Base of every wire message: an array whose first element is the message's tag."""


class _Probe(msgspec.Struct, array_like=True):
    """What is left readable of a message whose tag is unknown: the tag and a request id."""

    t: str
    rid: int = 0


class MalformedFrame(RemoteProtocolError):
    """The bytes are not a frame of this protocol version."""

    code = "MALFORMED"

    def __init__(self, message: str = "the frame is malformed", *, rid: int = 0) -> None:
        super().__init__(message)
        self.rid = rid


class UnknownMessage(MalformedFrame):
    """A well-formed frame whose message tag this side does not know."""

    code = "UNKNOWN_COMMAND"

    def __init__(self, tag: str, *, rid: int = 0) -> None:
        super().__init__(f"unknown message type {tag[:32]!r}", rid=rid)
        self.tag = tag


class Codec(Generic[M]):
    """Encodes and decodes frames carrying one of a fixed union of ``Message`` types."""

    def __init__(self, union: Any, *, max_size: int) -> None:
        """``union`` is a ``Message`` subclass or a union of them; ``max_size`` caps a frame."""
        self.max_size = max_size
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[M] = msgspec.msgpack.Decoder(union)
        self._probe = msgspec.msgpack.Decoder(_Probe)

    def encode(self, message: msgspec.Struct, *, pad_to: int = 0) -> bytes:
        """The frame for ``message``, padded with zeros to ``pad_to`` bytes if it is shorter."""
        body = self._encoder.encode(message)
        pad = max(0, pad_to - HEADER_LEN - len(body))
        return _HEADER.pack(VERSION, pad) + bytes(pad) + body

    def decode(self, frame: bytes | bytearray | memoryview) -> M:
        """The message in ``frame``.

        Raises:
            MalformedFrame: wrong version, bad lengths, malformed or invalid message.
            UnknownMessage: the message is well formed but its tag is unknown.
        """
        view = memoryview(frame)
        if len(view) < HEADER_LEN or len(view) > self.max_size:
            raise MalformedFrame("the frame has an impossible length")
        version, pad = _HEADER.unpack_from(view)
        if version != VERSION:
            raise MalformedFrame("the frame has an unknown protocol version")
        if pad > len(view) - HEADER_LEN:
            raise MalformedFrame("the frame's padding is longer than the frame")
        body = view[HEADER_LEN + pad :]
        try:
            return self._decoder.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # bad UTF-8 is no DecodeError
            raise self._explain(body) from exc

    def _explain(self, body: memoryview) -> MalformedFrame:
        try:
            probe = self._probe.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return MalformedFrame()
        rid = probe.rid if 0 <= probe.rid < 2**32 else 0
        try:
            self._decoder.decode(self._encoder.encode([probe.t]))
        except msgspec.ValidationError as exc:
            if "`$[0]`" in str(exc):
                return UnknownMessage(probe.t, rid=rid)
        except msgspec.DecodeError:
            pass
        return MalformedFrame(rid=rid)
