"""The relay's commands over the in-memory store: a client and a relay in one process.

``Pair`` plays the client's part of the protocol by hand (sign the nonce, send requests), so
each test reads like the exchange it checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from payk.protocol import mailbox as mb
from payk.protocol.primitives import sign, signing_key_generate, signing_public_key
from payk.relay.service import RelayService, Session
from payk.relay.store import Limits
from payk.relay.store.memory import MemoryStore

NOW = 1_000_000


@dataclass
class Owned:
    recv_id: bytes
    send_id: bytes
    seed: bytes


class Pair:
    """One relay service and one session talking to it."""

    def __init__(self, service: RelayService) -> None:
        self.service = service
        self.session: Session = service.open_session()
        self.rid = 0

    async def ask(self, build: type, **fields: object) -> mb.Response:
        self.rid += 1
        return await self.service.handle(self.session, build(rid=self.rid, **fields))

    async def create(self) -> Owned:
        seed = signing_key_generate()
        key = signing_public_key(seed)
        pow_ = mb.solve_pow(self.session.nonce, key, self.service.pow_bits)
        answer = await self.ask(mb.CreateMailbox, auth_key=key, pow=pow_)
        assert isinstance(answer, mb.MailboxCreated)
        return Owned(answer.recv_id, answer.send_id, seed)

    async def auth(self, box: Owned, *, nonce: bytes | None = None) -> mb.Response:
        message = mb.auth_message(nonce or self.session.nonce, box.recv_id)
        return await self.ask(mb.Auth, recv_id=box.recv_id, sig=sign(box.seed, message))


@pytest.fixture
async def service() -> RelayService:
    store = MemoryStore(limits=Limits(mailbox_max_count=3))
    await store.open()
    return RelayService(store, clock=lambda: NOW)


def _code(answer: mb.Response) -> str:
    return answer.code if isinstance(answer, mb.Error) else "OK"


async def test_send_then_authenticated_fetch(service: RelayService) -> None:
    pair = Pair(service)
    box = await pair.create()
    assert _code(await pair.ask(mb.Send, send_id=box.send_id, body=b"hi")) == "OK"
    assert _code(await pair.ask(mb.Fetch, recv_id=box.recv_id)) == "UNAUTHORIZED"
    assert _code(await pair.auth(box)) == "OK"
    answer = await pair.ask(mb.Fetch, recv_id=box.recv_id)
    assert isinstance(answer, mb.Envelopes)
    assert [item.body for item in answer.items] == [b"hi"]


async def test_auth_signed_for_another_connection_fails(service: RelayService) -> None:
    first, second = Pair(service), Pair(service)
    box = await first.create()
    assert _code(await second.auth(box, nonce=first.session.nonce)) == "UNAUTHORIZED"
    assert _code(await second.ask(mb.Ack, recv_id=box.recv_id, ids=[b"x"])) == "UNAUTHORIZED"
    assert _code(await second.auth(box)) == "OK"


async def test_auth_for_unknown_mailbox_fails_like_a_wrong_key(service: RelayService) -> None:
    pair = Pair(service)
    ghost = Owned(b"g" * 16, b"s" * 16, signing_key_generate())
    real = await pair.create()
    wrong = Owned(real.recv_id, real.send_id, signing_key_generate())
    unknown, forged = await pair.auth(ghost), await pair.auth(wrong)
    assert isinstance(unknown, mb.Error) and isinstance(forged, mb.Error)
    assert (unknown.code, unknown.detail) == (forged.code, forged.detail)
    assert unknown.code == "UNAUTHORIZED"


async def test_quota_answer_is_explicit(service: RelayService) -> None:
    pair = Pair(service)
    box = await pair.create()
    codes = [_code(await pair.ask(mb.Send, send_id=box.send_id, body=b"x")) for _ in range(4)]
    assert codes == ["OK", "OK", "OK", "QUOTA"]


async def test_unknown_send_id_is_unknown(service: RelayService) -> None:
    pair = Pair(service)
    assert _code(await pair.ask(mb.Send, send_id=b"n" * 16, body=b"x")) == "UNKNOWN"


async def test_ack_removes_and_delete_forgets(service: RelayService) -> None:
    pair = Pair(service)
    box = await pair.create()
    await pair.ask(mb.Send, send_id=box.send_id, body=b"a")
    await pair.auth(box)
    fetched = await pair.ask(mb.Fetch, recv_id=box.recv_id)
    assert isinstance(fetched, mb.Envelopes)
    await pair.ask(mb.Ack, recv_id=box.recv_id, ids=[fetched.items[0].id])
    again = await pair.ask(mb.Fetch, recv_id=box.recv_id)
    assert isinstance(again, mb.Envelopes) and again.items == []
    assert _code(await pair.ask(mb.DeleteMailbox, recv_id=box.recv_id)) == "OK"
    assert _code(await pair.ask(mb.Fetch, recv_id=box.recv_id)) == "UNAUTHORIZED"
    assert _code(await pair.ask(mb.Send, send_id=box.send_id, body=b"b")) == "UNKNOWN"


async def test_subscription_pushes_each_envelope_once_until_acked(
    service: RelayService,
) -> None:
    owner, contact = Pair(service), Pair(service)
    box = await owner.create()
    await owner.auth(box)
    assert _code(await owner.ask(mb.Subscribe, recv_id=box.recv_id)) == "OK"
    assert await service.pending_pushes(owner.session) == []
    await contact.ask(mb.Send, send_id=box.send_id, body=b"p1")
    assert owner.session.wake_event.is_set()
    pushes = await service.pending_pushes(owner.session)
    assert [p.item.body for p in pushes] == [b"p1"]
    await contact.ask(mb.Send, send_id=box.send_id, body=b"p2")
    assert [p.item.body for p in await service.pending_pushes(owner.session)] == [b"p2"]
    service.close_session(owner.session)
    await contact.ask(mb.Send, send_id=box.send_id, body=b"p3")
    assert not owner.session.wake_event.is_set()


async def test_proof_of_work_is_required_when_configured() -> None:
    store = MemoryStore()
    await store.open()
    service = RelayService(store, pow_bits=8, clock=lambda: NOW)
    pair = Pair(service)
    key = signing_public_key(signing_key_generate())
    answer = await pair.ask(mb.CreateMailbox, auth_key=key, pow=b"")
    assert _code(answer) == "POW_REQUIRED" or mb.pow_valid(pair.session.nonce, key, b"", 8)
    box = await pair.create()
    assert box.recv_id
    reused = await pair.ask(
        mb.CreateMailbox,
        auth_key=signing_public_key(box.seed),
        pow=mb.solve_pow(pair.session.nonce, signing_public_key(box.seed), 8),
    )
    assert _code(reused) == "POW_REQUIRED"


async def test_feed_append_needs_the_writer_key(service: RelayService) -> None:
    pair = Pair(service)
    seed = signing_key_generate()
    created = await pair.ask(mb.CreateFeed, writer_key=signing_public_key(seed))
    assert isinstance(created, mb.FeedCreated)
    feed_id = created.feed_id
    assert _code(await pair.ask(mb.Append, feed_id=feed_id, body=b"p")) == "UNAUTHORIZED"
    wrong = sign(signing_key_generate(), mb.feed_auth_message(pair.session.nonce, feed_id))
    assert _code(await pair.ask(mb.FeedAuth, feed_id=feed_id, sig=wrong)) == "UNAUTHORIZED"
    right = sign(seed, mb.feed_auth_message(pair.session.nonce, feed_id))
    assert _code(await pair.ask(mb.FeedAuth, feed_id=feed_id, sig=right)) == "OK"
    assert await pair.ask(mb.Append, feed_id=feed_id, body=b"p") == mb.Appended(rid=5, offset=0)
    read = await Pair(service).ask(mb.ReadFeed, feed_id=feed_id, offset=0)
    assert isinstance(read, mb.FeedEntries) and read.entries == [mb.FeedEntry(offset=0, body=b"p")]
    assert _code(await pair.ask(mb.ReadFeed, feed_id=b"u" * 16, offset=0)) == "UNKNOWN"


async def test_forward_queues_for_other_relays_and_refuses_bad_targets(
    service: RelayService,
) -> None:
    pair = Pair(service)
    other = "payk://" + "A" * 43 + "@relay.example:443"
    assert _code(await pair.ask(mb.Forward, relay=other, send_id=b"s" * 16, body=b"x")) == "OK"
    jobs = await service.store.due_forwards(now=NOW, limit=10)
    assert [(job.target, job.body) for job in jobs] == [(other, b"x")]
    bad = await pair.ask(mb.Forward, relay="http://nope", send_id=b"s" * 16, body=b"x")
    assert _code(bad) == "BAD_TARGET"


async def test_a_failing_store_becomes_unavailable_not_an_exception(
    service: RelayService,
) -> None:
    pair = Pair(service)

    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    service.store.enqueue = broken  # type: ignore[method-assign]
    assert _code(await pair.ask(mb.Send, send_id=b"s" * 16, body=b"x")) == "UNAVAILABLE"


async def test_a_backlog_beyond_one_push_batch_flows_after_acks() -> None:
    store = MemoryStore()
    await store.open()
    service = RelayService(store, clock=lambda: NOW)
    owner, contact = Pair(service), Pair(service)
    box = await owner.create()
    for i in range(150):
        await contact.ask(mb.Send, send_id=box.send_id, body=b"%d" % i)
    await owner.auth(box)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id)
    first = await service.pending_pushes(owner.session)
    assert len(first) == 100
    assert await service.pending_pushes(owner.session) == []  # nothing new until acks
    await owner.ask(mb.Ack, recv_id=box.recv_id, ids=[p.item.id for p in first])
    second = await service.pending_pushes(owner.session)
    assert [p.item.body for p in second] == [b"%d" % i for i in range(100, 150)]
    await owner.ask(mb.Ack, recv_id=box.recv_id, ids=[p.item.id for p in second])
    assert not owner.session.wake_event.is_set()  # no backlog: an ack wakes nothing


async def test_a_quiet_ack_that_failed_makes_its_envelopes_due_again(
    service: RelayService,
) -> None:
    owner, contact = Pair(service), Pair(service)
    box = await owner.create()
    await owner.auth(box)
    await owner.ask(mb.Subscribe, recv_id=box.recv_id, many=True)
    await contact.ask(mb.Send, send_id=box.send_id, body=b"p1")
    [pushed] = await service.pending_pushes(owner.session)
    assert await service.pending_pushes(owner.session) == []  # pushed once, not again
    failed = mb.Ack(rid=99, recv_id=box.recv_id, ids=[pushed.item.id], quiet=True)
    service.ack_unheard(owner.session, failed)  # as the server does when it answers an Error
    assert owner.session.wake_event.is_set()
    again = await service.pending_pushes(owner.session)
    assert [p.item.body for p in again] == [b"p1"]
    loud = mb.Ack(rid=100, recv_id=box.recv_id, ids=[pushed.item.id])
    service.ack_unheard(owner.session, loud)  # its client hears the error and reconnects
    assert await service.pending_pushes(owner.session) == []
