"""Ed25519 public keys as PEM files, so ``openssl pkeyutl -verify`` can check signatures.

Strategy: an Ed25519 SubjectPublicKeyInfo (RFC 8410) is a fixed 12-byte DER prefix followed
by the 32-byte key, so writing and reading it is a byte-level encoding, not cryptography; the
bundle test runs real ``openssl`` on the result. Reading accepts only that exact form.
"""

from __future__ import annotations

import base64
import binascii

from payk.errors import IntegrityError
from payk.protocol.primitives import sha256

__all__ = ["key_id", "pem_to_public_key", "public_key_to_pem"]

_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_BEGIN, _END = b"-----BEGIN PUBLIC KEY-----", b"-----END PUBLIC KEY-----"
KEY_LEN = 32


def public_key_to_pem(key: bytes) -> bytes:
    """The PEM ``PUBLIC KEY`` file for a 32-byte Ed25519 key."""
    body = base64.b64encode(_SPKI_PREFIX + key)
    return _BEGIN + b"\n" + body + b"\n" + _END + b"\n"


def pem_to_public_key(pem: bytes, what: str = "the public key file") -> bytes:
    """The 32-byte Ed25519 key in a PEM file written by :func:`public_key_to_pem`.

    Raises:
        IntegrityError: it is not an Ed25519 public key in PEM form.
    """
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise IntegrityError(f"{what} is damaged: not a PEM public key")
    try:
        der = base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IntegrityError(f"{what} is damaged: its base64 is broken") from exc
    if len(der) != len(_SPKI_PREFIX) + KEY_LEN or not der.startswith(_SPKI_PREFIX):
        raise IntegrityError(f"{what} is damaged: not an Ed25519 public key")
    return der[len(_SPKI_PREFIX) :]


def key_id(key: bytes) -> str:
    """A short printable name for a key: the first 16 hex digits of its SHA-256, grouped."""
    digest = sha256(key).hex()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))
