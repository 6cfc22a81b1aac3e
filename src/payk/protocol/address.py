"""Relay addresses and mailbox addresses, shared by client, relay and invitations.

A relay address pins the relay's TLS key: ``payk://FINGERPRINT@HOST:PORT`` where FINGERPRINT
is the unpadded base64url SHA-256 of the certificate's SubjectPublicKeyInfo (so a relay may
renew its certificate without changing its address, as long as it keeps its key). HOST may be
a name, an IPv4 address, a bracketed IPv6 address or a ``.onion`` name (resolved by the proxy,
never locally). A mailbox address is a relay address plus the send id a contact writes to.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass

from payk.errors import UsageError

__all__ = ["FINGERPRINT_LEN", "MailboxAddress", "RelayAddress", "b64u_decode", "b64u_encode"]

FINGERPRINT_LEN = 32
_SCHEME = "payk://"
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$")


def b64u_encode(data: bytes) -> str:
    """Encode bytes as unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded URL-safe base64.

    Raises:
        ValueError: the text is not base64url.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayAddress:
    """Where a relay listens and which TLS key it must present."""

    fingerprint: bytes
    host: str
    port: int

    def __post_init__(self) -> None:
        if len(self.fingerprint) != FINGERPRINT_LEN:
            raise UsageError("a relay fingerprint is 32 bytes")
        if not _HOST_RE.match(self.host) or not 0 < self.port < 65536:
            raise UsageError("a relay address needs a valid host and port")

    @classmethod
    def parse(cls, text: str) -> RelayAddress:
        """Parse ``payk://FINGERPRINT@HOST:PORT``.

        Raises:
            UsageError: the text is not a relay address.
        """
        return _parse_relay(text)

    @property
    def connect_host(self) -> str:
        """The host as a socket wants it (IPv6 without brackets)."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    @property
    def is_onion(self) -> bool:
        """Whether the host is a Tor onion service (must be resolved by the proxy)."""
        return self.host.endswith(".onion")

    def __str__(self) -> str:
        return _relay_text(self)


@functools.lru_cache(maxsize=1024)  # every send stores its relays as text
def _relay_text(address: RelayAddress) -> str:
    return f"{_SCHEME}{b64u_encode(address.fingerprint)}@{address.host}:{address.port}"


@functools.lru_cache(maxsize=1024)  # every send and flush names its relays as text
def _parse_relay(text: str) -> RelayAddress:
    text = text.strip()
    if not text.startswith(_SCHEME) or "@" not in text:
        raise UsageError(f"not a relay address (expected payk://FINGERPRINT@HOST:PORT): {text!r}")
    fingerprint_text, _, hostport = text[len(_SCHEME) :].partition("@")
    host, sep, port_text = hostport.rpartition(":")
    if not sep or not port_text.isdigit():
        raise UsageError(f"a relay address needs a port: {text!r}")
    try:
        fingerprint = b64u_decode(fingerprint_text)
    except ValueError as exc:
        raise UsageError(f"the relay fingerprint is not base64url: {text!r}") from exc
    return RelayAddress(fingerprint=fingerprint, host=host, port=int(port_text))


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxAddress:
    """A mailbox a contact can write to: the relay and the mailbox's send id."""

    relay: RelayAddress
    send_id: bytes
