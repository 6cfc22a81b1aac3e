"""One member's view of a group: feed entries in, events out; envelopes to append out.

Strategy: ``GroupMember`` is the whole group state machine of one profile, with no I/O.
The client feeds it every entry of the group's feed in feed order (``receive``) and appends
what ``send_text`` and the admin operations return; a profile never applies its own op
locally, it applies it when it reads it back from the feed, so every member (the author
included) reaches the same state from the same log, and a lost race for a log position is
simply a rejected op. Anything that must not be applied becomes a ``Rejected`` event with the
reason, never an exception and never a silent drop.

States: ``joining`` (only WRAP entries can be read: waiting for the welcome and the epoch key;
once both came, ``receive`` answers ``Rescan`` and the client replays the feed from 0),
``member``, ``removed``, ``left``. Invariants: an epoch key is used only after the op that
starts its epoch was applied and its commitment matched; a message is accepted only in the
current epoch, from a current member, through the session that member signed for that epoch,
with a Megolm index above every index seen from that session.
"""

from __future__ import annotations

import msgspec

from payk.errors import DecryptionError, LocalProtocolError, RemoteProtocolError, UsageError
from payk.protocol import group as g
from payk.protocol import group_log as log
from payk.protocol import primitives as p
from payk.protocol.group_events import (
    GroupEvent,
    JoinRequested,
    MembershipChanged,
    Received,
    Rejected,
    Rescan,
    Status,
)
from payk.protocol.group_log import GroupState, Member, Op, OpKind
from payk.protocol.identity import Identity

__all__ = [
    "MAX_CANDIDATES",
    "SEEN_WINDOW",
    "GroupEvent",
    "GroupMember",
    "JoinRequested",
    "MembershipChanged",
    "Received",
    "Rejected",
    "Rescan",
    "Status",
]

# Envelope ids remembered to refuse a replayed entry outright. Older replays are refused
# anyway: an op no longer chains, a Megolm index is not above the last one seen, a second
# session share for a sender and epoch is refused, and a known epoch key is ignored.
SEEN_WINDOW = 4096
# Keys a joiner cannot check yet (before it has read the log) are kept as candidates, so a
# forged welcome or key sent by someone holding the invite link cannot crowd out the real one.
MAX_CANDIDATES = 256


class _Inbound(msgspec.Struct, kw_only=True):
    session_id: str
    pickle: bytes
    last_index: int = -1


class _View(msgspec.Struct, kw_only=True):
    group: bytes
    genesis: bytes
    x25519: bytes
    status: Status = "joining"
    ready: bool = False
    epoch: int = 0
    epoch_keys: dict[int, bytes] = msgspec.field(default_factory=dict)
    verified: list[int] = msgspec.field(default_factory=list)
    log_keys: dict[int, list[bytes]] = msgspec.field(default_factory=dict)
    key_authors: dict[int, bytes] = msgspec.field(default_factory=dict)
    candidates: list[tuple[int, bytes, bytes]] = msgspec.field(default_factory=list)
    inbound: dict[str, _Inbound] = msgspec.field(default_factory=dict)
    outbound_epoch: int = -1
    outbound: bytes = b""
    requests: dict[bytes, log.Member] = msgspec.field(default_factory=dict)
    request_invites: dict[bytes, bytes] = msgspec.field(default_factory=dict)
    seen: list[bytes] = msgspec.field(default_factory=list)


_encoder = msgspec.msgpack.Encoder()
_view_decoder = msgspec.msgpack.Decoder(_View)


def _inbound_id(sender: bytes, epoch: int) -> str:
    return f"{sender.hex()}:{epoch}"


