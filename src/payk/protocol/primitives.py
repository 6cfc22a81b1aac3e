"""Fixed-parameter recipes over the audited libraries: the only module that imports them.

Strategy: every other module asks for an operation by purpose (``sign``, ``aead_seal``,
``kem_encap``...) and never picks an algorithm, a nonce size or a curve. Errors from the
libraries are turned here into payk's: any authentication failure is one opaque
``DecryptionError``. Randomness is drawn only by the thin ``random_bytes`` and ``*_generate``
wrappers, so the deterministic ``_from_parts`` functions elsewhere can be tested with vectors.
"""

from __future__ import annotations

import datetime
import hashlib
import os

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from payk.errors import DecryptionError, UsageError

__all__ = [
    "SIGNATURE_LEN",
    "SIGNING_KEY_LEN",
    "random_bytes",
    "self_signed_certificate",
    "sign",
    "signing_key_generate",
    "signing_public_key",
    "spki_fingerprint",
    "verify",
]

SIGNING_KEY_LEN = 32
SIGNATURE_LEN = 64


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's CSPRNG."""
    return os.urandom(n)


# --- Ed25519 (relay mailbox and feed authorisation) -------------------------------------------


def signing_key_generate() -> bytes:
    """A fresh Ed25519 private key, as its 32-byte seed."""
    return random_bytes(SIGNING_KEY_LEN)


def signing_public_key(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of ``seed``."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(seed: bytes, data: bytes) -> bytes:
    """An Ed25519 signature of ``data`` by the key with this seed."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(data)


def verify(public_key: bytes, data: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature (strict: non-canonical encodings are refused).

    Raises:
        DecryptionError: the key, the signature or the data do not match.
    """
    if len(public_key) != SIGNING_KEY_LEN or len(signature) != SIGNATURE_LEN:
        raise DecryptionError("the signature could not be verified")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError) as exc:
        raise DecryptionError("the signature could not be verified") from exc


# --- TLS identity of a relay -------------------------------------------------------------------


def self_signed_certificate(
    *, now: datetime.datetime, common_name: str = "payk relay"
) -> tuple[bytes, bytes]:
    """A self-signed Ed25519 certificate and its key, both PEM, valid ten years from ``now``."""
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, None)
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def spki_fingerprint(certificate: bytes) -> bytes:
    """SHA-256 of the certificate's SubjectPublicKeyInfo; ``certificate`` is DER or PEM.

    Raises:
        UsageError: the bytes are not a certificate.
    """
    try:
        if certificate.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(certificate)
        else:
            cert = x509.load_der_x509_certificate(certificate)
    except ValueError as exc:
        raise UsageError("not an X.509 certificate") from exc
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()
