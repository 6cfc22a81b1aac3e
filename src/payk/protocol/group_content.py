"""What a group Megolm message carries once decrypted: text, polls, votes and events.

Strategy: like ``payk.protocol.content``, each kind is a frozen msgspec Struct tagged with a
short name, encoded as MessagePack, decoded through one entry point that turns malformed
input into ``RemoteProtocolError``. Group content never travels through a pairwise session
and pairwise content never through Megolm, so the two unions are kept apart.

A poll's ``anonymous`` flag means the tally shows counts and not names: every vote is still a
Megolm message whose sender members can see (cryptographic anonymity is not claimed).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from payk.errors import RemoteProtocolError

__all__ = ["Event", "GroupContent", "GroupText", "Poll", "Vote", "decode", "encode"]

_Id = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
_Short = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class GroupText(msgspec.Struct, frozen=True, tag="gtext"):
    """A text message to the group."""

    id: _Id
    text: Annotated[str, msgspec.Meta(max_length=60_000)]
    sent_at: _Count


class Poll(msgspec.Struct, frozen=True, tag="poll"):
    """A question with options; members answer with ``Vote``."""

    id: _Id
    question: _Short
    options: Annotated[list[_Short], msgspec.Meta(min_length=2, max_length=20)]
    anonymous: bool
    sent_at: _Count


class Vote(msgspec.Struct, frozen=True, tag="vote"):
    """One member's answer to a poll (a later vote replaces an earlier one)."""

    id: _Id
    poll: _Id
    choice: Annotated[int, msgspec.Meta(ge=0, lt=20)]
    sent_at: _Count


class Event(msgspec.Struct, frozen=True, tag="event"):
    """A meeting or action: title, start time, place and when to remind."""

    id: _Id
    title: _Short
    starts_at: _Count
    place: Annotated[str, msgspec.Meta(max_length=500)]
    remind_at: _Count
    sent_at: _Count


GroupContent = GroupText | Poll | Vote | Event

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[GroupContent] = msgspec.msgpack.Decoder(GroupContent)


def encode(item: GroupContent) -> bytes:
    """The wire form of a group content object."""
    return _encoder.encode(item)


def decode(data: bytes) -> GroupContent:
    """Parse decrypted group content.

    Raises:
        RemoteProtocolError: not a known, well-formed group content object.
    """
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed group content: {exc}") from exc
