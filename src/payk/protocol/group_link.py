"""Group invite links: where the group's feed is and how to ask its admins to be let in.

Strategy: a link is ``payk:group`` followed by base64url of a MessagePack ``GroupLink``: the
relay and feed id of the group's feed, the feed's writer key (so the joiner can append its
request), the group id and the hash of its create op (the root the joiner checks the whole
membership log against), and an invite id and secret (which seal the request so only the
group's admins read it). ``mirrors`` lists further copies of the feed on other relays (relay,
feed id, writer key each); links without it (older ones) name one feed. A link alone lets
nobody in: an admin must sign an approval.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from payk.errors import InvitationError, UsageError
from payk.protocol.address import RelayAddress, b64u_decode, b64u_encode

__all__ = [
    "GROUP_LINK_PREFIX",
    "MAX_MIRRORS",
    "FeedPlace",
    "GroupLink",
    "decode_group_link",
    "encode_group_link",
]

GROUP_LINK_PREFIX = "payk:group"
_MAX_LINK_CHARS = 4000
MAX_MIRRORS = 3

_B16 = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
_B32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]


class FeedPlace(msgspec.Struct, frozen=True, kw_only=True):
    """A further copy of the group's feed: on which relay, its id and its writer key."""

    relay: Annotated[str, msgspec.Meta(max_length=1000)]
    feed: Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]
    writer: _B32


class GroupLink(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a group invite link carries."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    relay: Annotated[str, msgspec.Meta(max_length=1000)]
    feed: Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]
    writer: _B32
    group: _B16
    genesis: _B32
    invite: _B16
    secret: _B32
    mirrors: Annotated[list[FeedPlace], msgspec.Meta(max_length=MAX_MIRRORS)] = []


def encode_group_link(link: GroupLink) -> str:
    """The text form of a group invite link."""
    return GROUP_LINK_PREFIX + b64u_encode(msgspec.msgpack.encode(link))


def decode_group_link(text: str) -> GroupLink:
    """Parse a group invite link typed or pasted by a person.

    Raises:
        InvitationError: garbled, truncated or not a group link.
    """
    text = "".join(text.split())
    if not text.startswith(GROUP_LINK_PREFIX) or len(text) > _MAX_LINK_CHARS:
        raise InvitationError("this is not a payk group link")
    try:
        link = msgspec.msgpack.decode(b64u_decode(text[len(GROUP_LINK_PREFIX) :]), type=GroupLink)
        for relay in [link.relay, *(m.relay for m in link.mirrors)]:
            RelayAddress.parse(relay)
    except (ValueError, UsageError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvitationError("the group link is garbled or incomplete") from exc
    return link
