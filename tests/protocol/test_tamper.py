"""Flip every byte of real envelopes: each flip is refused, and nothing changes."""

from __future__ import annotations

import pytest

from payk.errors import RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol.session import PairwiseSession, SessionConfig

from .pairs import SessionPair, snapshot

NOW = 1000


def _flips(data: bytes) -> list[bytes]:
    return [data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :] for i in range(len(data))]


def _all_refused(session: PairwiseSession, data: bytes) -> None:
    before = snapshot(session)
    for flipped in _flips(data):
        with pytest.raises(RemoteProtocolError):
            session.open(flipped, now=NOW)
    assert snapshot(session) == before
    session.open(data, now=NOW)  # the genuine envelope still opens afterwards


def test_every_byte_of_a_pairwise_envelope() -> None:
    pair = SessionPair.established()
    data = pair.alice.seal(b"flip me", now=NOW)
    assert len(data) == env.BUCKETS[0]
    _all_refused(pair.bob, data)


def test_every_byte_of_a_rotation_envelope() -> None:
    pair = SessionPair.established(SessionConfig(epoch_messages=1))
    proposal = pair.alice.seal(b"proposes", now=NOW)
    assert len(proposal) == env.BUCKETS[1]
    _all_refused(pair.bob, proposal)
    answer = pair.bob.seal(b"answers", now=NOW)
    assert answer[env.OVERHEAD] == 0x01  # carries the KEM ciphertext in the clear
    before = pair.alice.epoch
    _all_refused(pair.alice, answer)
    assert pair.alice.epoch == before + 1


def test_every_byte_of_a_handshake_envelope() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    data = bob.seal(b"hello", now=NOW)
    assert len(data) == env.BUCKETS[1]
    for flipped in _flips(data):
        with pytest.raises(RemoteProtocolError):
            PairwiseSession.respond(alice_id, secret, flipped, now=NOW)
    _, plaintext = PairwiseSession.respond(alice_id, secret, data, now=NOW)
    assert plaintext == b"hello"
