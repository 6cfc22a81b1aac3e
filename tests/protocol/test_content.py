"""Message content: every kind round-trips; garbage is one clear RemoteProtocolError."""

from __future__ import annotations

import msgspec
import pytest

from payk.errors import RemoteProtocolError
from payk.protocol import content
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.content import FileChunk, FileOffer, Hello, MailboxRef, Receipt, Text

RELAY = RelayAddress(fingerprint=b"\x01" * 32, host="127.0.0.1", port=4433)
ID = b"\x07" * 16


@pytest.mark.parametrize(
    "item",
    [
        Hello(name="Alice", mailboxes=[MailboxRef.of(MailboxAddress(relay=RELAY, send_id=b"s"))]),
        Text(id=ID, text="salam", sent_at=1_700_000_000),
        FileOffer(
            id=ID,
            file_id=ID,
            name="a.jpg",
            size=3,
            sha256=b"\0" * 32,
            chunks=1,
            key=b"\1" * 32,
            sent_at=5,
        ),
        Receipt(ids=[ID, ID]),
    ],
)
def test_every_kind_round_trips(item: content.Content) -> None:
    assert content.decode(content.encode(item)) == item


def test_mailbox_ref_gives_back_the_address() -> None:
    address = MailboxAddress(relay=RELAY, send_id=b"send")
    assert MailboxRef.of(address).address() == address


def test_mailbox_ref_with_a_bad_relay_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError):
        MailboxRef(relay="http://nope", send_id=b"x").address()


def test_unknown_fields_are_skipped() -> None:
    raw = msgspec.msgpack.encode({"type": "text", "id": ID, "text": "hi", "sent_at": 1, "x": 2})
    assert content.decode(raw) == Text(id=ID, text="hi", sent_at=1)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode({"type": "group", "x": 1}),
        msgspec.msgpack.encode({"type": "text", "id": b"short", "text": "hi", "sent_at": 1}),
        msgspec.msgpack.encode({"type": "hello", "name": "", "mailboxes": []}),
        msgspec.msgpack.encode([1, 2, 3]),
    ],
)
def test_garbage_is_a_remote_protocol_error(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        content.decode(raw)


def test_chunk_round_trips_and_garbage_is_refused() -> None:
    chunk = FileChunk(file_id=ID, index=3, sealed=b"abc")
    assert content.decode_chunk(content.encode_chunk(chunk)) == chunk
    with pytest.raises(RemoteProtocolError):
        content.decode_chunk(b"\x93\x01")
