"""The relay's storage contract: one small Protocol, its records and its refusals.

Strategy: the relay service talks to storage only through ``RelayStore``. Three backends
implement it (``memory`` twin, ``sqlite``, ``postgres``) and one conformance suite runs the
same test bodies against all of them, so the semantics below are the contract:

* Mailboxes are capabilities: a receive id (owner side, with an Ed25519 auth key) and a send
  id (contact side). Envelopes live until acked, deleted with the mailbox, or expired
  (``Limits.ttl_seconds`` after ``now`` at enqueue). Quotas (count and bytes of stored
  envelopes) are checked in the same transaction as the insert; a refused envelope leaves
  nothing behind. Expired envelopes are purged lazily when they stand in the way of a quota.
* Feeds are append-only logs with dense offsets 0, 1, 2, ... per feed; they do not expire.
* Forward jobs are a store-and-forward queue. ``due_forwards`` *claims* the jobs it returns
  for ``FORWARD_LEASE_SECONDS`` (their ``next_at`` moves forward), so several relay processes
  never work on the same job at once and a crashed worker's jobs come back by themselves.
  Forward jobs expire like envelopes.
* Every write returns only once durable, except ``ack``: a delete lost to a power cut only
  delivers that envelope again, which clients drop as already seen, so backends may commit
  acks without waiting for the disk. Wake-ups (``on_enqueue``) fire after that, on the
  event loop thread, with the receive id or feed id; a failing callback is logged (without
  ids) and never breaks the write. ``on_wake`` callbacks get the same wake-ups plus, for an
  envelope this process just enqueued, the stored envelope itself (so a subscriber on this
  process can be handed it without reading it back); wake-ups from other processes (the
  PostgreSQL listener) and for feeds carry None. Wake-ups fire in commit order.

Times are integer seconds passed in by the caller; the stores never read the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "FORWARD_LEASE_SECONDS",
    "ID_LEN",
    "AlreadyExists",
    "FeedEntry",
    "ForwardJob",
    "Limits",
    "QuotaExceeded",
    "RelayStore",
    "StoredEnvelope",
    "UnknownFeed",
    "UnknownMailbox",
    "WakeCallback",
    "Wakeups",
    "fresh_envelope",
]

ID_LEN = 16
FORWARD_LEASE_SECONDS = 60

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEnvelope:
    """An envelope waiting in a mailbox; ``id`` is 16 random bytes the store assigned."""

    id: bytes
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One entry of a feed at its offset (0, 1, 2, ... per feed)."""

    offset: int
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardJob:
    """An envelope this relay must still hand to the mailbox ``send_id`` on relay ``target``."""

    id: int
    target: str
    send_id: bytes
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Per-mailbox quotas, envelope lifetime and feed length."""

    mailbox_max_count: int = 10_000
    mailbox_max_bytes: int = 256 * 1024 * 1024
    ttl_seconds: int = 21 * 86400
    feed_max_count: int = 1_000_000


class UnknownMailbox(Exception):
    """No mailbox has that receive id or send id."""


class UnknownFeed(Exception):
    """No feed has that id."""


class QuotaExceeded(Exception):
    """The mailbox (count or bytes) or the feed (count) is full; nothing was stored."""


class AlreadyExists(Exception):
    """A mailbox or feed with one of these ids exists already."""


class RelayStore(Protocol):
    """What the relay service needs from storage. See the module docstring for semantics."""

    limits: Limits
    ordered_writes: bool  # writes commit in the order they were submitted

    async def open(self) -> None:
        """Connect and run pending migrations."""

    async def close(self) -> None:
        """Finish in-flight writes and release connections and threads."""

    async def create_mailbox(
        self, *, recv_id: bytes, send_id: bytes, auth_key: bytes, now: int
    ) -> None:
        """Create a mailbox. Raises ``AlreadyExists`` if either id is taken."""

    async def auth_key(self, recv_id: bytes) -> bytes | None:
        """The owner's Ed25519 public key, or None for an unknown mailbox."""

    async def delete_mailbox(self, recv_id: bytes) -> None:
        """Delete the mailbox and its envelopes. Raises ``UnknownMailbox``."""

    async def enqueue(self, send_id: bytes, body: bytes, *, now: int) -> tuple[bytes, bytes]:
        """Store an envelope durably; returns (recv_id, envelope id).

        Raises ``UnknownMailbox`` or ``QuotaExceeded``.
        """

    async def fetch(self, recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
        """Up to ``limit`` unexpired envelopes, oldest first. Raises ``UnknownMailbox``."""

    async def ack(self, recv_id: bytes, ids: Sequence[bytes]) -> int:
        """Delete these envelopes of this mailbox; returns how many existed."""

    async def create_feed(self, *, feed_id: bytes, writer_key: bytes, now: int) -> None:
        """Create a feed. Raises ``AlreadyExists``."""

    async def feed_writer(self, feed_id: bytes) -> bytes | None:
        """The feed's writer public key, or None for an unknown feed."""

    async def append(self, feed_id: bytes, body: bytes, *, now: int) -> int:
        """Append durably; returns the new entry's offset.

        Raises ``UnknownFeed`` or ``QuotaExceeded`` (feed full).
        """

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int) -> list[FeedEntry]:
        """Up to ``limit`` entries from ``offset`` on. Raises ``UnknownFeed``."""

    async def enqueue_forward(self, *, target: str, send_id: bytes, body: bytes, now: int) -> int:
        """Queue an envelope for another relay, due at once; returns the job id."""

    async def due_forwards(self, *, now: int, limit: int) -> list[ForwardJob]:
        """Claim up to ``limit`` due jobs for ``FORWARD_LEASE_SECONDS``, oldest due first."""

    async def forward_done(self, job_id: int) -> None:
        """The job was delivered; forget it (unknown ids are ignored)."""

    async def forward_retry(self, job_id: int, *, next_at: int) -> None:
        """The attempt failed: count it and make the job due again at ``next_at``."""

    async def expire(self, *, now: int) -> int:
        """Drop expired envelopes and forward jobs; returns how many were dropped."""

    async def stats(self) -> dict[str, int]:
        """Counters for metrics: mailboxes, envelopes, bytes, feeds, forwards."""

    def on_enqueue(self, callback: Callable[[bytes], None]) -> None:
        """Register a wake-up called with a receive id or feed id after a durable write."""

    def on_wake(self, callback: WakeCallback) -> None:
        """Register a wake-up called with the key and, when known, the envelope just stored."""


WakeCallback = Callable[[bytes, StoredEnvelope | None], None]


class Wakeups:
    """The registered ``on_enqueue`` and ``on_wake`` callbacks of one store."""

    def __init__(self) -> None:
        self._callbacks: list[WakeCallback] = []

    def add(self, callback: Callable[[bytes], None]) -> None:
        self._callbacks.append(lambda key, envelope: callback(key))

    def add_wake(self, callback: WakeCallback) -> None:
        self._callbacks.append(callback)

    def fire(self, key: bytes, envelope: StoredEnvelope | None = None) -> None:
        """Call every callback for ``key``; a failing callback is logged and skipped."""
        for callback in self._callbacks:
            try:
                callback(key, envelope)
            except Exception:
                _log.exception("a relay store wake-up callback failed")


def fresh_envelope(
    env_id: bytes, body: bytes, *, expires_at: int, now: int
) -> StoredEnvelope | None:
    """The envelope a wake-up hands on, or None when a fetch at ``now`` would not return it."""
    return StoredEnvelope(id=env_id, body=body) if expires_at > now else None
