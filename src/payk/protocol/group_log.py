"""A group's membership: a hash-chained log of signed operations, replayed by every member.

Strategy: the roster is never sent as such; it is the result of applying, in order, every
operation of the log, each signed with its author's identity key (Ed25519) and naming the
hash of the one before. ``apply`` is a pure transition ``(GroupState, signed op) -> GroupState``
that refuses, with a ``RemoteProtocolError`` saying why, anything a member must not accept:
an op for another group, out of sequence or not chained to the head (replayed, reordered,
forked), a bad signature, or an author without the right role. The relay only stores the
log; it holds no key that signs an op, so it cannot add anyone.

Invariants (checked by ``apply``):

* op ``seq`` is ``0, 1, 2 ...``; ``prev`` is the hash of op ``seq - 1`` (zeros for create);
* exactly one owner, set by ``create`` (seq 0), never removed, never demoted;
* ``invite``, ``approve``, ``remove``, ``rekey`` need an admin or the owner; ``promote`` needs
  the owner; ``leave`` is signed by the member leaving (never the owner);
* ``create``, ``approve``, ``remove`` and ``rekey`` start epoch ``epoch + 1`` and carry a
  32-byte commitment to its epoch key; ``invite``, ``promote`` and ``leave`` keep the epoch
  (a ``leave`` sets ``rekey_due`` until an admin re-keys).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from payk.errors import DecryptionError, LocalProtocolError, RemoteProtocolError
from payk.protocol import primitives as p
from payk.protocol.identity import PUBLIC_IDENTITY_LEN, Identity, PublicIdentity

__all__ = [
    "ADMIN_ROLES",
    "GROUP_ID_LEN",
    "GroupState",
    "Member",
    "Op",
    "OpKind",
    "Role",
    "SignedOp",
    "apply",
    "decode_op",
    "decode_state",
    "encode_state",
    "member_key",
    "op_hash",
    "sign_op",
]

GROUP_ID_LEN = 16
_OP_LABEL = b"payk/v1/group/op"
_HASH_LABEL = b"payk/v1/group/op-hash"
_NO_HASH = bytes(32)

Role = Literal["owner", "admin", "member"]
OpKind = Literal["create", "invite", "approve", "remove", "promote", "leave", "rekey"]
ADMIN_ROLES: frozenset[str] = frozenset({"owner", "admin"})
_EPOCH_OPS = frozenset({"create", "approve", "remove", "rekey"})

_Bytes16 = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
_Bytes32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Member(msgspec.Struct, frozen=True):
    """One member: public identity, per-group X25519 key (for key wraps), name and role."""

    identity: Annotated[
        bytes, msgspec.Meta(min_length=PUBLIC_IDENTITY_LEN, max_length=PUBLIC_IDENTITY_LEN)
    ]
    x25519: _Bytes32
    name: _Name
    role: Role = "member"

    @property
    def key(self) -> bytes:
        """The member's Ed25519 identity key: how the log names them."""
        return member_key(self.identity)

    def public(self) -> PublicIdentity:
        """The parsed, validated public identity.

        Raises:
            RemoteProtocolError: the identity bytes are unusable.
        """
        return PublicIdentity.from_bytes(self.identity)


class Op(msgspec.Struct, frozen=True, kw_only=True):
    """A membership operation before signing (fields a kind does not use stay empty)."""

    group: _Bytes16
    seq: Annotated[int, msgspec.Meta(ge=0)]
    prev: _Bytes32
    kind: OpKind
    author: _Bytes32
    at: Annotated[int, msgspec.Meta(ge=0)]
    epoch: Annotated[int, msgspec.Meta(ge=0)]
    commit: bytes = b""
    member: Member | None = None
    target: bytes = b""
    role: Role = "member"
    invite: bytes = b""
    secret: bytes = b""
    name: str = ""


class SignedOp(msgspec.Struct, frozen=True):
    """An encoded ``Op`` and its author's signature over ``payk/v1/group/op | body``."""

    body: bytes
    sig: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


