"""The relay's TLS identity: one self-signed certificate kept in the data folder.

Strategy: the identity is a single PEM file holding the key and the certificate, created once
with a private mode and published with an atomic ``link`` (so two processes starting on one
data folder agree on one identity). The relay address pins the SPKI fingerprint, so the
certificate may be renewed with the same key without changing the address.
"""

from __future__ import annotations

import datetime
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from payk.errors import UsageError
from payk.protocol.primitives import self_signed_certificate, spki_fingerprint

__all__ = [
    "IDENTITY_FILE",
    "TlsIdentity",
    "front_fingerprint",
    "load_identity",
    "load_or_create_identity",
]

IDENTITY_FILE = "relay-identity.pem"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsIdentity:
    """Where the identity is and the fingerprint clients pin."""

    path: Path
    fingerprint: bytes

    def server_context(self) -> ssl.SSLContext:
        """A server TLS context presenting this identity (TLS 1.2 or newer)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.path)
        return context


def load_identity(data_dir: Path) -> TlsIdentity:
    """The identity in ``data_dir``.

    Raises:
        UsageError: there is none, or it is not readable.
    """
    path = data_dir / IDENTITY_FILE
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"no relay identity in {data_dir} (run `payk relay serve` once)") from exc
    start = pem.find(b"-----BEGIN CERTIFICATE-----")
    if start < 0:
        raise UsageError(f"the relay identity in {data_dir} has no certificate")
    return TlsIdentity(path=path, fingerprint=spki_fingerprint(pem[start:]))


def load_or_create_identity(data_dir: Path) -> TlsIdentity:
    """The identity in ``data_dir``, created (self-signed) on first use."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / IDENTITY_FILE
    if not path.exists():
        cert, key = self_signed_certificate(now=datetime.datetime.now(datetime.UTC))
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".identity-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key + cert)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its identity
        finally:
            os.unlink(tmp)
    return load_identity(data_dir)


def front_fingerprint(certificate: Path) -> bytes:
    """The SPKI fingerprint of a front proxy's certificate (the first one in a PEM file).

    Raises:
        UsageError: the file cannot be read or holds no certificate.
    """
    try:
        pem = certificate.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the certificate {certificate}") from exc
    start = pem.find(b"-----BEGIN CERTIFICATE-----")
    end = pem.find(b"-----END CERTIFICATE-----", start)
    if start < 0 or end < 0:
        raise UsageError(f"no certificate in {certificate}")
    return spki_fingerprint(pem[start : end + len(b"-----END CERTIFICATE-----")])
