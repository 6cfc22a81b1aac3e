"""Body layouts of the post-quantum outer layer: what the relay may see and what it may not.

Pairwise body (kind PAIRWISE)::

    cleartext:  flags:1 | epoch:4 | counter:4 | [kem_ciphertext:1088 if flags & CIPHERTEXT]
    sealed:     ChaCha20-Poly1305(K_msg, nonce 0, inner, ad = envelope header | cleartext)
    inner:      flags:1 | [encapsulation key:1184 if PROPOSAL] | [PublicIdentity if IDENTITY]
                | olm_type:1 | olm_length:4 | olm message | zero padding

Handshake body (kind HANDSHAKE, only ever sent by the invitee)::

    cleartext:  invite_id:16 | kem_ciphertext:1088 | counter:4
    sealed:     ChaCha20-Poly1305(K_hs_msg, nonce 0, inner, ad = envelope header | cleartext)
    inner:      PublicIdentity | signature:64 | olm_type:1 | olm_length:4 | olm message | padding

The padding inside the AEAD makes every body fill its bucket exactly, so the envelope's
cleartext length field reveals only the bucket. Parsers check every length before slicing and
raise ``RemoteProtocolError`` for malformed cleartext, ``DecryptionError`` for anything the
AEAD refuses, and never return a partly parsed result.
"""

from __future__ import annotations

import struct

import msgspec

from payk.errors import DecryptionError, RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol import primitives as p
from payk.protocol.epoch import NONCE
from payk.protocol.identity import PUBLIC_IDENTITY_LEN

__all__ = [
    "HandshakeHeader",
    "HandshakeInner",
    "PairwiseHeader",
    "PairwiseInner",
    "open_handshake",
    "open_pairwise",
    "read_handshake_header",
    "read_pairwise_header",
    "seal_handshake",
    "seal_pairwise",
]

_CIPHERTEXT = 0x01
_PROPOSAL = 0x01
_IDENTITY = 0x02
_U32 = struct.Struct(">I")
_PAIRWISE_FIXED = 1 + 4 + 4
_HANDSHAKE_LEN = 16 + p.KEM_CIPHERTEXT_LEN + 4


class PairwiseHeader(msgspec.Struct, frozen=True, kw_only=True):
    """The cleartext part of a pairwise body (bound as associated data)."""

    epoch: int
    counter: int
    kem_ciphertext: bytes | None = None

    def to_bytes(self) -> bytes:
        flags = _CIPHERTEXT if self.kem_ciphertext is not None else 0
        fixed = bytes((flags,)) + _U32.pack(self.epoch) + _U32.pack(self.counter)
        return fixed + (self.kem_ciphertext or b"")


class PairwiseInner(msgspec.Struct, frozen=True, kw_only=True):
    """The sealed part of a pairwise body."""

    olm_type: int
    olm: bytes
    proposal: bytes | None = None
    identity: bytes | None = None

    def to_bytes(self) -> bytes:
        flags = (_PROPOSAL if self.proposal else 0) | (_IDENTITY if self.identity else 0)
        head = bytes((flags,)) + (self.proposal or b"") + (self.identity or b"")
        return head + _olm_bytes(self.olm_type, self.olm)


class HandshakeHeader(msgspec.Struct, frozen=True, kw_only=True):
    """The cleartext part of a handshake body."""

    invite_id: bytes
    kem_ciphertext: bytes
    counter: int

    def to_bytes(self) -> bytes:
        return self.invite_id + self.kem_ciphertext + _U32.pack(self.counter)


class HandshakeInner(msgspec.Struct, frozen=True, kw_only=True):
    """The sealed part of a handshake body."""

    identity: bytes
    signature: bytes
    olm_type: int
    olm: bytes

    def to_bytes(self) -> bytes:
        return self.identity + self.signature + _olm_bytes(self.olm_type, self.olm)


def seal_pairwise(
    header: PairwiseHeader, inner: PairwiseInner, *, key: bytes, envelope_id: bytes
) -> bytes:
    """A complete, padded PAIRWISE envelope sealed under the message key ``key``."""
    return _seal(env.Kind.PAIRWISE, header.to_bytes(), inner.to_bytes(), key, envelope_id)


def seal_handshake(
    header: HandshakeHeader, inner: HandshakeInner, *, key: bytes, envelope_id: bytes
) -> bytes:
    """A complete, padded HANDSHAKE envelope sealed under the message key ``key``."""
    return _seal(env.Kind.HANDSHAKE, header.to_bytes(), inner.to_bytes(), key, envelope_id)