class GroupState(msgspec.Struct, frozen=True, kw_only=True):
    """The roster and log head after applying every op so far."""

    group: bytes
    name: str = ""
    seq: int = -1
    head: bytes = _NO_HASH
    epoch: int = 0
    members: dict[bytes, Member] = msgspec.field(default_factory=dict)
    invites: dict[bytes, bytes] = msgspec.field(default_factory=dict)
    commits: dict[int, bytes] = msgspec.field(default_factory=dict)
    epoch_authors: dict[int, bytes] = msgspec.field(default_factory=dict)
    rekey_due: bool = False

    def role_of(self, key: bytes) -> str | None:
        """The role of the member with Ed25519 key ``key``, or None for a non-member."""
        member = self.members.get(key)
        return member.role if member is not None else None

    def by_name(self, name: str) -> Member | None:
        """The member called ``name`` (names are unique within a group)."""
        return next((m for m in self.members.values() if m.name == name), None)


_encoder = msgspec.msgpack.Encoder()
_op_decoder = msgspec.msgpack.Decoder(Op)
_signed_decoder = msgspec.msgpack.Decoder(SignedOp)
_state_decoder = msgspec.msgpack.Decoder(GroupState)


def member_key(identity: bytes) -> bytes:
    """The Ed25519 key inside an encoded ``PublicIdentity``."""
    return bytes(identity[33:65])


def sign_op(identity: Identity, op: Op) -> bytes:
    """The wire form of ``op`` signed by ``identity`` (which must be ``op.author``).

    Raises:
        LocalProtocolError: the identity is not the op's author.
    """
    if identity.public.ed25519 != op.author:
        raise LocalProtocolError("an op is signed by its author")
    body = _encoder.encode(op)
    return _encoder.encode(SignedOp(body=body, sig=identity.sign(_OP_LABEL + body)))


def op_hash(signed: bytes) -> bytes:
    """The hash the next op names as ``prev``."""
    return p.sha256(_HASH_LABEL + signed)


def decode_op(signed: bytes) -> tuple[SignedOp, Op]:
    """Parse a signed op (the signature is checked by :func:`apply`).

    Raises:
        RemoteProtocolError: malformed bytes.
    """
    try:
        outer = _signed_decoder.decode(signed)
        return outer, _op_decoder.decode(outer.body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"a malformed membership operation: {exc}") from exc


def apply(state: GroupState, signed: bytes) -> tuple[GroupState, Op]:
    """Check one signed op against the state and return the state after it.

    Raises:
        RemoteProtocolError: the op must not be applied (the message says why).
    """
    outer, op = decode_op(signed)
    _check_position(state, op)
    author = op.member if op.kind == "create" else state.members.get(op.author)
    if author is None or author.key != op.author:
        raise RemoteProtocolError(f"a {op.kind} operation signed by someone not in the group")
    try:
        p.verify(op.author, _OP_LABEL + outer.body, outer.sig)
    except DecryptionError as exc:
        raise RemoteProtocolError(f"a {op.kind} operation with a forged signature") from exc
    _check_epoch(state, op)
    new = _RULES[op.kind](state, op)
    commits, authors = dict(new.commits), dict(new.epoch_authors)
    if op.kind in _EPOCH_OPS:
        commits[op.epoch], authors[op.epoch] = op.commit, op.author
    updated = msgspec.structs.replace(
        new,
        seq=op.seq,
        head=op_hash(signed),
        epoch=op.epoch,
        commits=commits,
        epoch_authors=authors,
    )
    return updated, op


def _check_position(state: GroupState, op: Op) -> None:
    if op.group != state.group:
        raise RemoteProtocolError("an operation of another group")
    if op.seq != state.seq + 1 or op.prev != state.head:
        raise RemoteProtocolError(
            f"operation {op.seq} does not follow operation {state.seq} "
            "(replayed, reordered or forked log)"
        )
    if (op.kind == "create") != (op.seq == 0):
        raise RemoteProtocolError("only the first operation creates the group")


