"""The in-memory twin of the relay store, for unit tests and the demo.

Strategy: plain dicts with the same semantics as the SQL backends (see ``base``). Envelopes
of a mailbox sit in an insertion-ordered dict (id -> record), so fetch is oldest first and
ack is a dict delete. Every method runs to completion without awaiting, so asyncio tasks
never interleave inside an operation and no lock is needed. Nothing survives ``close``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from payk.relay.store.base import (
    FORWARD_LEASE_SECONDS,
    ID_LEN,
    AlreadyExists,
    FeedEntry,
    ForwardJob,
    Limits,
    QuotaExceeded,
    StoredEnvelope,
    UnknownFeed,
    UnknownMailbox,
    WakeCallback,
    Wakeups,
    fresh_envelope,
)

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Envelope:
    body: bytes
    expires_at: int


@dataclass(slots=True)
class _Mailbox:
    send_id: bytes
    auth_key: bytes
    envelopes: dict[bytes, _Envelope] = field(default_factory=dict)
    size: int = 0

    def drop(self, env_id: bytes) -> bool:
        envelope = self.envelopes.pop(env_id, None)
        if envelope is None:
            return False
        self.size -= len(envelope.body)
        return True

    def purge(self, now: int) -> int:
        expired = [k for k, e in self.envelopes.items() if e.expires_at <= now]
        for env_id in expired:
            self.drop(env_id)
        return len(expired)


@dataclass(slots=True)
class _Feed:
    writer_key: bytes
    entries: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class _Forward:
    target: str
    send_id: bytes
    body: bytes
    next_at: int
    expires_at: int
    attempts: int = 0


class MemoryStore:
    """A ``RelayStore`` kept in process memory."""

    def __init__(self, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.ordered_writes = True  # every write happens at once, in call order
        self._wakeups = Wakeups()
        self._mailboxes: dict[bytes, _Mailbox] = {}
        self._by_send: dict[bytes, bytes] = {}
        self._feeds: dict[bytes, _Feed] = {}
        self._forwards: dict[int, _Forward] = {}
        self._next_job = 1

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release."""

    async def create_mailbox(
        self, *, recv_id: bytes, send_id: bytes, auth_key: bytes, now: int
    ) -> None:
        if recv_id in self._mailboxes or send_id in self._by_send:
            raise AlreadyExists("mailbox id taken")
        self._mailboxes[recv_id] = _Mailbox(send_id=send_id, auth_key=auth_key)
        self._by_send[send_id] = recv_id

    async def auth_key(self, recv_id: bytes) -> bytes | None:
        mailbox = self._mailboxes.get(recv_id)
        return None if mailbox is None else mailbox.auth_key

    async def delete_mailbox(self, recv_id: bytes) -> None:
        mailbox = self._mailboxes.pop(recv_id, None)
        if mailbox is None:
            raise UnknownMailbox("no such mailbox")
        del self._by_send[mailbox.send_id]

    async def enqueue(self, send_id: bytes, body: bytes, *, now: int) -> tuple[bytes, bytes]:
        recv_id = self._by_send.get(send_id)
        if recv_id is None:
            raise UnknownMailbox("no such mailbox")
        mailbox = self._mailboxes[recv_id]
        if not self._fits(mailbox, len(body)):
            mailbox.purge(now)
            if not self._fits(mailbox, len(body)):
                raise QuotaExceeded("mailbox full")
        env_id = os.urandom(ID_LEN)
        expires_at = now + self.limits.ttl_seconds
        mailbox.envelopes[env_id] = _Envelope(body, expires_at)
        mailbox.size += len(body)
        self._wakeups.fire(recv_id, fresh_envelope(env_id, body, expires_at=expires_at, now=now))
        return recv_id, env_id

    def _fits(self, mailbox: _Mailbox, size: int) -> bool:
        return (
            len(mailbox.envelopes) < self.limits.mailbox_max_count
            and mailbox.size + size <= self.limits.mailbox_max_bytes
        )

    async def fetch(self, recv_id: bytes, *, limit: int, now: int) -> list[StoredEnvelope]:
        mailbox = self._mailboxes.get(recv_id)
        if mailbox is None:
            raise UnknownMailbox("no such mailbox")
        out: list[StoredEnvelope] = []
        for env_id, envelope in mailbox.envelopes.items():
            if len(out) >= limit:
                break
            if envelope.expires_at > now:
                out.append(StoredEnvelope(id=env_id, body=envelope.body))
        return out

    async def ack(self, recv_id: bytes, ids: Sequence[bytes]) -> int:
        mailbox = self._mailboxes.get(recv_id)
        if mailbox is None:
            return 0
        return sum(mailbox.drop(env_id) for env_id in set(ids))

    async def create_feed(self, *, feed_id: bytes, writer_key: bytes, now: int) -> None:
        if feed_id in self._feeds:
            raise AlreadyExists("feed id taken")
        self._feeds[feed_id] = _Feed(writer_key=writer_key)

    async def feed_writer(self, feed_id: bytes) -> bytes | None:
        feed = self._feeds.get(feed_id)
        return None if feed is None else feed.writer_key

    async def append(self, feed_id: bytes, body: bytes, *, now: int) -> int:
        feed = self._feeds.get(feed_id)
        if feed is None:
            raise UnknownFeed("no such feed")
        if len(feed.entries) >= self.limits.feed_max_count:
            raise QuotaExceeded("feed full")
        feed.entries.append(body)
        self._wakeups.fire(feed_id)
        return len(feed.entries) - 1

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int) -> list[FeedEntry]:
        feed = self._feeds.get(feed_id)
        if feed is None:
            raise UnknownFeed("no such feed")
        start = max(offset, 0)
        chunk = feed.entries[start : start + max(limit, 0)]
        return [FeedEntry(offset=start + i, body=body) for i, body in enumerate(chunk)]

    async def enqueue_forward(self, *, target: str, send_id: bytes, body: bytes, now: int) -> int:
        job_id = self._next_job
        self._next_job += 1
        self._forwards[job_id] = _Forward(
            target, send_id, body, next_at=now, expires_at=now + self.limits.ttl_seconds
        )
        return job_id

    async def due_forwards(self, *, now: int, limit: int) -> list[ForwardJob]:
        due = [
            (job.next_at, job_id)
            for job_id, job in self._forwards.items()
            if job.next_at <= now < job.expires_at
        ]
        out: list[ForwardJob] = []
        for _, job_id in sorted(due)[: max(limit, 0)]:
            job = self._forwards[job_id]
            job.next_at = now + FORWARD_LEASE_SECONDS
            out.append(
                ForwardJob(
                    id=job_id,
                    target=job.target,
                    send_id=job.send_id,
                    body=job.body,
                    attempts=job.attempts,
                )
            )
        return out

    async def forward_done(self, job_id: int) -> None:
        self._forwards.pop(job_id, None)

    async def forward_retry(self, job_id: int, *, next_at: int) -> None:
        job = self._forwards.get(job_id)
        if job is not None:
            job.attempts += 1
            job.next_at = next_at

    async def expire(self, *, now: int) -> int:
        dropped = sum(mailbox.purge(now) for mailbox in self._mailboxes.values())
        stale = [k for k, job in self._forwards.items() if job.expires_at <= now]
        for job_id in stale:
            del self._forwards[job_id]
        return dropped + len(stale)

    async def stats(self) -> dict[str, int]:
        boxes = self._mailboxes.values()
        return {
            "mailboxes": len(self._mailboxes),
            "envelopes": sum(len(m.envelopes) for m in boxes),
            "bytes": sum(m.size for m in boxes),
            "feeds": len(self._feeds),
            "forwards": len(self._forwards),
        }

    def on_enqueue(self, callback: Callable[[bytes], None]) -> None:
        self._wakeups.add(callback)

    def on_wake(self, callback: WakeCallback) -> None:
        self._wakeups.add_wake(callback)