def read_pairwise_header(envelope: env.Envelope) -> tuple[PairwiseHeader, int]:
    """The cleartext header of a pairwise body and where its sealed part starts.

    Raises:
        RemoteProtocolError: not a pairwise envelope, or a malformed header.
    """
    body = envelope.body
    if envelope.kind is not env.Kind.PAIRWISE or len(body) < _PAIRWISE_FIXED:
        raise RemoteProtocolError("not a pairwise envelope")
    flags = body[0]
    if flags & ~_CIPHERTEXT:
        raise RemoteProtocolError("unknown pairwise header flags")
    (epoch,), (counter,) = _U32.unpack_from(body, 1), _U32.unpack_from(body, 5)
    end = _PAIRWISE_FIXED + (p.KEM_CIPHERTEXT_LEN if flags & _CIPHERTEXT else 0)
    if len(body) < end + p.AEAD_TAG_LEN:
        raise RemoteProtocolError("truncated pairwise envelope")
    ciphertext = bytes(body[_PAIRWISE_FIXED:end]) if flags & _CIPHERTEXT else None
    return PairwiseHeader(epoch=epoch, counter=counter, kem_ciphertext=ciphertext), end


def read_handshake_header(envelope: env.Envelope) -> HandshakeHeader:
    """The cleartext header of a handshake body.

    Raises:
        RemoteProtocolError: not a handshake envelope, or truncated.
    """
    body = envelope.body
    if envelope.kind is not env.Kind.HANDSHAKE or len(body) < _HANDSHAKE_LEN + p.AEAD_TAG_LEN:
        raise RemoteProtocolError("not a handshake envelope")
    (counter,) = _U32.unpack_from(body, _HANDSHAKE_LEN - 4)
    return HandshakeHeader(
        invite_id=bytes(body[:16]),
        kem_ciphertext=bytes(body[16 : 16 + p.KEM_CIPHERTEXT_LEN]),
        counter=counter,
    )


def open_pairwise(envelope: env.Envelope, start: int, *, key: bytes) -> PairwiseInner:
    """Open the sealed part of a pairwise body that starts at ``start``.

    Raises:
        DecryptionError: the AEAD refused it, or the authenticated inner part is malformed.
    """
    inner = _open(envelope, start, key)
    flags, pos = inner[0], 1
    proposal = identity = None
    if flags & ~(_PROPOSAL | _IDENTITY):
        raise DecryptionError()
    if flags & _PROPOSAL:
        proposal, pos = _take(inner, pos, p.KEM_ENCAPSULATION_KEY_LEN)
    if flags & _IDENTITY:
        identity, pos = _take(inner, pos, PUBLIC_IDENTITY_LEN)
    olm_type, olm = _read_olm(inner, pos)
    return PairwiseInner(olm_type=olm_type, olm=olm, proposal=proposal, identity=identity)


def open_handshake(envelope: env.Envelope, *, key: bytes) -> HandshakeInner:
    """Open the sealed part of a handshake body.

    Raises:
        DecryptionError: the AEAD refused it, or the authenticated inner part is malformed.
    """
    inner = _open(envelope, _HANDSHAKE_LEN, key)
    identity, pos = _take(inner, 0, PUBLIC_IDENTITY_LEN)
    signature, pos = _take(inner, pos, p.SIGNATURE_LEN)
    olm_type, olm = _read_olm(inner, pos)
    return HandshakeInner(identity=identity, signature=signature, olm_type=olm_type, olm=olm)


def _olm_bytes(olm_type: int, olm: bytes) -> bytes:
    return bytes((olm_type,)) + _U32.pack(len(olm)) + olm


def _seal(kind: env.Kind, clear: bytes, inner: bytes, key: bytes, envelope_id: bytes) -> bytes:
    header = env.header_for(kind, envelope_id)
    capacity = env.body_capacity(len(clear) + len(inner) + p.AEAD_TAG_LEN)
    padded = inner + bytes(capacity - len(clear) - len(inner) - p.AEAD_TAG_LEN)
    sealed = p.aead_seal(key, NONCE, padded, header + clear)
    return env.pack(kind, clear + sealed, envelope_id=envelope_id)


def _open(envelope: env.Envelope, start: int, key: bytes) -> bytes:
    header = env.header_for(envelope.kind, envelope.envelope_id)
    body = envelope.body
    inner = p.aead_open(key, NONCE, body[start:], header + body[:start])
    if not inner:
        raise DecryptionError()
    return inner


def _take(data: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if pos + n > len(data):
        raise DecryptionError()
    return bytes(data[pos : pos + n]), pos + n


def _read_olm(data: bytes, pos: int) -> tuple[int, bytes]:
    olm_type, pos = data[pos] if pos < len(data) else -1, pos + 1
    if olm_type not in (0, 1) or pos + _U32.size > len(data):
        raise DecryptionError()
    (length,) = _U32.unpack_from(data, pos)
    olm, _ = _take(data, pos + _U32.size, length)
    return olm_type, olm
