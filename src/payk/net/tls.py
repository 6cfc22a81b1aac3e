"""TLS for reaching relays: no certificate authorities, one pinned key per relay.

Strategy: a relay's certificate is self-signed and its address carries the SHA-256 of its
SubjectPublicKeyInfo. The client context therefore checks no CA and no host name; instead
the peer certificate is compared, in constant time, with the pinned fingerprint before a
single byte of the application protocol is sent. A mismatch is an attack, never a warning.
"""

from __future__ import annotations

import hmac
import ssl

from payk.errors import FingerprintMismatchError
from payk.protocol.primitives import spki_fingerprint

__all__ = ["check_pinned", "client_context"]


def client_context() -> ssl.SSLContext:
    """A TLS 1.2+ client context that leaves the certificate check to ``check_pinned``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def check_pinned(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, fingerprint: bytes) -> None:
    """Check that the TLS peer presented the key ``fingerprint`` pins.

    Raises:
        FingerprintMismatchError: no certificate, or a certificate with another key.
    """
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der or not hmac.compare_digest(spki_fingerprint(der), fingerprint):
        raise FingerprintMismatchError(
            "the relay presented a TLS key other than the one in its address"
        )
