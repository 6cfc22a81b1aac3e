"""Pairwise sessions: a vodozemac Olm session inside a hybrid post-quantum outer layer.

Strategy: Olm (3DH + Double Ratchet) provides authentication, forward secrecy and
post-compromise security against classical attackers; every Olm message is sealed again with
ChaCha20-Poly1305 under a one-use key from an epoch key that ML-KEM-768 feeds (see
``epoch.py`` for the key schedule and ``outer.py`` for the byte layouts). Reading a message
needs both the X25519-based Olm keys and the ML-KEM-based epoch key.

States and invariants (the full construction is in docs/protocol.md):

* The invitee (``accept``) starts ``awaiting_reply``: every envelope it seals is a HANDSHAKE
  carrying the ML-KEM ciphertext, its identity (hidden under the handshake key) and an Olm
  pre-key message. The first message it opens from the inviter ends that state.
* The inviter (``respond``) attaches its full identity to what it seals until it opens a
  PAIRWISE envelope from the invitee (which proves the invitee has it).
* Rotation: when the current epoch is old (``epoch_messages`` or ``epoch_seconds``) a side
  attaches a fresh ML-KEM encapsulation key (a *proposal*) to what it seals. The peer answers
  by encapsulating, moving to epoch n+1 and carrying the ciphertext in the cleartext header of
  everything it seals until it opens a message of n+1. Two crossing proposals: the one whose
  key has the smaller SHA-256 wins on both sides. Retired epochs are erased ``grace_seconds``
  after retirement; the current epoch never is.
* ``open`` works on a copy of the state and commits only after everything succeeded, Olm
  decryption last (a failed Olm decrypt leaves the Olm session as it was, see
  ``primitives.OlmSession``): a failure changes nothing.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

import msgspec

from payk.errors import (
    DecryptionError,
    LocalProtocolError,
    RemoteProtocolError,
    ReplayError,
    UsageError,
)
from payk.protocol import envelope as env
from payk.protocol import epoch as ep
from payk.protocol import outer
from payk.protocol import pairwise_state as st
from payk.protocol import primitives as p
from payk.protocol.identity import Identity, IdentityKeys, PublicIdentity
from payk.protocol.invite import Invitation, InvitationSecret

__all__ = [
    "MAX_PLAINTEXT",
    "PairwiseSession",
    "SessionConfig",
    "handshake_invite_id",
    "is_handshake",
]

MAX_PLAINTEXT = 61440
_STATE_VERSION = 1
_IDENTITIES_VERSION = 2  # to_parts: the identities a session was made with
_RATCHET_VERSION = 3  # to_parts: everything else, Olm pickle as raw bytes
_SIGN_LABEL = b"payk/v1/pairwise/handshake-signature"
_STORAGE_LABEL = b"payk/v1/pairwise/storage"
_PICKLE_LABEL = b"payk/v1/pairwise/storage-pickle"
_MAX_COUNTER = 0xFFFFFFFF  # counters travel as u32


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """When epochs rotate and how much lateness and skipping a session tolerates.

    ``epoch_messages`` (sent and received) or ``epoch_seconds`` since the epoch began start a
    rotation. A retired epoch's key is erased ``grace_seconds`` after retirement, or earlier
    when more than ``max_retired`` newer retired epochs exist. ``max_skip`` bounds how far
    ahead of the highest counter seen a message may claim to be (Olm allows 2000).
    """

    epoch_messages: int = 100
    epoch_seconds: int = 24 * 3600
    grace_seconds: int = 7 * 24 * 3600
    max_retired: int = 8
    max_skip: int = 1000

    def __post_init__(self) -> None:
        if min(self.epoch_messages, self.epoch_seconds, self.max_skip) < 1:
            raise UsageError("epoch limits and max_skip must be positive")
        if self.grace_seconds < 0 or self.max_retired < 0 or self.max_skip > 2000:
            raise UsageError("grace and max_retired cannot be negative; max_skip is at most 2000")


class _Stored(msgspec.Struct):
    version: int
    state: st.SessionState
    olm: bytes


class _Identities(msgspec.Struct, array_like=True):
    own: bytes
    peer_keys: bytes
    peer: bytes | None


def is_handshake(envelope: bytes) -> bool:
    """Whether ``envelope`` is a HANDSHAKE (an answer to one of this profile's invitations)."""
    return len(envelope) > 1 and envelope[0] == env.VERSION and envelope[1] == env.Kind.HANDSHAKE


def handshake_invite_id(envelope: bytes) -> bytes:
    """The invite id a HANDSHAKE envelope answers, to find the matching ``InvitationSecret``.

    Raises:
        RemoteProtocolError: not a well-formed handshake envelope.
    """
    return outer.read_handshake_header(env.unpack(envelope)).invite_id


class PairwiseSession:
    """One side of a conversation with one contact."""

    __slots__ = ("_config", "_olm", "_state", "_stored_identities")

    def __init__(self, state: st.SessionState, olm: p.OlmSession, config: SessionConfig) -> None:
        self._state = state
        self._olm = olm
        self._config = config
        self._stored_identities: _Identities | None = None  # as to_parts last gave or took them

    # --- creation ------------------------------------------------------------------------------

    @classmethod
    def accept(
        cls,
        identity: Identity,
        invitation: Invitation,
        *,
        now: int,
        config: SessionConfig = SessionConfig(),
    ) -> PairwiseSession:
        """The invitee's side, after ``decode_link``; its first envelopes are handshakes.

        Raises:
            UsageError: the invitation is this profile's own.
        """
        if invitation.inviter == identity.public.keys:
            raise UsageError("this is your own invitation")
        shared, ciphertext = p.kem_encap(invitation.kem_key)
        return cls._accept_from_parts(identity, invitation, shared, ciphertext, now, config)

    @classmethod
    def _accept_from_parts(
        cls,
        identity: Identity,
        invitation: Invitation,
        shared: bytes,
        ciphertext: bytes,
        now: int,
        config: SessionConfig,
    ) -> PairwiseSession:
        own = identity.public.to_bytes()
        th0 = ep.transcript_0(invitation.digest, ciphertext)
        th1 = ep.transcript_1(th0, own)
        handshake = st.HandshakeState(
            invite_id=invitation.invite_id,
            kem_ciphertext=ciphertext,
            key=ep.handshake_key(shared, th0),
            signature=identity.sign(_SIGN_LABEL + th1),
        )
        state = st.SessionState(
            initiator=True,
            own=own,
            peer_keys=invitation.inviter.to_bytes(),
            peer=None,
            current=0,
            epochs={0: ep.Epoch(key=ep.epoch_zero_key(shared, th1), started_at=now)},
            handshake=handshake,
            awaiting_reply=True,
            send_identity=False,
        )
        olm = identity.account.outbound(invitation.inviter.curve25519, invitation.one_time_key)
        return cls(state, olm, config)

    @classmethod
    def respond(
        cls,
        identity: Identity,
        secret: InvitationSecret,
        envelope: bytes,
        *,
        now: int,
        config: SessionConfig = SessionConfig(),
    ) -> tuple[PairwiseSession, bytes]:
        """The inviter's side: open the first handshake that answers ``secret``'s invitation.

        Mutates ``identity`` (the Olm one-time key is consumed): the caller persists it.

        Raises:
            RemoteProtocolError: not a handshake, or one for another invitation.
            ReplayError: the handshake claims a position too far ahead.
            DecryptionError: it does not authenticate, or the one-time key was used already.
        """
        envelope_ = env.unpack(envelope)
        header = outer.read_handshake_header(envelope_)
        if header.invite_id != secret.invite_id:
            raise RemoteProtocolError("this handshake answers another invitation")
        first = ep.Epoch(key=b"", started_at=now)
        ep.check_counter(first, header.counter, max_skip=config.max_skip)
        shared = secret.kem_decap(header.kem_ciphertext)
        th0 = ep.transcript_0(secret.invitation.digest, header.kem_ciphertext)
        hs_key = ep.handshake_key(shared, th0)
        msg_key = ep.handshake_message_key(hs_key, envelope_.envelope_id, header.counter)
        inner = outer.open_handshake(envelope_, key=msg_key)
        th1 = ep.transcript_1(th0, inner.identity)
        peer = _invitee_identity(identity, inner, th1)
        olm, plaintext = identity.account.inbound(peer.curve25519, inner.olm_type, inner.olm)
        first.key = ep.epoch_zero_key(shared, th1)
        ep.commit_counter(first, header.counter)
        state = st.SessionState(
            initiator=False,
            own=identity.public.to_bytes(),
            peer_keys=peer.keys.to_bytes(),
            peer=inner.identity,
            current=0,
            epochs={0: first},
            handshake=st.HandshakeState(
                invite_id=header.invite_id,
                kem_ciphertext=header.kem_ciphertext,
                key=hs_key,
                signature=b"",
            ),
            awaiting_reply=False,
            send_identity=True,
        )
        return cls(state, olm, config), plaintext

    # --- what the caller sees ------------------------------------------------------------------

    @property
    def peer(self) -> PublicIdentity:
        """The contact's full public identity.

        Raises:
            LocalProtocolError: the invitee has not yet opened the inviter's first reply,
                which carries the inviter's ML-KEM key (use ``peer_keys`` until then).
        """
        if self._state.peer is None:
            raise LocalProtocolError("the contact's full identity arrives with its first reply")
        return PublicIdentity.from_bytes(self._state.peer)

    @property
    def peer_keys(self) -> IdentityKeys:
        """The contact's two Olm identity keys (known from the start, on both sides)."""
        return IdentityKeys(
            curve25519=self._state.peer_keys[:32], ed25519=self._state.peer_keys[32:]
        )

    @property
    def peer_known(self) -> bool:
        """Whether ``peer`` is available."""
        return self._state.peer is not None

    @property
    def awaiting_reply(self) -> bool:
        """Whether this side (the invitee) still sends handshakes."""
        return self._state.awaiting_reply

    @property
    def epoch(self) -> int:
        """The number of the epoch this side currently seals with."""
        return self._state.current

    @property
    def epochs_kept(self) -> tuple[int, ...]:
        """The epochs whose keys are still held (the current one and those in grace)."""
        return tuple(sorted(self._state.epochs))

    # --- sealing -------------------------------------------------------------------------------

    def seal(self, plaintext: bytes, *, now: int) -> bytes:
        """A complete padded envelope carrying ``plaintext`` to the contact.

        Raises:
            UsageError: the plaintext is larger than ``MAX_PLAINTEXT``.
        """
        if len(plaintext) > MAX_PLAINTEXT:
            raise UsageError(f"a message holds at most {MAX_PLAINTEXT} bytes")
        state = st.clone(self._state)
        st.erase_expired(
            state, now, grace=self._config.grace_seconds, keep=self._config.max_retired
        )
        envelope_id = p.random_bytes(env.ID_LEN)
        if state.awaiting_reply:
            data = self._seal_handshake(state, plaintext, envelope_id)
        else:
            st.maybe_propose(
                state,
                now,
                messages=self._config.epoch_messages,
                seconds=self._config.epoch_seconds,
            )
            data = self._seal_pairwise(state, plaintext, envelope_id)
        self._state = state
        return data

    def _seal_handshake(
        self, state: st.SessionState, plaintext: bytes, envelope_id: bytes
    ) -> bytes:
        handshake, first = state.handshake, st.own_epoch(state, 0)
        if handshake is None:
            raise LocalProtocolError("a handshake needs its handshake state")
        _check_counter_left(first)
        counter, first.sent = first.sent, first.sent + 1
        olm_type, olm = self._olm.encrypt(plaintext)
        header = outer.HandshakeHeader(
            invite_id=handshake.invite_id, kem_ciphertext=handshake.kem_ciphertext, counter=counter
        )
        inner = outer.HandshakeInner(
            identity=state.own, signature=handshake.signature, olm_type=olm_type, olm=olm
        )
        key = ep.handshake_message_key(handshake.key, envelope_id, counter)
        return outer.seal_handshake(header, inner, key=key, envelope_id=envelope_id)

    def _seal_pairwise(self, state: st.SessionState, plaintext: bytes, envelope_id: bytes) -> bytes:
        current = st.own_epoch(state, state.current)
        _check_counter_left(current)
        counter, current.sent = current.sent, current.sent + 1
        olm_type, olm = self._olm.encrypt(plaintext)
        header = outer.PairwiseHeader(
            epoch=state.current, counter=counter, kem_ciphertext=state.answer_ciphertext
        )
        inner = outer.PairwiseInner(
            olm_type=olm_type,
            olm=olm,
            proposal=state.proposal_key,
            identity=state.own if state.send_identity else None,
        )
        direction = ep.INITIATOR if state.initiator else ep.RESPONDER
        key = ep.message_key(current.key, envelope_id, direction, state.current, counter)
        return outer.seal_pairwise(header, inner, key=key, envelope_id=envelope_id)

    # --- opening -------------------------------------------------------------------------------

    def open(self, envelope: bytes, *, now: int) -> bytes:
        """The plaintext of an envelope from the contact; on any failure nothing changes.

        Raises:
            RemoteProtocolError: malformed, or a kind this session does not read.
            ReplayError: seen before, too old (its epoch key is erased), or too far ahead.
            DecryptionError: it does not authenticate (tampered, reflected, or not ours).
        """
        parsed = env.unpack(envelope)
        state = st.clone(self._state)
        if parsed.kind is env.Kind.HANDSHAKE:
            plaintext = self._open_handshake(state, parsed, now)
        elif parsed.kind is env.Kind.PAIRWISE:
            plaintext = self._open_pairwise(state, parsed, now)
        else:
            raise RemoteProtocolError(f"a pairwise session does not read {parsed.kind.name}")
        st.erase_expired(
            state, now, grace=self._config.grace_seconds, keep=self._config.max_retired
        )
        self._state = state
        return plaintext

    def _open_handshake(self, state: st.SessionState, parsed: env.Envelope, now: int) -> bytes:
        handshake = state.handshake
        header = outer.read_handshake_header(parsed)
        if state.initiator or handshake is None:
            raise ReplayError("a handshake for this session is no longer accepted")
        if (header.invite_id, header.kem_ciphertext) != (
            handshake.invite_id,
            handshake.kem_ciphertext,
        ):
            raise DecryptionError()
        first = st.live_epoch(state, 0, now, self._config.grace_seconds)
        ep.check_counter(first, header.counter, max_skip=self._config.max_skip)
        key = ep.handshake_message_key(handshake.key, parsed.envelope_id, header.counter)
        inner = outer.open_handshake(parsed, key=key)
        if inner.identity != state.peer:
            raise DecryptionError()
        plaintext = self._olm.decrypt(inner.olm_type, inner.olm)
        ep.commit_counter(st.own_epoch(state, 0), header.counter)
        return plaintext

    def _open_pairwise(self, state: st.SessionState, parsed: env.Envelope, now: int) -> bytes:
        header, start = outer.read_pairwise_header(parsed)
        epoch = self._epoch_for(state, header, now)
        ep.check_counter(epoch, header.counter, max_skip=self._config.max_skip)
        opened = st.Opened(epoch=header.epoch, counter=header.counter)
        if header.epoch == state.current + 1:
            epoch = opened.adopted = st.adopt(state, header, now)
        direction = ep.RESPONDER if state.initiator else ep.INITIATOR
        key = ep.message_key(epoch.key, parsed.envelope_id, direction, header.epoch, header.counter)
        inner = outer.open_pairwise(parsed, start, key=key)
        opened.peer_identity = st.check_identity(state, inner.identity)
        opened.answer = st.answer(state, opened, inner.proposal)
        plaintext = self._olm.decrypt(inner.olm_type, inner.olm)
        st.commit(state, opened, now)
        return plaintext

    def _epoch_for(
        self, state: st.SessionState, header: outer.PairwiseHeader, now: int
    ) -> ep.Epoch:
        """The epoch a message names, or a fresh one it may open; refusals cost no crypto."""
        if header.epoch == state.current + 1:
            if header.kem_ciphertext is None or state.proposal_seed is None:
                raise DecryptionError()
            return ep.Epoch(key=b"", started_at=now)
        if header.epoch > state.current + 1:
            raise ReplayError("the message names an epoch too far ahead")
        return st.live_epoch(state, header.epoch, now, self._config.grace_seconds)

    # --- persistence ---------------------------------------------------------------------------

    def to_bytes(self, storage_key: bytes) -> bytes:
        """The whole session sealed under ``storage_key`` (32 bytes) with a fresh nonce."""
        pickle_key, seal_key = _storage_keys(storage_key)
        blob = msgspec.msgpack.encode(
            _Stored(version=_STATE_VERSION, state=self._state, olm=self._olm.pickle(pickle_key))
        )
        return _seal_part(seal_key, _STATE_VERSION, blob)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        storage_key: bytes,
        *,
        config: SessionConfig = SessionConfig(),
    ) -> PairwiseSession:
        """Restore a session stored by :meth:`to_bytes`.

        Raises:
            DecryptionError: wrong storage key, or the data was altered.
        """
        pickle_key, seal_key = _storage_keys(storage_key)
        blob = _open_part(seal_key, _STATE_VERSION, data)
        try:
            stored = msgspec.msgpack.decode(blob, type=_Stored)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise DecryptionError("not a stored payk session") from exc
        return cls(stored.state, p.OlmSession.from_pickle(stored.olm, pickle_key), config)

    def to_parts(self, storage_key: bytes) -> tuple[bytes | None, bytes]:
        """The session as two sealed parts: its identities, and everything else.

        The identities (both public identities, about 2.5 KB) are fixed once the peer's is
        known, while the rest changes with every message: kept apart, a send rewrites about
        3 KB instead of 6.6 (one database page instead of a row with overflow pages). The
        identities part is None when it is what this object last gave or was restored from;
        a store keeps the part it has then. Each part carries a fresh nonce.
        """
        pickle_key, seal_key = _storage_keys(storage_key)
        state = self._state
        identities = _Identities(own=state.own, peer_keys=state.peer_keys, peer=state.peer)
        fixed = None
        if identities != self._stored_identities:
            fixed = _seal_part(seal_key, _IDENTITIES_VERSION, msgspec.msgpack.encode(identities))
            self._stored_identities = identities
        olm = base64.b64decode(self._olm.pickle(pickle_key) + b"=" * 3)  # 3 pads any length
        moving = msgspec.structs.replace(state, own=b"", peer_keys=b"", peer=None)
        blob = msgspec.msgpack.encode(_Stored(version=_RATCHET_VERSION, state=moving, olm=olm))
        return fixed, _seal_part(seal_key, _RATCHET_VERSION, blob)

    @classmethod
    def from_parts(
        cls,
        identities: bytes,
        ratchet: bytes,
        storage_key: bytes,
        *,
        config: SessionConfig = SessionConfig(),
    ) -> PairwiseSession:
        """Restore a session stored by :meth:`to_parts`.

        Raises:
            DecryptionError: wrong storage key, parts of different kinds, or altered data.
        """
        pickle_key, seal_key = _storage_keys(storage_key)
        try:
            fixed = msgspec.msgpack.decode(
                _open_part(seal_key, _IDENTITIES_VERSION, identities), type=_Identities
            )
            stored = msgspec.msgpack.decode(
                _open_part(seal_key, _RATCHET_VERSION, ratchet), type=_Stored
            )
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise DecryptionError("not a stored payk session") from exc
        state = msgspec.structs.replace(
            stored.state, own=fixed.own, peer_keys=fixed.peer_keys, peer=fixed.peer
        )
        olm = base64.b64encode(stored.olm).rstrip(b"=")
        session = cls(state, p.OlmSession.from_pickle(olm, pickle_key), config)
        session._stored_identities = fixed
        return session


