"""The state of a pairwise session and the transitions ``session.py`` applies to a copy of it.

Every function here reads or changes a ``SessionState`` that the session has cloned (a new
epochs dict; an epoch is copied by ``own_epoch`` before it is changed, so the live state is
never touched); the session swaps the clone in only when the whole operation succeeded.
Order inside ``open``: everything that can fail (epoch lookup, counter check, KEM, AEAD,
identity and proposal checks) happens before Olm decrypts, and ``commit`` cannot fail.

Rotation rules (invariants):

* at most one own proposal (``proposal_seed``/``proposal_key``) and at most one outstanding
  answer (``answer_ciphertext``) exist, never both: a side proposes only when it has neither;
* answering moves this side to epoch n+1 at once; it keeps sending the ciphertext until it
  opens a message of n+1 from the peer (which proves the peer adopted n+1);
* a proposal is answered only if it was made in this side's current epoch and beats this
  side's own pending proposal (smaller SHA-256 of the encapsulation key), so crossing
  proposals resolve the same way on both sides;
* the current epoch is never retired; retired epochs are erased after the grace window, or
  once more than ``max_retired`` newer retired epochs exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from payk.errors import DecryptionError, RemoteProtocolError, ReplayError
from payk.protocol import epoch as ep
from payk.protocol import outer
from payk.protocol import primitives as p
from payk.protocol.identity import PublicIdentity

__all__ = [
    "HandshakeState",
    "Opened",
    "SessionState",
    "adopt",
    "answer",
    "check_identity",
    "clone",
    "commit",
    "erase_expired",
    "live_epoch",
    "maybe_propose",
    "own_epoch",
]


class HandshakeState(msgspec.Struct):
    invite_id: bytes
    kem_ciphertext: bytes
    key: bytes
    signature: bytes


class SessionState(msgspec.Struct):
    initiator: bool
    own: bytes
    peer_keys: bytes
    peer: bytes | None
    current: int
    epochs: dict[int, ep.Epoch]
    handshake: HandshakeState | None
    awaiting_reply: bool
    send_identity: bool
    proposal_seed: bytes | None = None
    proposal_key: bytes | None = None
    answer_ciphertext: bytes | None = None


@dataclass(slots=True)
class Opened:
    """What a successful open will commit (computed before Olm runs)."""

    epoch: int
    counter: int
    adopted: ep.Epoch | None = None
    answer: tuple[bytes, bytes] | None = None  # (new epoch key, KEM ciphertext)
    peer_identity: bytes | None = None


def clone(state: SessionState) -> SessionState:
    """A copy to work on: the epochs dict is new, the epochs in it are shared until owned."""
    return msgspec.structs.replace(state, epochs=dict(state.epochs))


def own_epoch(state: SessionState, number: int) -> ep.Epoch:
    """Replace a shared epoch in a clone by its own copy, and return that copy to change."""
    epoch = msgspec.structs.replace(state.epochs[number], seen=set(state.epochs[number].seen))
    state.epochs[number] = epoch
    return epoch


def live_epoch(state: SessionState, number: int, now: int, grace: int) -> ep.Epoch:
    epoch = state.epochs.get(number)
    if epoch is None or _expired(epoch, now, grace):
        raise ReplayError("the message is from an epoch whose key is erased")
    return epoch


def _expired(epoch: ep.Epoch, now: int, grace: int) -> bool:
    return epoch.retired_at is not None and now >= epoch.retired_at + grace


def erase_expired(state: SessionState, now: int, *, grace: int, keep: int) -> None:
    """Erase retired epochs past their grace time, and all but the ``keep`` newest retired."""
    epochs = state.epochs
    doomed = [
        n for n, e in epochs.items() if e.retired_at is not None and now >= e.retired_at + grace
    ]
    surplus = len(epochs) - (state.current in epochs) - keep
    if surplus > 0:
        doomed += sorted(n for n in epochs if n != state.current)[:surplus]
    for number in doomed:
        epochs.pop(number, None)
    if 0 not in state.epochs and not state.initiator:
        state.handshake = None


def maybe_propose(state: SessionState, now: int, *, messages: int, seconds: int) -> None:
    if state.proposal_seed is not None or state.answer_ciphertext is not None:
        return
    current = state.epochs[state.current]
    used = current.sent + current.received
    if used >= messages or now - current.started_at >= seconds:
        state.proposal_seed, state.proposal_key = p.kem_generate()


def adopt(state: SessionState, header: outer.PairwiseHeader, now: int) -> ep.Epoch:
    """The next epoch, from the peer's answer to this side's proposal (no state change)."""
    if state.proposal_seed is None or state.proposal_key is None or header.kem_ciphertext is None:
        raise DecryptionError()
    shared = p.kem_decap(state.proposal_seed, header.kem_ciphertext)
    old = state.epochs[state.current].key
    key = ep.next_epoch_key(
        old, shared, state.proposal_key, header.kem_ciphertext, state.current + 1
    )
    return ep.Epoch(key=key, started_at=now)


def check_identity(state: SessionState, identity: bytes | None) -> bytes | None:
    """The inviter's full identity from its reply, checked against the invitation's keys."""
    if identity is None:
        return None
    if state.peer is not None:
        if identity != state.peer:
            raise DecryptionError()
        return None
    try:
        peer = PublicIdentity.from_bytes(identity)
    except RemoteProtocolError as exc:
        raise DecryptionError() from exc
    if peer.keys.to_bytes() != state.peer_keys:
        raise DecryptionError()
    return identity


def answer(
    state: SessionState, opened: Opened, proposal: bytes | None
) -> tuple[bytes, bytes] | None:
    """Encapsulate to the peer's proposal if it is for this side's current epoch and wins."""
    if proposal is None or opened.adopted is not None or opened.epoch != state.current:
        return None
    if state.proposal_key is not None and p.sha256(state.proposal_key) < p.sha256(proposal):
        return None
    try:
        shared, ciphertext = p.kem_encap(proposal)
    except RemoteProtocolError as exc:
        raise DecryptionError() from exc
    old = state.epochs[state.current].key
    return ep.next_epoch_key(old, shared, proposal, ciphertext, state.current + 1), ciphertext


def commit(state: SessionState, opened: Opened, now: int) -> None:
    if opened.adopted is not None:
        _advance(state, opened.adopted, now)
        state.proposal_seed = state.proposal_key = None
    ep.commit_counter(own_epoch(state, opened.epoch), opened.counter)
    if opened.epoch == state.current and opened.adopted is None:
        state.answer_ciphertext = None
    if opened.answer is not None:
        key, ciphertext = opened.answer
        _advance(state, ep.Epoch(key=key, started_at=now), now)
        state.proposal_seed = state.proposal_key = None
        state.answer_ciphertext = ciphertext
    if opened.peer_identity is not None:
        state.peer = opened.peer_identity
    if state.awaiting_reply:
        state.awaiting_reply = False
        state.handshake = None
    if not state.initiator:
        state.send_identity = False


def _advance(state: SessionState, new: ep.Epoch, now: int) -> None:
    own_epoch(state, state.current).retired_at = now
    state.current += 1
    state.epochs[state.current] = new
