"""The relay's commands: one decoded request in, one answer out, over a ``RelayStore``.

Strategy: no sockets here. A ``Session`` is the state of one connection (its nonce, the
mailboxes and feeds it proved, its subscriptions, what was pushed and not yet acked);
``RelayService.handle`` maps each request type to a small coroutine and turns every store
refusal into an ``Error`` code, so nothing raised by a request escapes. Authentication always
verifies one signature, against a dummy key when the mailbox or feed does not exist, so a
failure takes the same time either way. The ``Hub`` routes the store's wake-ups (also from
other processes on PostgreSQL) to the sessions subscribed to a mailbox; the server's push
task then asks ``pending_pushes`` for what to send.

Pushing: a mailbox is either *caught up* on a session (every stored envelope was pushed
there) or waits for a fetch (just subscribed, woken without an envelope, or a backlog of at
least ``PUSH_BATCH`` pushed and unacked). A wake-up that carries the envelope just stored in
a caught-up mailbox is pushed as it is, without reading the store; otherwise the mailbox is
fetched (oldest ``PUSH_BATCH`` first). Direct envelopes are taken after the fetches of the
same round and only for mailboxes with no fetch pending, so each mailbox's pushes keep store
order; ``pushed`` (ids pushed and not acked) makes every envelope go out once per session,
and acks that complete while a push fetch is reading are held against its (older) result.
A session whose ``Subscribe`` said ``many`` gets its pending pushes as frames from
``pending_frames``: consecutive pushes grouped into ``Pushes`` (bounded by ``MAX_BATCH``
envelopes and about ``PUSHES_BYTES`` of bodies), one alone still a ``Push``; grouping only
cuts the list, so the order is the one ``pending_pushes`` gives.

``SendMany`` stores its items as ``Send`` would, each refused or stored on its own, and answers
one code per item in ``Sent``. Envelopes for one mailbox must be stored in item order: where
the store keeps the order in which writes are submitted (the SQLite writer's queue, the
memory twin) every item is submitted at once, in order, so they share one group commit;
otherwise (PostgreSQL, where concurrent transactions may commit in any order) each item waits
for the write before it to the same mailbox on that session (``Session.writing``), so each
mailbox's items go one after another, and only different mailboxes go concurrently. The
server starts a ``SendMany``'s writes as it reads the frame (``start``), so a pipelined
``Send`` behind it cannot submit its write first.

Invariants: a session serves a mailbox's reads, acks, subscriptions and deletion only after
a valid ``Auth`` on this session's nonce; an ``Ok`` to ``Send``/``Forward`` means durable.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from payk.errors import DecryptionError, UsageError
from payk.protocol import mailbox as mb
from payk.protocol.address import RelayAddress
from payk.protocol.primitives import random_bytes, signing_public_key, verify
from payk.relay.store.base import (
    AlreadyExists,
    QuotaExceeded,
    RelayStore,
    StoredEnvelope,
    UnknownFeed,
    UnknownMailbox,
)

__all__ = ["MAX_ANSWER_BYTES", "Hub", "RelayService", "Session", "group_pushes"]

MAX_ANSWER_BYTES = 1024 * 1024
MAX_PROVEN = 1024
PUSH_BATCH = 100
DIRECT_QUEUE = 1000
_PUSHED_OVERHEAD = 16  # msgpack headers of one Pushed entry, over its ids and body
_log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class Session:
    """What one connection has proved and subscribed to."""

    nonce: bytes
    mailboxes: set[bytes] = field(default_factory=set)
    feeds: set[bytes] = field(default_factory=set)
    subscribed: set[bytes] = field(default_factory=set)
    pushed: dict[bytes, set[bytes]] = field(default_factory=dict)
    pow_used: set[bytes] = field(default_factory=set)
    woken: set[bytes] = field(default_factory=set)
    backlog: set[bytes] = field(default_factory=set)
    direct: list[tuple[bytes, StoredEnvelope]] = field(default_factory=list)
    acked_while_reading: dict[bytes, set[bytes]] = field(default_factory=dict)
    wake_event: asyncio.Event = field(default_factory=asyncio.Event)
    many: bool = False  # a Subscribe said the client reads Pushes
    writing: dict[bytes, asyncio.Task[Any]] = field(default_factory=dict)  # last write per send id

    def written(self, send_id: bytes, write: asyncio.Task[Any]) -> None:
        """A ``SendMany`` item's write finished; forget it if no later one waits on it."""
        if self.writing.get(send_id) is write:
            del self.writing[send_id]

    def wake(self, recv_id: bytes) -> None:
        """Note that ``recv_id`` may have new envelopes to push (found by a fetch)."""
        if recv_id in self.subscribed:
            self.woken.add(recv_id)
            self.wake_event.set()

    def offer(self, recv_id: bytes, envelope: StoredEnvelope) -> None:
        """Hand on an envelope just stored in ``recv_id``, to push without a fetch."""
        if recv_id not in self.subscribed:
            return
        if len(self.direct) >= DIRECT_QUEUE:
            self.wake(recv_id)  # a slow reader: the store keeps the bodies, not this queue
            return
        self.direct.append((recv_id, envelope))
        self.wake_event.set()

    def take_woken(self) -> set[bytes]:
        """The mailboxes woken since the last call."""
        woken, self.woken = self.woken, set()
        self.wake_event.clear()
        return woken

    def take_direct(self) -> list[tuple[bytes, StoredEnvelope]]:
        """The envelopes offered since the last call, in commit order."""
        direct, self.direct = self.direct, []
        return direct


