"""Epoch keys of the pairwise post-quantum layer: derivation, per-message keys, replay windows.

Every key here is HKDF-SHA256 with a unique ``payk/v1/pairwise/...`` label; see the table in
docs/protocol.md. The chain of epoch keys::

    th0      = SHA-256("payk/v1/pairwise/transcript-0" | invitation digest | KEM ciphertext)
    th1      = SHA-256("payk/v1/pairwise/transcript-1" | th0 | invitee's PublicIdentity)
    K_hs     = HKDF(ss0, salt=th0, info="payk/v1/pairwise/handshake")
    E_0      = HKDF(ss0, salt=th1, info="payk/v1/pairwise/epoch-0")
    E_{n+1}  = HKDF(E_n | ss_{n+1}, salt=SHA-256(ek | ct), info="payk/v1/pairwise/epoch-next"|n+1)
    K_msg    = HKDF(E_n, salt=envelope id, info="payk/v1/pairwise/message"|dir|n|ctr)

A message key is used for exactly one AEAD call, so its nonce is fixed (zero); the random
envelope id in the salt keeps keys distinct even if a restored backup repeats a counter.

A ``ReplayWindow`` remembers, per epoch and for the peer's direction, the highest counter
opened and the counters opened within ``WINDOW`` below it. ``check`` runs before any
cryptography (it refuses jumps beyond ``max_skip``), ``commit`` only after a message opened.
"""

from __future__ import annotations

import struct

import msgspec

from payk.errors import ReplayError
from payk.protocol import primitives as p

__all__ = [
    "INITIATOR",
    "NONCE",
    "RESPONDER",
    "WINDOW",
    "Epoch",
    "check_counter",
    "commit_counter",
    "epoch_zero_key",
    "handshake_key",
    "handshake_message_key",
    "message_key",
    "next_epoch_key",
    "transcript_0",
    "transcript_1",
]

INITIATOR = 0  # direction byte: the invitee (who accepted the link) is sending
RESPONDER = 1  # the inviter is sending
WINDOW = 256
NONCE = bytes(p.AEAD_NONCE_LEN)
_U32 = struct.Struct(">I")
_MESSAGE_SUFFIX = struct.Struct(">BII")  # direction, epoch, counter

_TRANSCRIPT_0 = b"payk/v1/pairwise/transcript-0"
_TRANSCRIPT_1 = b"payk/v1/pairwise/transcript-1"
_HANDSHAKE = b"payk/v1/pairwise/handshake"
_HANDSHAKE_MESSAGE = b"payk/v1/pairwise/handshake-message"
_EPOCH_0 = b"payk/v1/pairwise/epoch-0"
_EPOCH_NEXT = b"payk/v1/pairwise/epoch-next"
_MESSAGE = b"payk/v1/pairwise/message"


class Epoch(msgspec.Struct):
    """One epoch's key and counters; erased ``grace`` seconds after it is retired."""

    key: bytes
    started_at: int
    retired_at: int | None = None
    sent: int = 0
    received: int = 0
    highest: int = -1
    seen: set[int] = msgspec.field(default_factory=set)


def transcript_0(invitation_digest: bytes, kem_ciphertext: bytes) -> bytes:
    """The handshake transcript as far as the invitation and the KEM ciphertext."""
    return p.sha256(_TRANSCRIPT_0 + invitation_digest + kem_ciphertext)


def transcript_1(th0: bytes, invitee: bytes) -> bytes:
    """The transcript with the invitee's full public identity: both identities are now bound."""
    return p.sha256(_TRANSCRIPT_1 + th0 + invitee)


def handshake_key(shared: bytes, th0: bytes) -> bytes:
    """The key that hides the invitee's identity in handshake envelopes."""
    return p.hkdf(shared, salt=th0, info=_HANDSHAKE)


def epoch_zero_key(shared: bytes, th1: bytes) -> bytes:
    """The first epoch key, bound to both identities, the invitation and the ciphertext."""
    return p.hkdf(shared, salt=th1, info=_EPOCH_0)


def next_epoch_key(
    old: bytes, shared: bytes, encapsulation_key: bytes, ciphertext: bytes, number: int
) -> bytes:
    """Epoch ``number``'s key: chains the old epoch key with a fresh ML-KEM secret."""
    salt = p.sha256(encapsulation_key + ciphertext)
    return p.hkdf(old + shared, salt=salt, info=_EPOCH_NEXT + _U32.pack(number))


def message_key(
    epoch_key: bytes, envelope_id: bytes, direction: int, epoch: int, counter: int
) -> bytes:
    """The one-use key for message ``counter`` of ``epoch`` sent in ``direction``."""
    return p.hkdf(
        epoch_key, salt=envelope_id, info=_MESSAGE + _MESSAGE_SUFFIX.pack(direction, epoch, counter)
    )


def handshake_message_key(key: bytes, envelope_id: bytes, counter: int) -> bytes:
    """The one-use key for the invitee's handshake envelope number ``counter``."""
    return p.hkdf(key, salt=envelope_id, info=_HANDSHAKE_MESSAGE + _U32.pack(counter))


def check_counter(epoch: Epoch, counter: int, *, max_skip: int) -> None:
    """Refuse a counter seen before, too old for the window, or too far ahead.

    Raises:
        ReplayError: with a reason; nothing is changed.
    """
    if counter > epoch.highest + max_skip:
        raise ReplayError(f"message {counter} is too far ahead (more than {max_skip} skipped)")
    if counter in epoch.seen:
        raise ReplayError("this message was already received")
    if counter <= epoch.highest - WINDOW:
        raise ReplayError("this message is too old to accept")


def commit_counter(epoch: Epoch, counter: int) -> None:
    """Record an opened counter and forget those that fell out of the window."""
    epoch.seen.add(counter)
    epoch.received += 1
    if counter > epoch.highest:
        old_floor, floor = epoch.highest - WINDOW, counter - WINDOW
        epoch.highest = counter
        if floor - old_floor < len(epoch.seen):  # usually one step: drop just what fell out
            for stale in range(old_floor + 1, floor + 1):
                epoch.seen.discard(stale)
        else:  # every counter kept is above the old floor (check_counter refused the rest)
            epoch.seen = {seen for seen in epoch.seen if seen > floor}
