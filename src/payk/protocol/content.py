"""What a pairwise envelope carries once opened: message content types and their codec.

Strategy: each content kind is a frozen msgspec Struct tagged with a short name and encoded
as MessagePack; one ``decode`` is the single entry point for bytes from the network and turns
every malformed input into ``RemoteProtocolError``. Unknown fields are skipped (newer peers may
add some); unknown tags are refused. Tags reserved for kinds that are not defined yet:
``group``, ``group-op``, ``channel``, ``control``, ``poll``, ``event``.

A ``FileChunk`` is not sent through the ratchet: it is the body of a ``FILE_CHUNK`` envelope,
its payload sealed by ``payk.protocol.attachment`` under the key carried in the ``FileOffer``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from payk.errors import RemoteProtocolError, UsageError
from payk.protocol.address import MailboxAddress, RelayAddress

__all__ = [
    "ID_LEN",
    "MAX_NAME",
    "Content",
    "FileChunk",
    "FileOffer",
    "Hello",
    "MailboxRef",
    "Receipt",
    "Text",
    "Timer",
    "decode",
    "decode_chunk",
    "encode",
    "encode_chunk",
]

ID_LEN = 16
MAX_NAME = 200
MAX_RECEIPT_IDS = 1000
MAX_EXPIRE = 365 * 86400  # the longest disappearing timer, in seconds

_Id = Annotated[bytes, msgspec.Meta(min_length=ID_LEN, max_length=ID_LEN)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Expire = Annotated[int, msgspec.Meta(ge=0, le=MAX_EXPIRE)]


class MailboxRef(msgspec.Struct, frozen=True):
    """A mailbox the peer may write to: a relay address (text) and a send id."""

    relay: Annotated[str, msgspec.Meta(max_length=1000)]
    send_id: Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]

    @classmethod
    def of(cls, address: MailboxAddress) -> MailboxRef:
        """The wire form of ``address``."""
        return cls(relay=str(address.relay), send_id=address.send_id)

    def address(self) -> MailboxAddress:
        """The mailbox address this names.

        Raises:
            RemoteProtocolError: the relay address is not valid.
        """
        try:
            return MailboxAddress(relay=RelayAddress.parse(self.relay), send_id=self.send_id)
        except UsageError as exc:
            raise RemoteProtocolError("the peer sent an invalid mailbox address") from exc


class Hello(msgspec.Struct, frozen=True, tag="hello"):
    """The first message of a new contact: who they say they are, where to write to them."""

    name: _Name
    mailboxes: Annotated[list[MailboxRef], msgspec.Meta(min_length=1, max_length=8)]


class Text(msgspec.Struct, frozen=True, tag="text", omit_defaults=True):
    """A text message (``expire``: seconds it lives on each device once stored; 0 = forever;
    ``reply_to``: the id of the message it answers, empty when none)."""

    id: _Id
    text: Annotated[str, msgspec.Meta(max_length=60_000)]
    sent_at: _Count
    expire: _Expire = 0
    reply_to: Annotated[bytes, msgspec.Meta(max_length=ID_LEN)] = b""


class FileOffer(msgspec.Struct, frozen=True, tag="file", omit_defaults=True):
    """Announces a file whose chunks follow in ``FILE_CHUNK`` envelopes."""

    id: _Id
    file_id: _Id
    name: _Name
    size: _Count
    sha256: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    chunks: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    key: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    sent_at: _Count
    expire: _Expire = 0


class Receipt(msgspec.Struct, frozen=True, tag="receipt", omit_defaults=True):
    """The listed message ids were delivered (stored) on the receiver's device, or ``read``."""

    ids: Annotated[list[_Id], msgspec.Meta(max_length=MAX_RECEIPT_IDS)]
    read: bool = False


class Timer(msgspec.Struct, frozen=True, tag="timer"):
    """The conversation's default disappearing timer (seconds; 0 = off), set at ``set_at``."""

    seconds: _Expire
    set_at: _Count


class FileChunk(msgspec.Struct, frozen=True):
    """The body of a ``FILE_CHUNK`` envelope: one sealed piece of a file."""

    file_id: _Id
    index: _Count
    sealed: bytes


Content = Hello | Text | FileOffer | Receipt | Timer

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Content] = msgspec.msgpack.Decoder(Content)
_chunk_decoder = msgspec.msgpack.Decoder(FileChunk)


def encode(content: Content) -> bytes:
    """The wire form of a content object."""
    return _encoder.encode(content)


def decode(data: bytes) -> Content:
    """Parse content received from a peer.

    Raises:
        RemoteProtocolError: the bytes are not a known, well-formed content object.
    """
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed message content: {exc}") from exc


def encode_chunk(chunk: FileChunk) -> bytes:
    """The wire form of a file chunk envelope body."""
    return _encoder.encode(chunk)


def decode_chunk(data: bytes) -> FileChunk:
    """Parse a file chunk envelope body.

    Raises:
        RemoteProtocolError: the bytes are not a well-formed chunk.
    """
    try:
        return _chunk_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed file chunk: {exc}") from exc