class GroupMember:
    """A profile's group state. ``pickle_key`` seals the Megolm sessions it holds."""

    def __init__(self, view: _View, pickle_key: bytes, roster: bytes = b"") -> None:
        self._v = view
        self._key = pickle_key
        self._seen = dict.fromkeys(view.seen)  # insertion-ordered: the newest last
        self._roster_raw = roster
        self._roster: GroupState | None = None
        self._dirty = False

    def _state(self) -> GroupState | None:
        if self._roster is None and self._roster_raw:
            self._roster = log.decode_state(self._roster_raw)
        return self._roster

    def _set_state(self, state: GroupState) -> None:
        self._roster, self._dirty, self._v.epoch = state, True, state.epoch

    # --- creating, storing -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        identity: Identity,
        *,
        name: str,
        member_name: str,
        now: int,
        pickle_key: bytes,
        group: bytes | None = None,
    ) -> tuple[GroupMember, list[bytes]]:
        """A new group owned by ``identity``: the member object and the entries to append."""
        group = group or p.random_bytes(log.GROUP_ID_LEN)
        x_private, x_public = p.x25519_generate()
        owner = Member(
            identity=identity.public.to_bytes(), x25519=x_public, name=member_name, role="owner"
        )
        epoch_key = p.random_bytes(32)
        op = Op(
            group=group,
            seq=0,
            prev=bytes(32),
            kind="create",
            author=owner.key,
            at=now,
            epoch=1,
            commit=g.commit(epoch_key, group, 1),
            member=owner,
            name=name,
        )
        signed = log.sign_op(identity, op)
        view = _View(
            group=group,
            genesis=log.op_hash(signed),
            x25519=x_private,
            epoch_keys={1: epoch_key},
            key_authors={1: owner.key},
            ready=True,
        )
        entry = g.seal_op(
            signed, epoch=1, log=g.log_key(epoch_key, group), group=group, envelope_id=_eid()
        )
        return cls(view, pickle_key), [entry]

    @classmethod
    def joining(cls, *, group: bytes, genesis: bytes, pickle_key: bytes) -> GroupMember:
        """A profile that asked to join and waits for its welcome."""
        x_private, _ = p.x25519_generate()
        return cls(_View(group=group, genesis=genesis, x25519=x_private), pickle_key)

    def to_parts(self) -> tuple[bytes, bytes | None]:
        """(keys and sessions, roster or None if unchanged since loading): what to store.

        The roster grows with the group and changes only with ops, so a send or a message
        received rewrites the small first part only. Megolm sessions are pickled inside.
        """
        self._v.seen = list(self._seen)[-SEEN_WINDOW:]
        roster = None
        if self._dirty and self._roster is not None:
            roster = self._roster_raw = log.encode_state(self._roster)
            self._dirty = False
        return _encoder.encode(self._v), roster

    def roster_bytes(self) -> bytes:
        """The stored form of the roster (empty before the first op)."""
        self.to_parts()
        return self._roster_raw

    def to_bytes(self) -> bytes:
        """Everything in one piece (see :meth:`to_parts` for the split the client stores)."""
        core, _ = self.to_parts()
        return _encoder.encode((core, self._roster_raw))

    @classmethod
    def from_bytes(cls, data: bytes, pickle_key: bytes) -> GroupMember:
        """Restore what :meth:`to_bytes` stored.

        Raises:
            RemoteProtocolError: damaged data.
        """
        try:
            core, roster = msgspec.msgpack.decode(data, type=tuple[bytes, bytes])
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise RemoteProtocolError("a damaged group record") from exc
        return cls.from_parts(core, roster, pickle_key)

    @classmethod
    def from_parts(cls, core: bytes, roster: bytes, pickle_key: bytes) -> GroupMember:
        """Restore what :meth:`to_parts` stored (the roster is decoded when first needed).

        Raises:
            RemoteProtocolError: damaged data.
        """
        try:
            return cls(_view_decoder.decode(core), pickle_key, roster)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise RemoteProtocolError("a damaged group record") from exc

    # --- what the client asks ----------------------------------------------------------------

    @property
    def group(self) -> bytes:
        """The group id."""
        return self._v.group

    @property
    def genesis(self) -> bytes:
        """The hash of the create op (links carry it, so joiners know the log's root)."""
        return self._v.genesis

    @property
    def status(self) -> Status:
        """``joining``, ``member``, ``removed`` or ``left``."""
        return self._v.status

    @property
    def state(self) -> GroupState | None:
        """The verified roster and log head, once the first op was applied."""
        return self._state()

    @property
    def requests(self) -> dict[bytes, Member]:
        """Join requests not yet approved, by member key."""
        return dict(self._v.requests)

    def x25519_public(self) -> bytes:
        """Our per-group X25519 key, which admins wrap epoch keys to."""
        return p.x25519_public(self._v.x25519)

    # --- receiving ---------------------------------------------------------------------------

    def receive(self, identity: Identity, data: bytes) -> list[GroupEvent]:
        """Process one feed entry, in feed order; never raises for bad input."""
        try:
            entry = g.read_entry(data)
        except RemoteProtocolError as exc:
            return [Rejected(reason=f"a malformed feed entry ({exc})")]
        eid = entry.envelope.envelope_id
        if eid in self._seen:
            return [Rejected(reason="a replayed feed entry")]
        self._seen[eid] = None
        try:
            return self._dispatch(identity, entry)
        except DecryptionError:
            return self._unreadable(entry)
        except RemoteProtocolError as exc:
            return [Rejected(reason=str(exc))]

    def _unreadable(self, entry: g.Entry) -> list[GroupEvent]:
        if self._v.status != "member" or entry.type is g.EntryType.JOIN:
            return []  # not ours to read: before we joined, or a request for another admin
        return [
            Rejected(reason=f"a feed entry ({entry.type.name.lower()}) that does not authenticate")
        ]

    def _dispatch(self, identity: Identity, entry: g.Entry) -> list[GroupEvent]:
        if entry.type is g.EntryType.WRAP:
            return self._wrap(identity, entry)
        if not self._v.ready or (self._v.status != "member" and entry.type is not g.EntryType.OP):
            return []
        handler = {
            g.EntryType.OP: self._op,
            g.EntryType.JOIN: self._join,
            g.EntryType.SHARE: self._share,
            g.EntryType.MESSAGE: self._message,
        }[entry.type]
        return handler(identity, entry)

    def _log_keys(self, epoch: int) -> list[bytes]:
        key = self._epoch_key(epoch, verified=False)
        derived = [g.log_key(key, self._v.group)] if key is not None else []
        return derived + [k for k in self._v.log_keys.get(epoch, []) if k not in derived]

    def _log_key(self, epoch: int) -> bytes | None:
        keys = self._log_keys(epoch)
        return keys[0] if keys else None

    def _open_op(self, entry: g.Entry) -> bytes:
        for key in self._log_keys(entry.epoch):
            try:
                signed = g.open_op(entry, log=key, group=self._v.group)
            except DecryptionError:
                continue
            known = self._v.log_keys.setdefault(entry.epoch, [])
            known[:] = [key, *(k for k in known if k != key)]  # the key that works goes first
            return signed
        raise DecryptionError()

    def _epoch_key(self, epoch: int, *, verified: bool = True) -> bytes | None:
        if verified and epoch not in self._v.verified:
            return None
        return self._v.epoch_keys.get(epoch)

    def _op(self, identity: Identity, entry: g.Entry) -> list[GroupEvent]:
        state = self._state()
        expected = 1 if state is None else state.epoch
        if entry.epoch != expected:
            return [Rejected(reason=f"an operation sealed in epoch {entry.epoch}, not {expected}")]
        signed = self._open_op(entry)
        if state is None:
            if not p.constant_time_equal(log.op_hash(signed), self._v.genesis):
                return [Rejected(reason="a first operation that is not this group's creation")]
            state = GroupState(group=self._v.group)
        author = state.members.get(log.decode_op(signed)[1].author)
        new, op = log.apply(state, signed)
        self._set_state(new)
        self._after_op(identity, op, new)
        name = (author or op.member or Member(identity=b"", x25519=b"", name="?")).name
        return [MembershipChanged(op=op, author=name)]

    def _after_op(self, identity: Identity, op: Op, state: GroupState) -> None:
        me = identity.public.ed25519
        if op.epoch in state.commits and op.epoch not in self._v.verified:
            self._check_epoch_key(op.epoch)
        if op.member is not None:
            self._v.requests.pop(op.member.key, None)
        if me in state.members:
            self._v.status = "member"
        elif self._v.status == "member":
            self._v.status = "left" if op.kind == "leave" else "removed"
            self._forget_keys()

    def _check_epoch_key(self, epoch: int) -> None:
        """Keep the one key for ``epoch`` that its op's author sent and its op commits to."""
        state = self._state()
        if state is None or epoch not in state.commits:
            return
        options = [(a, k) for e, a, k in self._v.candidates if e == epoch]
        if epoch in self._v.epoch_keys:
            options.insert(0, (self._v.key_authors.get(epoch, b""), self._v.epoch_keys[epoch]))
        self._v.epoch_keys.pop(epoch, None)
        self._v.candidates = [c for c in self._v.candidates if c[0] != epoch]
        for author, key in options:
            if author == state.epoch_authors.get(epoch) and p.constant_time_equal(
                g.commit(key, self._v.group, epoch), state.commits[epoch]
            ):
                self._v.epoch_keys[epoch], self._v.key_authors[epoch] = key, author
                self._v.verified.append(epoch)
                return

    def _forget_keys(self) -> None:
        self._v.epoch_keys.clear()
        self._v.verified.clear()
        self._v.outbound, self._v.outbound_epoch = b"", -1

    def _wrap(self, identity: Identity, entry: g.Entry) -> list[GroupEvent]:
        payload = g.open_wrap(entry, identity, self._v.x25519, group=self._v.group)
        if payload is None:
            return []
        state = self._state()
        if state is not None and self._v.status == "member":
            author = state.members.get(payload.author)
            if author is None:
                return [Rejected(reason="a key from someone not in the group")]
            author.public().verify(payload.signed_part(), payload.sig)
        if payload.purpose == "welcome":
            new = False
            for epoch, key in payload.log_keys.items():
                keys = self._v.log_keys.setdefault(epoch, [])
                if key not in keys and len(keys) < MAX_CANDIDATES:
                    keys.append(key)
                    new = True
            return self._maybe_rescan(new)
        return self._epoch_wrap(payload)

    def _epoch_wrap(self, payload: g.WrapPayload) -> list[GroupEvent]:
        state, epoch = self._state(), payload.epoch
        if state is not None and epoch in state.commits:
            if payload.author != state.epoch_authors.get(epoch):
                return [
                    Rejected(reason=f"a key for epoch {epoch} from someone who did not start it")
                ]
            if epoch in self._v.verified:
                return []
            self._v.epoch_keys[epoch], self._v.key_authors[epoch] = payload.key, payload.author
            self._check_epoch_key(epoch)
            if epoch not in self._v.verified:
                return [Rejected(reason=f"a key for epoch {epoch} that does not match its op")]
            return []
        candidate = (epoch, payload.author, payload.key)
        new = candidate not in self._v.candidates and len(self._v.candidates) < MAX_CANDIDATES
        if new:  # checked once the op that starts the epoch is read
            self._v.candidates.append(candidate)
        return self._maybe_rescan(new)

    def _maybe_rescan(self, new: bool) -> list[GroupEvent]:
        """While joining, new key material means reading the log again from its start."""
        joining = self._v.status == "joining"
        if joining and new and self._v.log_keys and self._v.candidates:
            self._v.ready = True
            self._seen.clear()
            return [Rescan()]
        return []

    def _join(self, identity: Identity, entry: g.Entry) -> list[GroupEvent]:
        state = self._state()
        if state is None or state.role_of(identity.public.ed25519) not in log.ADMIN_ROLES:
            return []
        request = g.open_join(entry, state.invites, group=self._v.group)
        member = request.member
        if member.key in state.members:
            return []
        self._v.requests[member.key] = member
        self._v.request_invites[member.key] = request.invite
        return [JoinRequested(member=member, invite=request.invite)]

    def _current(self, entry: g.Entry, what: str) -> tuple[GroupState, bytes] | Rejected:
        state = self._state()
        key = self._epoch_key(entry.epoch)
        if state is None or key is None:
            raise DecryptionError()
        if entry.epoch != state.epoch:
            return Rejected(
                reason=f"a {what} of epoch {entry.epoch}, which is closed "
                f"(the group is at epoch {state.epoch})"
            )
        return state, key

    def _share(self, identity: Identity, entry: g.Entry) -> list[GroupEvent]:
        current = self._current(entry, "session key")
        if isinstance(current, Rejected):
            return [current]
        state, key = current
        share = g.open_share(entry, share=g.share_key(key, self._v.group), group=self._v.group)
        sender = state.members.get(share.sender)
        if sender is None:
            return [Rejected(reason="a session key from someone not in the group")]
        sender.public().verify(share.signed_part(), share.sig)
        slot = _inbound_id(share.sender, entry.epoch)
        if slot in self._v.inbound:
            return [Rejected(reason=f"a second session key from {sender.name} in one epoch")]
        inbound = p.MegolmInbound.from_session_key(share.session_key)
        self._v.inbound[slot] = _Inbound(
            session_id=inbound.session_id, pickle=inbound.pickle(self._key)
        )
        return []

    def _message(self, identity: Identity, entry: g.Entry) -> list[GroupEvent]:
        current = self._current(entry, "message")
        if isinstance(current, Rejected):
            return [current]
        state, key = current
        base = g.message_key(key, self._v.group)
        sender_key, session_id, megolm = g.open_message(entry, message=base, group=self._v.group)
        sender = state.members.get(sender_key)
        if sender is None:
            return [Rejected(reason="a message from someone not in the group")]
        slot = self._v.inbound.get(_inbound_id(sender_key, entry.epoch))
        if slot is None or slot.session_id != session_id:
            return [
                Rejected(
                    reason=f"a message in {sender.name}'s name through a session they never shared"
                )
            ]
        inbound = p.MegolmInbound.from_pickle(slot.pickle, self._key)
        try:
            plaintext, index = inbound.decrypt(megolm)
        except DecryptionError:
            return [Rejected(reason=f"a message in {sender.name}'s name that they did not sign")]
        if index <= slot.last_index:
            return [Rejected(reason=f"a replayed or reordered message from {sender.name}")]
        slot.last_index = index
        return [
            Received(
                sender=sender_key,
                name=sender.name,
                plaintext=plaintext,
                epoch=entry.epoch,
                index=index,
            )
        ]

    # --- sending -----------------------------------------------------------------------------

    def send(self, identity: Identity, plaintext: bytes) -> list[bytes]:
        """The entries that carry ``plaintext`` (a session share first, once per epoch).

        Raises:
            LocalProtocolError: we are not a member, or the epoch key has not arrived yet.
        """
        epoch = self._v.epoch  # the roster is not needed to send: it stays undecoded
        key = self._epoch_key(epoch)
        if key is None or self._v.status != "member":
            raise LocalProtocolError("not a member of this group (yet), or its key is pending")
        entries = []
        if self._v.outbound_epoch != epoch:
            session = p.MegolmOutbound()
            entries.append(
                g.seal_share(
                    identity,
                    session.session_key,
                    epoch=epoch,
                    share=g.share_key(key, self._v.group),
                    group=self._v.group,
                    envelope_id=_eid(),
                )
            )
        else:
            session = p.MegolmOutbound.from_pickle(self._v.outbound, self._key)
        megolm = session.encrypt(plaintext)
        self._v.outbound, self._v.outbound_epoch = session.pickle(self._key), epoch
        entries.append(
            g.seal_message(
                identity.public.ed25519,
                session.session_id,
                megolm,
                epoch=epoch,
                message=g.message_key(key, self._v.group),
                group=self._v.group,
                envelope_id=_eid(),
            )
        )
        return entries

    def join_request(self, identity: Identity, *, name: str, invite: bytes, secret: bytes) -> bytes:
        """The JOIN entry asking the admins to let us in."""
        member = Member(identity=identity.public.to_bytes(), x25519=self.x25519_public(), name=name)
        return g.seal_join(
            identity, member, group=self._v.group, invite=invite, secret=secret, envelope_id=_eid()
        )

    def operate(
        self,
        identity: Identity,
        kind: OpKind,
        *,
        now: int,
        member: Member | None = None,
        target: bytes = b"",
        invite: bytes = b"",
        secret: bytes = b"",
        role: log.Role = "member",
    ) -> list[bytes]:
        """Entries for one op by us (and, if it starts an epoch, the key wraps after it).

        Raises:
            LocalProtocolError: we are not a member.
            RemoteProtocolError: the op would be refused (the message says why).
        """
        state = self._state()
        log_key = self._log_key(state.epoch) if state is not None else None
        if state is None or log_key is None or self._v.status != "member":
            raise LocalProtocolError("not a member of this group")
        starts = kind in ("approve", "remove", "rekey")
        epoch = state.epoch + 1 if starts else state.epoch
        epoch_key = p.random_bytes(32)
        op = Op(
            group=self._v.group,
            seq=state.seq + 1,
            prev=state.head,
            kind=kind,
            author=identity.public.ed25519,
            at=now,
            epoch=epoch,
            commit=g.commit(epoch_key, self._v.group, epoch) if starts else b"",
            member=member,
            target=target,
            invite=invite,
            secret=secret,
            role=role,
        )
        signed = log.sign_op(identity, op)
        after, _ = log.apply(state, signed)
        entries = [
            g.seal_op(
                signed, epoch=state.epoch, log=log_key, group=self._v.group, envelope_id=_eid()
            )
        ]
        if starts:
            self._v.epoch_keys[epoch], self._v.key_authors[epoch] = epoch_key, op.author
            entries += self._wraps(identity, after, epoch, epoch_key, member)
        return entries

    def invite(self, identity: Identity, *, now: int) -> tuple[bytes, bytes, list[bytes]]:
        """A new invite: (invite id, secret, entries to append)."""
        invite, secret = p.random_bytes(16), p.random_bytes(32)
        return (
            invite,
            secret,
            self.operate(identity, "invite", now=now, invite=invite, secret=secret),
        )

    def approve(self, identity: Identity, name: str, *, now: int) -> list[bytes]:
        """Approve the pending request of ``name``.

        Raises:
            UsageError: nobody of that name asked to join.
        """
        member = next((m for m in self._v.requests.values() if m.name == name), None)
        if member is None:
            raise UsageError(f"nobody called {name!r} asked to join")
        invite = self._v.request_invites.get(member.key, b"")
        return self.operate(identity, "approve", now=now, member=member, invite=invite)

    def remove(self, identity: Identity, name: str, *, now: int) -> list[bytes]:
        """Remove the member called ``name`` and re-key.

        Raises:
            UsageError: no member of that name.
        """
        state = self._state()
        member = state.by_name(name) if state is not None else None
        if member is None:
            raise UsageError(f"there is no member called {name!r}")
        return self.operate(identity, "remove", now=now, target=member.key)

    def _wraps(
        self,
        identity: Identity,
        after: GroupState,
        epoch: int,
        epoch_key: bytes,
        new_member: Member | None,
    ) -> list[bytes]:
        author = identity.public.ed25519
        payload = g.WrapPayload(
            purpose="epoch", group=self._v.group, epoch=epoch, author=author, key=epoch_key
        )
        recipients = list(after.members.values())
        count = -(-len(recipients) // g.MAX_WRAPS)
        entries = g.seal_wraps(
            identity, payload, recipients, envelope_ids=[_eid() for _ in range(count)]
        )
        if new_member is not None:
            welcome = g.WrapPayload(
                purpose="welcome",
                group=self._v.group,
                epoch=epoch,
                author=author,
                log_keys=self._all_log_keys(epoch),
            )
            entries += g.seal_wraps(identity, welcome, [new_member], envelope_ids=[_eid()])
        return entries

    def _all_log_keys(self, below: int) -> dict[int, bytes]:
        keys = {}
        for epoch in range(1, below):
            key = self._log_key(epoch)
            if key is not None:
                keys[epoch] = key
        return keys


def _eid() -> bytes:
    return p.random_bytes(16)