def _check_epoch(state: GroupState, op: Op) -> None:
    if op.kind in _EPOCH_OPS:
        if op.epoch != state.epoch + 1 or len(op.commit) != 32:
            raise RemoteProtocolError(f"a {op.kind} operation must start the next epoch")
    elif op.epoch != state.epoch or op.commit:
        raise RemoteProtocolError(f"a {op.kind} operation must keep the epoch")


def _need_admin(state: GroupState, op: Op) -> None:
    if state.role_of(op.author) not in ADMIN_ROLES:
        raise RemoteProtocolError(f"a {op.kind} operation not signed by an admin")


def _create(state: GroupState, op: Op) -> GroupState:
    if op.member is None or op.member.role != "owner" or not op.name:
        raise RemoteProtocolError("a create operation must name the group and its owner")
    op.member.public()
    return msgspec.structs.replace(state, name=op.name, members={op.author: op.member})


def _invite(state: GroupState, op: Op) -> GroupState:
    _need_admin(state, op)
    if len(op.invite) != 16 or len(op.secret) != 32 or op.invite in state.invites:
        raise RemoteProtocolError("an invite operation needs a new invite id and its secret")
    return msgspec.structs.replace(state, invites={**state.invites, op.invite: op.secret})


def _approve(state: GroupState, op: Op) -> GroupState:
    _need_admin(state, op)
    member = op.member
    if member is None or member.role != "member" or op.invite not in state.invites:
        raise RemoteProtocolError("an approve operation needs a new member and an open invite")
    member.public()
    if member.key in state.members or state.by_name(member.name) is not None:
        raise RemoteProtocolError("an approve operation for someone already in the group")
    members = {**state.members, member.key: member}
    return msgspec.structs.replace(state, members=members, rekey_due=False)


def _remove(state: GroupState, op: Op) -> GroupState:
    _need_admin(state, op)
    target = state.role_of(op.target)
    if target is None or target == "owner":
        raise RemoteProtocolError("a remove operation for someone who cannot be removed")
    if target == "admin" and state.role_of(op.author) != "owner":
        raise RemoteProtocolError("only the owner removes an admin")
    members = {k: m for k, m in state.members.items() if k != op.target}
    return msgspec.structs.replace(state, members=members, rekey_due=False)


def _promote(state: GroupState, op: Op) -> GroupState:
    if state.role_of(op.author) != "owner":
        raise RemoteProtocolError("a promote operation not signed by the owner")
    member = state.members.get(op.target)
    if member is None or member.role == "owner" or op.role == "owner":
        raise RemoteProtocolError("a promote operation for someone who cannot take that role")
    members = {**state.members, op.target: msgspec.structs.replace(member, role=op.role)}
    return msgspec.structs.replace(state, members=members)


def _leave(state: GroupState, op: Op) -> GroupState:
    if op.target != op.author or state.role_of(op.author) in (None, "owner"):
        raise RemoteProtocolError("a leave operation must be signed by the member leaving")
    members = {k: m for k, m in state.members.items() if k != op.target}
    return msgspec.structs.replace(state, members=members, rekey_due=True)


def _rekey(state: GroupState, op: Op) -> GroupState:
    _need_admin(state, op)
    return msgspec.structs.replace(state, rekey_due=False)


_RULES = {
    "create": _create,
    "invite": _invite,
    "approve": _approve,
    "remove": _remove,
    "promote": _promote,
    "leave": _leave,
    "rekey": _rekey,
}


def encode_state(state: GroupState) -> bytes:
    """The stored form of a state."""
    return _encoder.encode(state)


def decode_state(data: bytes) -> GroupState:
    """Restore a state stored by :func:`encode_state`.

    Raises:
        RemoteProtocolError: the bytes are not a group state.
    """
    try:
        return _state_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError("a damaged group state") from exc
