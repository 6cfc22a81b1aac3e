"""A Hypothesis state machine over the relay service: sends, fetches, acks that are dropped,
duplicated and reordered, reconnections and replayed authentications.

Model: the list of envelopes sent and not yet acked, in send order. Invariant: a fetch
returns exactly that list, whatever happened before (at-least-once, nothing lost, nothing
acked comes back), and an authentication signed for another connection never works.
"""

from __future__ import annotations

import asyncio

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from payk.protocol import mailbox as mb
from payk.protocol.primitives import sign, signing_key_generate, signing_public_key
from payk.relay.service import RelayService
from payk.relay.store.memory import MemoryStore


class RelayMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = MemoryStore()
        self.run(self.store.open())
        self.service = RelayService(self.store, clock=lambda: 1_000)
        self.seed = signing_key_generate()
        self.pending: list[bytes] = []
        self.known_ids: dict[bytes, bytes] = {}  # envelope id -> body
        self.counter = 0
        self.old_nonces: list[bytes] = []

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    def ask(self, request: mb.Request) -> mb.Response:
        return self.run(self.service.handle(self.session, request))  # type: ignore[no-any-return]

    def _connect(self) -> None:
        self.session = self.service.open_session()
        message = mb.auth_message(self.session.nonce, self.recv_id)
        answer = self.ask(mb.Auth(rid=1, recv_id=self.recv_id, sig=sign(self.seed, message)))
        assert answer == mb.Ok(rid=1)

    @initialize()
    def create(self) -> None:
        self.session = self.service.open_session()
        key = signing_public_key(self.seed)
        created = self.ask(mb.CreateMailbox(rid=1, auth_key=key))
        assert isinstance(created, mb.MailboxCreated)
        self.recv_id, self.send_id = created.recv_id, created.send_id
        self._connect()

    @rule()
    def send(self) -> None:
        self.counter += 1
        body = b"envelope %d" % self.counter
        assert self.ask(mb.Send(rid=2, send_id=self.send_id, body=body)) == mb.Ok(rid=2)
        self.pending.append(body)

    @rule(data=st.data())
    def ack_dropped_duplicated_reordered(self, data: st.DataObject) -> None:
        if not self.known_ids:
            return
        ids = data.draw(st.lists(st.sampled_from(sorted(self.known_ids)), max_size=6))
        assert self.ask(mb.Ack(rid=3, recv_id=self.recv_id, ids=ids)) == mb.Ok(rid=3)
        acked = {self.known_ids[i] for i in ids}
        self.pending = [body for body in self.pending if body not in acked]

    @rule()
    def reconnect(self) -> None:
        self.old_nonces.append(self.session.nonce)
        self.service.close_session(self.session)
        self._connect()

    @rule(data=st.data())
    def replay_an_old_authentication(self, data: st.DataObject) -> None:
        if not self.old_nonces:
            return
        nonce = data.draw(st.sampled_from(self.old_nonces))
        fresh = self.service.open_session()
        sig = sign(self.seed, mb.auth_message(nonce, self.recv_id))
        answer = self.run(self.service.handle(fresh, mb.Auth(rid=4, recv_id=self.recv_id, sig=sig)))
        assert isinstance(answer, mb.Error) and answer.code == "UNAUTHORIZED"
        fetch = self.run(self.service.handle(fresh, mb.Fetch(rid=5, recv_id=self.recv_id)))
        assert isinstance(fetch, mb.Error) and fetch.code == "UNAUTHORIZED"

    @invariant()
    def fetch_returns_exactly_what_is_pending(self) -> None:
        if not hasattr(self, "recv_id"):
            return
        answer = self.ask(mb.Fetch(rid=6, recv_id=self.recv_id, limit=mb.MAX_BATCH))
        assert isinstance(answer, mb.Envelopes)
        assert [item.body for item in answer.items] == self.pending
        self.known_ids.update({item.id: item.body for item in answer.items})


RelayMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestRelayMachine = RelayMachine.TestCase
