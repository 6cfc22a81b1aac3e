"""A profile's long-term keys: the Olm account (Curve25519 + Ed25519) and an ML-KEM-768 pair.

``PublicIdentity`` is what contacts know and what safety codes cover; its binary form is a
version byte and the three keys at fixed offsets, and parsing refuses zero or small-order
Curve25519 keys and malformed ML-KEM keys. ``Identity`` is what the profile keeps: the
vodozemac account pickle and the ML-KEM seed, sealed together under a key derived from the
profile's storage key. Nothing here reads a file: the caller stores the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from payk.errors import LocalProtocolError, RemoteProtocolError
from payk.protocol import primitives as p

__all__ = ["IDENTITY_KEYS_LEN", "PUBLIC_IDENTITY_LEN", "Identity", "IdentityKeys", "PublicIdentity"]

_VERSION = 1
IDENTITY_KEYS_LEN = 32 + 32
PUBLIC_IDENTITY_LEN = 1 + IDENTITY_KEYS_LEN + p.KEM_ENCAPSULATION_KEY_LEN
_PICKLE_LABEL = b"payk/v1/identity/pickle"
_STORAGE_LABEL = b"payk/v1/identity/storage"
_LEN = struct.Struct(">I")


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityKeys:
    """Olm's two identity keys, without the ML-KEM key: what a (short) invitation carries."""

    curve25519: bytes
    ed25519: bytes

    def verify(self, data: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature by this identity.

        Raises:
            DecryptionError: the signature does not match.
        """
        p.verify(self.ed25519, data, signature)

    def to_bytes(self) -> bytes:
        """Curve25519 then Ed25519, 64 bytes."""
        return self.curve25519 + self.ed25519

    @classmethod
    def from_bytes(cls, data: bytes) -> IdentityKeys:
        """Parse and validate :meth:`to_bytes` output from the network.

        Raises:
            RemoteProtocolError: wrong length or an unusable Curve25519 key.
        """
        if len(data) != IDENTITY_KEYS_LEN:
            raise RemoteProtocolError("identity keys are 64 bytes")
        keys = cls(curve25519=bytes(data[:32]), ed25519=bytes(data[32:]))
        p.check_curve25519_public(keys.curve25519)
        return keys


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicIdentity:
    """A contact's public keys: Olm's Curve25519 and Ed25519 identity keys and an ML-KEM key."""

    curve25519: bytes
    ed25519: bytes
    kem: bytes

    def verify(self, data: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature by this identity.

        Raises:
            DecryptionError: the signature does not match.
        """
        p.verify(self.ed25519, data, signature)

    @property
    def keys(self) -> IdentityKeys:
        """The two Olm identity keys (what invitations carry and safety codes cover)."""
        return IdentityKeys(curve25519=self.curve25519, ed25519=self.ed25519)

    def to_bytes(self) -> bytes:
        """The fixed-size binary form (version byte, Curve25519, Ed25519, ML-KEM)."""
        return bytes((_VERSION,)) + self.curve25519 + self.ed25519 + self.kem

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicIdentity:
        """Parse and validate :meth:`to_bytes` output from the network.

        Raises:
            RemoteProtocolError: wrong length or version, or an unusable key.
        """
        if len(data) != PUBLIC_IDENTITY_LEN or data[0] != _VERSION:
            raise RemoteProtocolError("not a payk public identity")
        identity = cls(
            curve25519=bytes(data[1:33]), ed25519=bytes(data[33:65]), kem=bytes(data[65:])
        )
        p.check_curve25519_public(identity.curve25519)
        p.check_kem_encapsulation_key(identity.kem)
        return identity


class Identity:
    """The profile's private keys. ``account`` is for the other ``payk.protocol`` modules."""

    __slots__ = ("_kem_seed", "_public", "account")

    def __init__(self, account: p.OlmAccount, kem_seed: bytes) -> None:
        self.account = account
        self._kem_seed = kem_seed
        self._public = PublicIdentity(
            curve25519=account.curve25519, ed25519=account.ed25519, kem=p.kem_public_key(kem_seed)
        )

    @classmethod
    def generate(cls) -> Identity:
        """Fresh keys from the operating system's randomness."""
        seed, _ = p.kem_generate()
        return cls(p.OlmAccount(), seed)

    @property
    def public(self) -> PublicIdentity:
        """The public half, as contacts see it."""
        return self._public

    def sign(self, data: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``data``."""
        return self.account.sign(data)

    def kem_decap(self, ciphertext: bytes) -> bytes:
        """Decapsulate an ML-KEM ciphertext addressed to this identity's ML-KEM key."""
        return p.kem_decap(self._kem_seed, ciphertext)

    def to_bytes(self, storage_key: bytes) -> bytes:
        """Everything private, sealed under ``storage_key`` (32 bytes) with a fresh nonce."""
        return self._to_bytes_from_parts(storage_key, p.random_bytes(p.AEAD_NONCE_LEN))

    def _to_bytes_from_parts(self, storage_key: bytes, nonce: bytes) -> bytes:
        pickle_key, seal_key = _storage_keys(storage_key)
        pickle = self.account.pickle(pickle_key)
        inner = _LEN.pack(len(pickle)) + pickle + self._kem_seed
        header = bytes((_VERSION,))
        return header + nonce + p.aead_seal(seal_key, nonce, inner, _STORAGE_LABEL + header)

    @classmethod
    def from_bytes(cls, data: bytes, storage_key: bytes) -> Identity:
        """Restore an identity stored by :meth:`to_bytes`.

        Raises:
            DecryptionError: wrong storage key, or the data was altered.
        """
        pickle_key, seal_key = _storage_keys(storage_key)
        header, nonce = data[:1], data[1 : 1 + p.AEAD_NONCE_LEN]
        if header != bytes((_VERSION,)) or len(nonce) != p.AEAD_NONCE_LEN:
            raise RemoteProtocolError("not a stored payk identity")
        inner = p.aead_open(seal_key, nonce, data[1 + p.AEAD_NONCE_LEN :], _STORAGE_LABEL + header)
        (length,) = _LEN.unpack_from(inner)
        pickle, seed = inner[_LEN.size : _LEN.size + length], inner[_LEN.size + length :]
        return cls(p.OlmAccount.from_pickle(pickle, pickle_key), seed)


def _storage_keys(storage_key: bytes) -> tuple[bytes, bytes]:
    if len(storage_key) != p.PICKLE_KEY_LEN:
        raise LocalProtocolError("a storage key is 32 bytes")
    return (
        p.hkdf(storage_key, salt=b"", info=_PICKLE_LABEL),
        p.hkdf(storage_key, salt=b"", info=_STORAGE_LABEL),
    )
