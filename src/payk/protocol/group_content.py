"""What a group Megolm message carries once decrypted: text, polls, votes and events.

Strategy: like ``payk.protocol.content``, each kind is a frozen msgspec Struct tagged with a
short name, encoded as MessagePack, decoded through one entry point that turns malformed
input into ``RemoteProtocolError``. Group content never travels through a pairwise session
and pairwise content never through Megolm, so the two unions are kept apart.

``GroupText.expire`` is a per-message disappearing timer (seconds each member's device keeps
it once stored; 0 = forever), omitted from the encoding when 0 so such messages encode as
before and older clients, which skip unknown fields, still read them. ``GroupTimer`` sets the
group's default timer: any member may post one; the latest ``set_at`` wins (ties: the longer
timer), so every member converges on the same setting whatever order the copies arrive in.

A poll's ``anonymous`` flag means the tally shows counts and not names: every vote is still a
Megolm message whose sender members can see (cryptographic anonymity is not claimed).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from payk.errors import RemoteProtocolError
from payk.protocol.content import MAX_EXPIRE

__all__ = [
    "Event",
    "GroupContent",
    "GroupItem",
    "GroupText",
    "GroupTimer",
    "Poll",
    "Vote",
    "decode",
    "decode_item",
    "encode",
]

_Id = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
_Short = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Expire = Annotated[int, msgspec.Meta(ge=0, le=MAX_EXPIRE)]


class GroupText(msgspec.Struct, frozen=True, tag="gtext", omit_defaults=True):
    """A text message to the group (``expire``: seconds it lives on each device once stored;
    0 = forever)."""

    id: _Id
    text: Annotated[str, msgspec.Meta(max_length=60_000)]
    sent_at: _Count
    expire: _Expire = 0


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


class GroupTimer(msgspec.Struct, frozen=True, tag="gtimer"):
    """The group's default disappearing timer (seconds; 0 = off), set at ``set_at``."""

    seconds: _Expire
    set_at: _Count


GroupContent = GroupText | Poll | Vote | Event  # messages, stored and shown
GroupItem = GroupContent | GroupTimer  # anything a group member may post

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[GroupItem] = msgspec.msgpack.Decoder(GroupItem)


def encode(item: GroupItem) -> bytes:
    """The wire form of a group content object."""
    return _encoder.encode(item)


def decode_item(data: bytes) -> GroupItem:
    """Parse anything a group member posts: content, or a setting such as ``GroupTimer``.

    Raises:
        RemoteProtocolError: not a known, well-formed group item.
    """
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed group content: {exc}") from exc


def decode(data: bytes) -> GroupContent:
    """Parse decrypted group content (a message; channel posts and stored rows).

    Raises:
        RemoteProtocolError: not a known, well-formed message (a ``GroupTimer`` is refused).
    """
    item = decode_item(data)
    if isinstance(item, GroupTimer):
        raise RemoteProtocolError("a group timer is not a message")
    return item
