"""Safety codes: what two people compare (read aloud or scan) to rule out a man in the middle.

Each side's fingerprint is SHA-256 over a versioned label and its two Olm identity keys
(Curve25519, Ed25519): the keys that authenticate every Olm session and sign invitations.
The numeric code turns each fingerprint's first 30 bytes into 30 digits (six 5-byte chunks,
each mod 100000) and joins the two halves in sorted order, so both sides see the same 60
digits in groups of five. About 100 bits per side: a second preimage is out of reach.
The QR payload is a version byte, the scanner's expectation of the shower's fingerprint
comes second: ``version | own fingerprint | peer fingerprint``; the scanning side checks it
reads its peer's fingerprint then its own.
"""

from __future__ import annotations

from typing import Protocol

from payk.protocol import primitives as p

__all__ = ["HasIdentityKeys", "safety_code", "safety_qr_payload", "verify_qr_payload"]

_LABEL = b"payk/v1/safety/fingerprint"
_QR_VERSION = 1
_CHUNKS = 6
_CHUNK_BYTES = 5


class HasIdentityKeys(Protocol):
    """Anything carrying the two Olm identity keys (``PublicIdentity``, ``IdentityKeys``)."""

    @property
    def curve25519(self) -> bytes: ...

    @property
    def ed25519(self) -> bytes: ...


def _fingerprint(keys: HasIdentityKeys) -> bytes:
    return p.sha256(_LABEL + keys.curve25519 + keys.ed25519)


def _digits(fingerprint: bytes) -> str:
    chunks = (fingerprint[i * _CHUNK_BYTES : (i + 1) * _CHUNK_BYTES] for i in range(_CHUNKS))
    return "".join(f"{int.from_bytes(chunk, 'big') % 100000:05d}" for chunk in chunks)


def safety_code(a: HasIdentityKeys, b: HasIdentityKeys) -> str:
    """60 digits in 12 groups of five, the same whichever side computes it."""
    halves = sorted((_digits(_fingerprint(a)), _digits(_fingerprint(b))))
    digits = "".join(halves)
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


def safety_qr_payload(own: HasIdentityKeys, peer: HasIdentityKeys) -> bytes:
    """What this side shows as a QR code for the peer to scan (65 bytes)."""
    return bytes((_QR_VERSION,)) + _fingerprint(own) + _fingerprint(peer)


def verify_qr_payload(payload: bytes, own: HasIdentityKeys, peer: HasIdentityKeys) -> bool:
    """Whether a scanned payload, shown by ``peer``, names exactly the keys this side knows."""
    expected = safety_qr_payload(peer, own)
    return len(payload) == len(expected) and p.constant_time_equal(payload, expected)
