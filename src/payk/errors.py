"""The one error tree of payk.

Every error payk raises on purpose is a ``PaykError``; front ends catch it once, print its
message as one sentence on stderr and exit with its ``exit_code`` (documented in CLI.md)::

    PaykError                          exit 1   anything payk raises on purpose
    ├── UsageError                     exit 1   bad arguments or input from the person
    │   └── InvitationError            exit 1   an invitation link is garbled, tampered or expired
    ├── LocalProtocolError             exit 1   this side misused an API (a bug or bad state)
    ├── RemoteProtocolError            exit 4   the peer or the network broke the rules
    │   ├── DecryptionError            exit 4   any authentication failure, deliberately opaque
    │   └── ReplayError                exit 4   a message seen before, or too far ahead
    ├── IntegrityError                 exit 4   tampered data: a bundle, evidence, a store file
    ├── AuthenticationError            exit 2   wrong passphrase, verification failed
    ├── NetworkError                   exit 3   no path reachable, connection lost
    │   └── FingerprintMismatchError   exit 3   the relay's TLS key is not the pinned one
    ├── RelayRefusedError              exit 3   the relay answered with an error code
    │   └── QuotaError                 exit 3   the mailbox is full
    └── StorageError                   exit 1   the local store failed (disk full, locked)

Low-level exceptions are always converted at the single entry point of a layer with
``raise ... from exc``; an authentication failure never says which check failed.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "DecryptionError",
    "FingerprintMismatchError",
    "IntegrityError",
    "InvitationError",
    "LocalProtocolError",
    "NetworkError",
    "PaykError",
    "QuotaError",
    "RelayRefusedError",
    "RemoteProtocolError",
    "ReplayError",
    "StorageError",
    "UsageError",
]


class PaykError(Exception):
    """Root of every error payk raises on purpose."""

    exit_code: int = 1


class UsageError(PaykError):
    """The person gave arguments or input payk cannot use."""


class InvitationError(UsageError):
    """An invitation link cannot be used: garbled, truncated, tampered with or expired."""


class LocalProtocolError(PaykError):
    """This side used an API the wrong way or in the wrong state."""


class RemoteProtocolError(PaykError):
    """The peer, relay or data from the network broke the protocol."""

    exit_code = 4


class DecryptionError(RemoteProtocolError):
    """Authentication of a ciphertext or signature failed; which check failed is not said."""

    def __init__(self, message: str = "the message could not be authenticated") -> None:
        super().__init__(message)


class ReplayError(RemoteProtocolError):
    """A message was seen before, or claims a position too far ahead to accept."""


class IntegrityError(PaykError):
    """Stored or exported data was altered."""

    exit_code = 4


class AuthenticationError(PaykError):
    """A passphrase was wrong or a verification did not match."""

    exit_code = 2


class NetworkError(PaykError):
    """No path could be reached, or a connection broke."""

    exit_code = 3


class FingerprintMismatchError(NetworkError):
    """The relay presented a TLS key other than the one pinned in its address."""


class RelayRefusedError(NetworkError):
    """The relay answered a request with an error code."""

    def __init__(self, message: str, *, code: str = "ERROR") -> None:
        super().__init__(message)
        self.code = code


class QuotaError(RelayRefusedError):
    """The mailbox on the relay is full (count or bytes)."""

    def __init__(self, message: str = "the mailbox on the relay is full") -> None:
        super().__init__(message, code="QUOTA")


class StorageError(PaykError):
    """The local store could not be read or written."""