def _seal_part(seal_key: bytes, version: int, blob: bytes) -> bytes:
    """``version | nonce | AEAD(blob)``, the version bound as associated data: a whole session
    (version 1) and the two parts of ``to_parts`` can never stand in for one another."""
    nonce = p.random_bytes(p.AEAD_NONCE_LEN)
    head = bytes((version,))
    return head + nonce + p.aead_seal(seal_key, nonce, blob, _STORAGE_LABEL + head)


def _open_part(seal_key: bytes, version: int, data: bytes) -> bytes:
    head, nonce = data[:1], data[1 : 1 + p.AEAD_NONCE_LEN]
    if head != bytes((version,)) or len(nonce) != p.AEAD_NONCE_LEN:
        raise DecryptionError("not a stored payk session")
    return p.aead_open(seal_key, nonce, data[1 + p.AEAD_NONCE_LEN :], _STORAGE_LABEL + head)


def _invitee_identity(
    identity: Identity, inner: outer.HandshakeInner, th1: bytes
) -> PublicIdentity:
    try:
        peer = PublicIdentity.from_bytes(inner.identity)
    except RemoteProtocolError as exc:
        raise DecryptionError() from exc
    if peer.keys == identity.public.keys:
        raise DecryptionError("a handshake from this profile itself (reflected)")
    peer.verify(_SIGN_LABEL + th1, inner.signature)
    return peer


def _check_counter_left(epoch: ep.Epoch) -> None:
    """Refuse to seal once the 32-bit counter of an epoch is used up (it never wraps)."""
    if epoch.sent > _MAX_COUNTER:
        raise LocalProtocolError(
            "this epoch's message counter is used up: the contact must reply before more is sent"
        )


@functools.lru_cache(maxsize=16)  # one profile key in practice; two HKDFs per save otherwise
def _storage_keys(storage_key: bytes) -> tuple[bytes, bytes]:
    if len(storage_key) != p.PICKLE_KEY_LEN:
        raise LocalProtocolError("a storage key is 32 bytes")
    return (
        p.hkdf(storage_key, salt=b"", info=_PICKLE_LABEL),
        p.hkdf(storage_key, salt=b"", info=_STORAGE_LABEL),
    )