class Hub:
    """Which sessions are subscribed to which mailbox; fed by the store's wake-ups."""

    def __init__(self) -> None:
        self._subscribers: dict[bytes, set[Session]] = {}

    def add(self, recv_id: bytes, session: Session) -> None:
        self._subscribers.setdefault(recv_id, set()).add(session)

    def discard(self, recv_id: bytes, session: Session) -> None:
        sessions = self._subscribers.get(recv_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._subscribers[recv_id]

    def notify(self, key: bytes, envelope: StoredEnvelope | None = None) -> None:
        """A durable write happened for mailbox (or feed) ``key``; ``envelope`` if known."""
        sessions = self._subscribers.get(key)
        if not sessions:
            return
        for session in tuple(sessions):
            if envelope is None:
                session.wake(key)
            else:
                session.offer(key, envelope)

    def __len__(self) -> int:
        return len(self._subscribers)


Handler = Callable[[Session, Any], Awaitable[mb.Response]]


class RelayService:
    """Executes relay requests against a store."""

    def __init__(
        self,
        store: RelayStore,
        *,
        pow_bits: int = 0,
        own_fingerprint: bytes | None = None,
        clock: Callable[[], int] = lambda: int(time.time()),
        on_forward: Callable[[], None] = lambda: None,
        on_answer: Callable[[str, str], None] = lambda command, code: None,
        ordered_writes: bool = True,
    ) -> None:
        """``ordered_writes``: the store's writes complete in the order they were submitted
        (so one mailbox's items of a ``SendMany`` may be submitted together)."""
        self.store = store
        self.hub = Hub()
        self.pow_bits = pow_bits
        self._own_fingerprint = own_fingerprint
        self._clock = clock
        self._on_forward = on_forward
        self._on_answer = on_answer
        self._ordered_writes = ordered_writes
        self._dummy_key = signing_public_key(random_bytes(32))
        store.on_wake(self.hub.notify)
        self._handlers: dict[type[Any], Handler] = {
            mb.CreateMailbox: self._create_mailbox,
            mb.Auth: self._auth,
            mb.Send: self._send,
            mb.SendMany: self._send_many,
            mb.Forward: self._forward,
            mb.Fetch: self._fetch,
            mb.Ack: self._ack,
            mb.Subscribe: self._subscribe,
            mb.Unsubscribe: self._unsubscribe,
            mb.DeleteMailbox: self._delete_mailbox,
            mb.CreateFeed: self._create_feed,
            mb.FeedAuth: self._feed_auth,
            mb.Append: self._append,
            mb.ReadFeed: self._read_feed,
            mb.Ping: self._ping,
        }

    # --- sessions -------------------------------------------------------------------------

    def open_session(self) -> Session:
        """A new connection's state, with a fresh nonce."""
        return Session(nonce=random_bytes(mb.NONCE_LEN))

    def challenge(self, session: Session) -> mb.Challenge:
        """The first frame the relay sends on a connection."""
        return mb.Challenge(nonce=session.nonce, pow_bits=self.pow_bits)

    def close_session(self, session: Session) -> None:
        """Forget a connection's subscriptions."""
        for recv_id in session.subscribed:
            self.hub.discard(recv_id, session)
        session.subscribed.clear()

    async def handle(self, session: Session, request: mb.Request) -> mb.Response:
        """The answer to one request; never raises for anything the peer or store does."""
        return await self._answered(request, self._handlers[type(request)](session, request))

    def start(self, session: Session, request: mb.Request) -> Coroutine[Any, Any, mb.Response]:
        """``handle``, with a ``SendMany``'s writes begun before this returns.

        The server calls this as it reads each pipelined frame: a ``Send`` submits its write
        in its task's first step, and the items of a ``SendMany`` are submitted by tasks
        started here, in item order, so no write of a later frame overtakes them.
        """
        if isinstance(request, mb.SendMany):
            writes = self._start_writes(session, request)
            return self._answered(request, self._sent(request, writes))
        return self.handle(session, request)

    async def _answered(self, request: mb.Request, work: Awaitable[mb.Response]) -> mb.Response:
        name = type(request).__name__
        try:
            answer = await work
        except Exception as exc:
            code = _refusal_code(name, exc)
            answer = _error(request, code, _DETAILS[code])
        if isinstance(answer, mb.Sent):  # counted per envelope, as Send is
            for item_code in answer.codes:
                self._on_answer(name, item_code or "OK")
        else:
            self._on_answer(name, answer.code if isinstance(answer, mb.Error) else "OK")
        return answer

    def ack_unheard(self, session: Session, request: mb.Request) -> None:
        """A quiet ``Ack`` failed, and its client will not hear of it: its envelopes become
        due again on this session (pushed once more; the client drops what it already has and
        acks again), instead of staying "pushed" until the connection ends."""
        if not isinstance(request, mb.Ack) or not request.quiet:
            return
        seen = session.pushed.get(request.recv_id)
        if seen is not None and request.recv_id in session.subscribed:
            seen.difference_update(request.ids)
            session.wake(request.recv_id)

    async def pending_frames(self, session: Session) -> list[mb.Push | mb.Pushes]:
        """The pending pushes as the frames to send: grouped if the session reads ``Pushes``."""
        pushes = await self.pending_pushes(session)
        if session.many:
            return group_pushes(pushes)
        return list(pushes)

    async def pending_pushes(self, session: Session) -> list[mb.Push]:
        """Envelopes of woken, subscribed mailboxes not yet pushed on this session."""
        pushes: list[mb.Push] = []
        for recv_id in session.take_woken():
            if recv_id not in session.subscribed:
                continue
            session.acked_while_reading[recv_id] = set()
            try:
                stored = await self.store.fetch(recv_id, limit=PUSH_BATCH, now=self._clock())
            except UnknownMailbox:
                self._drop_subscription(session, recv_id)
                continue
            finally:
                late_acks = session.acked_while_reading.pop(recv_id, set())
            full = len(stored) >= PUSH_BATCH
            if late_acks:  # the read began before these acks: they are gone, not new
                stored = [envelope for envelope in stored if envelope.id not in late_acks]
            seen = session.pushed.setdefault(recv_id, set())
            if full:
                session.backlog.add(recv_id)  # more may wait: look again after acks
            else:
                session.backlog.discard(recv_id)
                # the whole mailbox was read: pushed ids not in it are acked or expired
                seen.intersection_update(envelope.id for envelope in stored)
            for envelope in stored:
                if envelope.id not in seen:
                    seen.add(envelope.id)
                    item = mb.Item(id=envelope.id, body=envelope.body)
                    pushes.append(mb.Push(recv_id=recv_id, item=item))
        for recv_id, envelope in session.take_direct():
            if recv_id not in session.subscribed or recv_id in session.woken:
                continue  # unsubscribed, or the fetch already due will find it
            seen = session.pushed.setdefault(recv_id, set())
            if recv_id in session.backlog or len(seen) >= PUSH_BATCH:
                session.wake(recv_id)  # not caught up: a fetch keeps the order
            elif envelope.id not in seen:
                seen.add(envelope.id)
                item = mb.Item(id=envelope.id, body=envelope.body)
                pushes.append(mb.Push(recv_id=recv_id, item=item))
        return pushes

    # --- mailboxes ------------------------------------------------------------------------

    async def _create_mailbox(self, session: Session, req: mb.CreateMailbox) -> mb.Response:
        if self.pow_bits and (
            req.auth_key in session.pow_used
            or not mb.pow_valid(session.nonce, req.auth_key, req.pow, self.pow_bits)
        ):
            return _error(req, mb.ErrorCode.POW_REQUIRED, "solve the proof of work first")
        session.pow_used.add(req.auth_key)
        now = self._clock()
        for _ in range(3):
            recv_id, send_id = random_bytes(mb.ID_LEN), random_bytes(mb.ID_LEN)
            try:
                await self.store.create_mailbox(
                    recv_id=recv_id, send_id=send_id, auth_key=req.auth_key, now=now
                )
            except AlreadyExists:
                continue
            return mb.MailboxCreated(rid=req.rid, recv_id=recv_id, send_id=send_id)
        return _error(req, mb.ErrorCode.UNAVAILABLE, "could not allocate a mailbox")

    async def _auth(self, session: Session, req: mb.Auth) -> mb.Response:
        key = await self.store.auth_key(req.recv_id)
        message = mb.auth_message(session.nonce, req.recv_id)
        if not self._verified(key, message, req.sig) or len(session.mailboxes) >= MAX_PROVEN:
            return _error(req, mb.ErrorCode.UNAUTHORIZED, "authentication failed")
        session.mailboxes.add(req.recv_id)
        return mb.Ok(rid=req.rid)

    def _verified(self, key: bytes | None, message: bytes, sig: bytes) -> bool:
        try:
            verify(key if key is not None else self._dummy_key, message, sig)
        except DecryptionError:
            return False
        return key is not None

    async def _send(self, session: Session, req: mb.Send) -> mb.Response:
        await self.store.enqueue(req.send_id, req.body, now=self._clock())
        return mb.Ok(rid=req.rid)

    async def _send_many(self, session: Session, req: mb.SendMany) -> mb.Response:
        return await self._sent(req, self._start_writes(session, req))

    def _start_writes(self, session: Session, req: mb.SendMany) -> list[asyncio.Task[Any]]:
        """One task per item, created in item order (so the store gets them in that order).

        Where the store may commit concurrent writes in any order, each item's write waits
        for the one before it to the same mailbox on this session (this frame's or an
        earlier one's).
        """
        now = self._clock()
        writes: list[asyncio.Task[Any]] = []
        for item in req.items:
            if self._ordered_writes:
                write = asyncio.ensure_future(self.store.enqueue(item.send_id, item.body, now=now))
            else:
                before = session.writing.get(item.send_id)
                write = asyncio.ensure_future(self._enqueue_after(before, item, now))
                session.writing[item.send_id] = write
                write.add_done_callback(functools.partial(session.written, item.send_id))
            write.add_done_callback(_retrieve)  # read even if no answer awaits it any more
            writes.append(write)
        return writes

    async def _enqueue_after(
        self, before: asyncio.Task[Any] | None, item: mb.SendItem, now: int
    ) -> tuple[bytes, bytes]:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own
        return await self.store.enqueue(item.send_id, item.body, now=now)

    async def _sent(self, req: mb.SendMany, writes: list[asyncio.Task[Any]]) -> mb.Response:
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        return mb.Sent(rid=req.rid, codes=[_outcome_code(outcome) for outcome in outcomes])

    async def _forward(self, session: Session, req: mb.Forward) -> mb.Response:
        try:
            target = RelayAddress.parse(req.relay)
        except UsageError:
            return _error(req, mb.ErrorCode.BAD_TARGET, "not a relay address")
        if target.fingerprint == self._own_fingerprint:
            await self.store.enqueue(req.send_id, req.body, now=self._clock())
            return mb.Ok(rid=req.rid)
        await self.store.enqueue_forward(
            target=str(target), send_id=req.send_id, body=req.body, now=self._clock()
        )
        self._on_forward()
        return mb.Ok(rid=req.rid)

    async def _fetch(self, session: Session, req: mb.Fetch) -> mb.Response:
        if req.recv_id not in session.mailboxes:
            return _unauthorized(req)
        stored = await self.store.fetch(req.recv_id, limit=req.limit, now=self._clock())
        items: list[mb.Item] = []
        budget = MAX_ANSWER_BYTES
        for envelope in stored:
            budget -= len(envelope.body) + 64
            if budget < 0 and items:
                break
            items.append(mb.Item(id=envelope.id, body=envelope.body))
        return mb.Envelopes(rid=req.rid, items=items)

    async def _ack(self, session: Session, req: mb.Ack) -> mb.Response:
        if req.recv_id not in session.mailboxes:
            return _unauthorized(req)
        await self.store.ack(req.recv_id, req.ids)
        reading = session.acked_while_reading.get(req.recv_id)
        if reading is not None:
            reading.update(req.ids)
        seen = session.pushed.get(req.recv_id)
        if seen is not None:
            seen.difference_update(req.ids)
            if req.recv_id in session.backlog:
                session.wake(req.recv_id)
        return mb.Ok(rid=req.rid)

    async def _subscribe(self, session: Session, req: mb.Subscribe) -> mb.Response:
        if req.recv_id not in session.mailboxes:
            return _unauthorized(req)
        session.subscribed.add(req.recv_id)
        session.many = session.many or req.many
        self.hub.add(req.recv_id, session)
        session.wake(req.recv_id)
        return mb.Ok(rid=req.rid)

    async def _unsubscribe(self, session: Session, req: mb.Unsubscribe) -> mb.Response:
        self._drop_subscription(session, req.recv_id)
        return mb.Ok(rid=req.rid)

    def _drop_subscription(self, session: Session, recv_id: bytes) -> None:
        session.subscribed.discard(recv_id)
        session.backlog.discard(recv_id)
        session.pushed.pop(recv_id, None)
        self.hub.discard(recv_id, session)

    async def _delete_mailbox(self, session: Session, req: mb.DeleteMailbox) -> mb.Response:
        if req.recv_id not in session.mailboxes:
            return _unauthorized(req)
        await self.store.delete_mailbox(req.recv_id)
        self._drop_subscription(session, req.recv_id)
        session.mailboxes.discard(req.recv_id)
        return mb.Ok(rid=req.rid)

    # --- feeds ----------------------------------------------------------------------------

    async def _create_feed(self, session: Session, req: mb.CreateFeed) -> mb.Response:
        for _ in range(3):
            feed_id = random_bytes(mb.ID_LEN)
            try:
                await self.store.create_feed(
                    feed_id=feed_id, writer_key=req.writer_key, now=self._clock()
                )
            except AlreadyExists:
                continue
            return mb.FeedCreated(rid=req.rid, feed_id=feed_id)
        return _error(req, mb.ErrorCode.UNAVAILABLE, "could not allocate a feed")

    async def _feed_auth(self, session: Session, req: mb.FeedAuth) -> mb.Response:
        key = await self.store.feed_writer(req.feed_id)
        message = mb.feed_auth_message(session.nonce, req.feed_id)
        if not self._verified(key, message, req.sig) or len(session.feeds) >= MAX_PROVEN:
            return _error(req, mb.ErrorCode.UNAUTHORIZED, "authentication failed")
        session.feeds.add(req.feed_id)
        return mb.Ok(rid=req.rid)

    async def _append(self, session: Session, req: mb.Append) -> mb.Response:
        if req.feed_id not in session.feeds:
            return _unauthorized(req)
        offset = await self.store.append(req.feed_id, req.body, now=self._clock())
        return mb.Appended(rid=req.rid, offset=offset)

    async def _read_feed(self, session: Session, req: mb.ReadFeed) -> mb.Response:
        entries = await self.read_feed(req.feed_id, offset=req.offset, limit=req.limit)
        return mb.FeedEntries(rid=req.rid, entries=entries)

    async def read_feed(self, feed_id: bytes, *, offset: int, limit: int) -> list[mb.FeedEntry]:
        """Feed entries from ``offset``, bounded in bytes (also serves plain HTTP GETs).

        Raises:
            UnknownFeed: no feed has this id.
        """
        stored = await self.store.read_feed(feed_id, offset=offset, limit=limit)
        entries: list[mb.FeedEntry] = []
        budget = MAX_ANSWER_BYTES
        for entry in stored:
            budget -= len(entry.body) + 16
            if budget < 0 and entries:
                break
            entries.append(mb.FeedEntry(offset=entry.offset, body=entry.body))
        return entries

    async def _ping(self, session: Session, req: mb.Ping) -> mb.Response:
        return mb.Ok(rid=req.rid)


def group_pushes(
    pushes: Sequence[mb.Push], *, max_count: int = mb.MAX_BATCH, max_bytes: int = mb.PUSHES_BYTES
) -> list[mb.Push | mb.Pushes]:
    """Consecutive pushes in as few frames as the bounds allow, in the same order.

    A frame takes pushes until the next would pass ``max_count`` envelopes or ``max_bytes``
    (bodies, ids and entry headers); a push that fills a frame alone (or is left alone) is
    sent as a plain ``Push``.
    """
    frames: list[mb.Push | mb.Pushes] = []
    group: list[mb.Push] = []
    size = 0
    for push in pushes:
        cost = len(push.item.body) + len(push.item.id) + len(push.recv_id) + _PUSHED_OVERHEAD
        if group and (len(group) >= max_count or size + cost > max_bytes):
            frames.append(_frame(group))
            group, size = [], 0
        group.append(push)
        size += cost
    if group:
        frames.append(_frame(group))
    return frames


def _frame(group: list[mb.Push]) -> mb.Push | mb.Pushes:
    if len(group) == 1:
        return group[0]
    return mb.Pushes(items=[mb.Pushed(recv_id=p.recv_id, item=p.item) for p in group])


_DETAILS = {
    mb.ErrorCode.UNKNOWN: "no such mailbox or feed",
    mb.ErrorCode.QUOTA: "the mailbox or feed is full",
    mb.ErrorCode.UNAVAILABLE: "the relay could not do that now",
}


def _refusal_code(name: str, exc: BaseException) -> str:
    """The error code for a request (or one ``SendMany`` item) that raised ``exc``."""
    if isinstance(exc, UnknownMailbox | UnknownFeed):
        return mb.ErrorCode.UNKNOWN
    if isinstance(exc, QuotaExceeded):
        return mb.ErrorCode.QUOTA
    _log.error("a %s request failed: %s", name, type(exc).__name__)
    return mb.ErrorCode.UNAVAILABLE


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _outcome_code(outcome: object) -> str:
    """One ``Sent`` code: "" for a stored envelope, else the code of the refusal."""
    if isinstance(outcome, BaseException):
        if not isinstance(outcome, Exception):
            raise outcome  # a cancellation is not an item's outcome
        return _refusal_code("SendMany", outcome)
    return ""


def _error(request: mb.Request, code: str, detail: str) -> mb.Error:
    return mb.Error(rid=request.rid, code=code, detail=detail)


def _unauthorized(request: mb.Request) -> mb.Error:
    return _error(request, mb.ErrorCode.UNAUTHORIZED, "authenticate for this mailbox or feed")
