"""What ``GroupMember.receive`` reports: frozen events, for what an entry did or why it was refused.

Strategy: like every payk layer, the group state machine answers with events instead of
callbacks or exceptions; the client turns ``Received`` into stored messages and every
``Rejected`` into a warning, so nothing bad passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from payk.protocol.group_log import Member, Op

__all__ = [
    "GroupEvent",
    "JoinRequested",
    "MembershipChanged",
    "Received",
    "Rejected",
    "Rescan",
    "Status",
]

Status = Literal["joining", "member", "removed", "left"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A Megolm message from a member, decrypted and authenticated."""

    sender: bytes
    name: str
    plaintext: bytes
    epoch: int
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipChanged:
    """An op was applied (its author's name resolved at that point)."""

    op: Op
    author: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequested:
    """Someone with an invite link asks to join (admins see these)."""

    member: Member
    invite: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """An entry that was refused, and why."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rescan:
    """The welcome and the epoch key arrived: read the feed again from its start."""


GroupEvent = Received | MembershipChanged | JoinRequested | Rejected | Rescan
