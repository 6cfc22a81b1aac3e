"""Hypothesis: the memory twin against a plain model under random enqueue/ack/expire/time.

The memory store never suspends, so each coroutine is driven to completion by hand; this
keeps examples cheap (no event loop per step).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from payk.relay.store import Limits, QuotaExceeded
from payk.relay.store.memory import MemoryStore

T = TypeVar("T")
LIMITS = Limits(mailbox_max_count=5, mailbox_max_bytes=40, ttl_seconds=10)
RECV, SEND = b"r" * 16, b"s" * 16


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the memory store suspended")


class MailboxModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore(limits=LIMITS)
        run(self.store.create_mailbox(recv_id=RECV, send_id=SEND, auth_key=b"k", now=0))
        self.now = 0
        self.model: list[tuple[bytes, bytes, int]] = []  # id, body, expires_at
        self.acked: list[bytes] = []

    def live(self) -> list[tuple[bytes, bytes, int]]:
        return [e for e in self.model if e[2] > self.now]

    @rule(size=st.integers(0, 25))
    def enqueue(self, size: int) -> None:
        body = bytes([len(self.model) % 256]) * size

        def fits(stored: list[tuple[bytes, bytes, int]]) -> bool:
            return len(stored) < 5 and sum(len(e[1]) for e in stored) + size <= 40

        if not fits(self.model):  # expired envelopes are purged only to make room
            self.model = self.live()
        try:
            _, env_id = run(self.store.enqueue(SEND, body, now=self.now))
        except QuotaExceeded:
            assert not fits(self.model)
            return
        assert fits(self.model)
        self.model.append((env_id, body, self.now + 10))

    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        known = [e[0] for e in self.model] + self.acked
        chosen = data.draw(st.lists(st.sampled_from(known), max_size=4)) if known else []
        removed = run(self.store.ack(RECV, chosen))
        assert removed == len({e[0] for e in self.model} & set(chosen))
        self.acked += [e[0] for e in self.model if e[0] in chosen]
        self.model = [e for e in self.model if e[0] not in chosen]

    @rule(step=st.integers(0, 6))
    def time_passes(self, step: int) -> None:
        self.now += step

    @rule()
    def expire(self) -> None:
        dropped = run(self.store.expire(now=self.now))
        assert dropped == len(self.model) - len(self.live())
        self.model = self.live()

    @invariant()
    def fetch_matches_model(self) -> None:
        got = run(self.store.fetch(RECV, limit=100, now=self.now))
        assert [(e.id, e.body) for e in got] == [(e[0], e[1]) for e in self.live()]

    @invariant()
    def quota_holds(self) -> None:
        stats = run(self.store.stats())
        assert stats["envelopes"] <= 5 and stats["bytes"] <= 40


MailboxModel.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestMailboxModel = MailboxModel.TestCase
