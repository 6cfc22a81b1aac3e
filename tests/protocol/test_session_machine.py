"""A Hypothesis state machine drives two sessions over a hostile network.

The network drops, duplicates, reorders, replays, reflects and tampers with envelopes, and
both sides restart (persist and reload) at random. Invariants: every plaintext delivered is
exactly what was sent, at most once; every refusal changes no state; a fresh envelope opens.

One exception is Olm's own: a receiver keeps the keys of its last five receiving chains, so a
message delayed across more ratchet turns than that cannot be decrypted (docs/protocol.md,
"Reordering"). The machine models chains (a sender starts a new one when it sends after
opening anything: an over-approximation of Olm's rule, so it never demands too much) and lets
exactly the messages at least ``STALE_TURNS`` chains old fail, with DecryptionError. The
in-flight queue per direction is bounded (the oldest is dropped) so Olm's 40 skipped keys per
chain are never exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from payk.errors import DecryptionError, RemoteProtocolError, ReplayError
from payk.protocol.identity import Identity
from payk.protocol.session import PairwiseSession, SessionConfig

from .pairs import STORAGE_KEY, invitation_for, snapshot

CONFIG = SessionConfig(epoch_messages=2, epoch_seconds=50, grace_seconds=10**6, max_skip=50)
MAX_IN_FLIGHT = 3
STALE_TURNS = 5
SIDES = ("alice", "bob")


@dataclass
class Flight:
    data: bytes
    plaintext: bytes
    serial: int
    chain: int


class TwoSessions(RuleBasedStateMachine):
    sessions: dict[str, PairwiseSession]

    @initialize()
    def handshake(self) -> None:
        self.now = 1000
        self.serial = 0
        alice_id, bob_id = Identity.generate(), Identity.generate()
        invitation, secret = invitation_for(alice_id, now=self.now)
        bob = PairwiseSession.accept(bob_id, invitation, now=self.now, config=CONFIG)
        self.in_flight: dict[str, list[Flight]] = {"alice": [], "bob": []}  # keyed by receiver
        self.delivered: dict[str, list[Flight]] = {"alice": [], "bob": []}
        self.chain = {"alice": 0, "bob": 0}  # the sender's current Olm chain (modelled)
        self.opened_since_send = {"alice": True, "bob": False}
        self.newest_seen = {"alice": 0, "bob": -1}  # newest peer chain opened
        first = self._seal_with(bob, "alice", b"first")
        second = self._seal_with(bob, "alice", b"second")
        alice, plaintext = PairwiseSession.respond(
            alice_id, secret, first.data, now=self.now, config=CONFIG
        )
        assert plaintext == first.plaintext
        self.delivered["alice"].append(first)
        self.stale_refused = 0
        self.in_flight["alice"].append(second)
        self.sessions = {"alice": alice, "bob": bob}

    def _seal_with(self, session: PairwiseSession, receiver: str, text: bytes) -> Flight:
        sender = self._other(receiver)
        if self.opened_since_send[sender]:
            self.chain[sender] += 1
            self.opened_since_send[sender] = False
        self.serial += 1
        plaintext = text + b"#%d" % self.serial
        sealed = session.seal(plaintext, now=self.now)
        return Flight(sealed, plaintext, self.serial, self.chain[sender])

    @staticmethod
    def _other(side: str) -> str:
        return "bob" if side == "alice" else "alice"

    @rule(sender=st.sampled_from(SIDES), text=st.binary(max_size=40))
    def send(self, sender: str, text: bytes) -> None:
        receiver = self._other(sender)
        queue = self.in_flight[receiver]
        queue.append(self._seal_with(self.sessions[sender], receiver, text))
        if len(queue) > MAX_IN_FLIGHT:
            queue.pop(0)  # the network dropped the oldest

    @rule(receiver=st.sampled_from(SIDES), pick=st.integers(min_value=0))
    def deliver(self, receiver: str, pick: int) -> None:
        queue = self.in_flight[receiver]
        if not queue:
            return
        flight = queue.pop(pick % len(queue))  # any order: reordering
        assert flight not in self.delivered[receiver]
        if self.newest_seen[receiver] - flight.chain >= STALE_TURNS:
            try:
                opened = self.sessions[receiver].open(flight.data, now=self.now)
            except DecryptionError:
                self.stale_refused += 1
                return
        else:
            opened = self.sessions[receiver].open(flight.data, now=self.now)
        assert opened == flight.plaintext
        self.delivered[receiver].append(flight)
        self.newest_seen[receiver] = max(self.newest_seen[receiver], flight.chain)
        self.opened_since_send[receiver] = True

    @rule(receiver=st.sampled_from(SIDES), pick=st.integers(min_value=0))
    def replay(self, receiver: str, pick: int) -> None:
        done = self.delivered[receiver]
        if done:
            self._refused(receiver, done[pick % len(done)].data, ReplayError)

    @rule(receiver=st.sampled_from(SIDES), pick=st.integers(min_value=0))
    def reflect(self, receiver: str, pick: int) -> None:
        """An envelope this side sent comes back to it."""
        sent = self.in_flight[self._other(receiver)] + self.delivered[self._other(receiver)]
        if sent:
            self._refused(receiver, sent[pick % len(sent)].data, RemoteProtocolError)

    @rule(receiver=st.sampled_from(SIDES), pick=st.integers(min_value=0), at=st.integers(0))
    def tamper(self, receiver: str, pick: int, at: int) -> None:
        queue = self.in_flight[receiver]
        if queue:
            data = queue[pick % len(queue)].data
            i = at % len(data)
            self._refused(receiver, data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1 :])

    @rule(seconds=st.integers(min_value=1, max_value=30))
    def wait(self, seconds: int) -> None:
        self.now += seconds

    @rule()
    def restart(self) -> None:
        self.sessions = {
            side: PairwiseSession.from_bytes(
                session.to_bytes(STORAGE_KEY), STORAGE_KEY, config=CONFIG
            )
            for side, session in self.sessions.items()
        }

    @rule(sender=st.sampled_from(SIDES))
    def exchange(self, sender: str) -> None:
        """A quick round trip, delivered at once: conversations move epochs forward."""
        for side in (sender, self._other(sender)):
            self.send(side, b"round trip")
            self.deliver(self._other(side), -1)

    @rule()
    def flush(self) -> None:
        """Deliver everything in flight, in order."""
        for receiver in SIDES:
            while self.in_flight[receiver]:
                self.deliver(receiver, 0)

    def _refused(
        self, receiver: str, data: bytes, error: type[Exception] = RemoteProtocolError
    ) -> None:
        session = self.sessions[receiver]
        before = snapshot(session)
        with pytest.raises(error):
            session.open(data, now=self.now)
        assert snapshot(session) == before

    @invariant()
    def epochs_stay_close(self) -> None:
        if hasattr(self, "sessions"):
            alice, bob = self.sessions["alice"], self.sessions["bob"]
            assert abs(alice.epoch - bob.epoch) <= 1

    def teardown(self) -> None:
        if hasattr(self, "sessions"):
            reached = min(session.epoch for session in self.sessions.values())
            event(f"both sides reached epoch {min(reached, 3)}+")
            event(f"stale Olm chain refusals: {min(self.stale_refused, 2)}+")


TwoSessions.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None, print_blob=True
)
test_two_sessions = TwoSessions.TestCase
