"""Attacks on envelopes in transit: headers, kinds, ids, positions, sizes, padding, counters.

The attacker here is the network or a relay: it sees every envelope, can rewrite any byte,
re-kind, re-id, replay, reorder, drop and forge headers, but holds no key (except where a
test says it plays a malicious peer). Every refusal must leave the session unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from payk.errors import (
    DecryptionError,
    LocalProtocolError,
    RemoteProtocolError,
    ReplayError,
    UsageError,
)
from payk.protocol import envelope as env
from payk.protocol import outer
from payk.protocol import primitives as p
from payk.protocol.session import MAX_PLAINTEXT, PairwiseSession, SessionConfig
from tests.attacks.forge import genuine_key, open_inner, reseal
from tests.attacks.registry import attack
from tests.protocol.pairs import SessionPair, snapshot

NOW = 1000


def _refused(session: PairwiseSession, data: bytes, error: type[Exception]) -> None:
    before = snapshot(session)
    with pytest.raises(error):
        session.open(data, now=NOW)
    assert snapshot(session) == before


def _with_header(data: bytes, *, epoch: int | None = None, counter: int | None = None) -> bytes:
    """Rewrite the cleartext epoch or counter of a pairwise envelope (no key needed)."""
    raw = bytearray(data)
    if epoch is not None:
        struct.pack_into(">I", raw, env.OVERHEAD + 1, epoch)
    if counter is not None:
        struct.pack_into(">I", raw, env.OVERHEAD + 5, counter)
    return bytes(raw)


# --- metadata outside the AEAD ------------------------------------------------------------------


@attack("metadata-outside-aead")
def test_every_cleartext_field_is_authenticated() -> None:
    """Models: Threema (ETH Zurich, 2023) and Telegram (Albrecht et al., 2021): headers a
    network attacker could rewrite without breaking the ciphertext.

    The relay-visible fields are version, kind, envelope id, length, flags, epoch, counter
    and (in a rotation answer) the KEM ciphertext. Rewriting any of them to any other value
    a parser accepts is refused, and nothing changes.
    """
    pair = SessionPair.established()
    data = pair.alice.seal(b"fields", now=NOW)
    raw = bytearray(data)
    forged = [
        data[:2] + bytes(16) + data[18:],  # envelope id
        data[:2] + bytes(reversed(data[2:18])) + data[18:],
        _with_header(data, epoch=0, counter=5),
        _with_header(data, counter=int.from_bytes(raw[27:31], "big") + 1),
    ]
    for kind in (k for k in env.Kind if k is not env.Kind.PAIRWISE):
        forged.append(data[:1] + bytes((kind,)) + data[2:])
    for candidate in forged:
        _refused(pair.bob, candidate, RemoteProtocolError)
    rotating = SessionPair.established(SessionConfig(epoch_messages=1))
    rotating.bob.open(rotating.alice.seal(b"proposal", now=NOW), now=NOW)
    answer = bytearray(rotating.bob.seal(b"answer with kem ciphertext", now=NOW))
    assert answer[env.OVERHEAD] == 0x01
    answer[env.OVERHEAD + 9 + 100] ^= 0x01  # one bit of the cleartext KEM ciphertext
    _refused(rotating.alice, bytes(answer), DecryptionError)
    assert pair.bob.open(data, now=NOW) == b"fields"


# --- pairwise / handshake / other-kind ciphertext confusion -------------------------------------


@attack("pairwise-ciphertext-confusion")
def test_a_ciphertext_of_one_kind_is_never_accepted_as_another() -> None:
    """Models: Threema 2023 cross-protocol attack: a ciphertext of one sub-protocol replayed
    into another.

    A pairwise body is re-labelled HANDSHAKE, GROUP, CHANNEL, FILE_CHUNK and CONTROL (the
    kind is in every AEAD's associated data), a handshake body is re-labelled PAIRWISE, and
    a pairwise message is sealed by the peer under the *handshake* key: all refused.
    """
    alice_id, _, secret, bob = SessionPair.handshake_only()
    handshake = bob.seal(b"hello", now=NOW)
    alice, _ = PairwiseSession.respond(alice_id, secret, handshake, now=NOW)
    reply = alice.seal(b"reply", now=NOW)
    parsed = env.unpack(reply)
    for kind in env.Kind:
        if kind is not env.Kind.PAIRWISE:
            _refused(bob, env.pack(kind, parsed.body, envelope_id=parsed.envelope_id), Exception)
    as_pairwise = env.unpack(handshake)
    relabelled = env.pack(env.Kind.PAIRWISE, as_pairwise.body, envelope_id=as_pairwise.envelope_id)
    _refused(alice, relabelled, RemoteProtocolError)
    assert alice._state.handshake is not None
    hs_key = alice._state.handshake.key
    _refused(bob, reseal(reply, genuine_key(alice, reply), new_key=hs_key), DecryptionError)
    assert bob.open(reply, now=NOW) == b"reply"


# --- identifier confusion -----------------------------------------------------------------------


@attack("identifier-confusion")
def test_a_message_from_one_contact_never_opens_as_another() -> None:
    """Models: Matrix 2022 (Albrecht, Celi, Dowling, Jones): messages attributed to the wrong
    sender or device.

    Alice has two contacts, Bob and Carol. Carol's envelope handed to Alice's session with
    Bob (as a relay could, by moving it between mailboxes) is refused; so is Bob's envelope
    re-sealed by a malicious Bob with Carol's identity in the inviter-identity slot, and
    a re-id'd copy of a genuine envelope.
    """
    bob_pair = SessionPair.established()
    carol_pair = SessionPair.established()
    carol_msg = carol_pair.bob.seal(b"from carol", now=NOW)
    _refused(bob_pair.alice, carol_msg, RemoteProtocolError)
    inviter = SessionPair.handshake_only()
    alice_id, _, secret, bob = inviter
    alice, _ = PairwiseSession.respond(alice_id, secret, bob.seal(b"hi", now=NOW), now=NOW)
    first = alice.seal(b"I am alice", now=NOW)  # carries alice's identity, sealed
    key = genuine_key(alice, first)
    _, inner, _ = open_inner(first, key)
    assert inner.identity is not None
    impostor = outer.PairwiseInner(
        olm_type=inner.olm_type, olm=inner.olm, identity=carol_pair.alice_id.public.to_bytes()
    )
    _refused(bob, reseal(first, key, new_key=key, inner=impostor), DecryptionError)
    _refused(bob, first[:2] + p.random_bytes(16) + first[18:], DecryptionError)
    assert bob.open(first, now=NOW) == b"I am alice"
    assert bob.peer.keys == alice_id.public.keys


@attack("identifier-confusion")
def test_a_handshake_for_another_invitation_or_from_oneself_is_refused() -> None:
    """Models: Threema 2023 and Matrix 2022 identity confusion: answering the wrong
    invitation, or a reflected handshake making a profile its own contact."""
    alice_id, _, secret, bob = SessionPair.handshake_only()
    other_id, _, other_secret, _ = SessionPair.handshake_only()
    data = bob.seal(b"for alice", now=NOW)
    with pytest.raises(RemoteProtocolError):
        PairwiseSession.respond(other_id, other_secret, data, now=NOW)
    with pytest.raises(UsageError):
        PairwiseSession.accept(alice_id, secret.invitation, now=NOW)
    _, plaintext = PairwiseSession.respond(alice_id, secret, data, now=NOW)
    assert plaintext == b"for alice"


# --- replay, reflection, reorder, deletion ------------------------------------------------------


@attack("replay-reflection-reorder-deletion")
def test_replays_and_reflections_are_refused_and_reordering_delivers_once() -> None:
    """Models: Threema 2023 replay and reflection attacks; Telegram reordering (Albrecht,
    Mareková, Paterson, Stepanovs 2021).

    Ten messages arrive in a shuffled order: each opens exactly once; every replay (also
    after a restart) is a ``ReplayError``; reflecting Alice's own envelope back to her is
    refused; a gap (a deleted message) stays visible in the receive window.
    """
    pair = SessionPair.established()
    sent = [pair.alice.seal(f"m{i}".encode(), now=NOW) for i in range(10)]
    order = [3, 0, 9, 1, 8, 2, 7, 4, 6]  # message 5 is deleted by the relay
    got = [pair.bob.open(sent[i], now=NOW) for i in order]
    assert got == [f"m{i}".encode() for i in order]
    pair.reload()
    for i in order:
        _refused(pair.bob, sent[i], ReplayError)
        _refused(pair.alice, sent[i], RemoteProtocolError)
    window = pair.bob._state.epochs[pair.bob.epoch]
    counter_of_5 = int.from_bytes(sent[5][env.OVERHEAD + 5 : env.OVERHEAD + 9], "big")
    assert counter_of_5 not in window.seen and window.highest > counter_of_5
    assert pair.bob.open(sent[5], now=NOW) == b"m5"  # late, not lost, opened once


# --- skipped-key and forward-jump exhaustion ----------------------------------------------------


@attack("skipped-key-exhaustion")
def test_forged_forward_jumps_are_refused_before_any_cryptography(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Models: the Double Ratchet's MAX_SKIP denial of service: a forged header that claims
    a far-future position makes the receiver derive and store thousands of keys.

    Headers claiming counters beyond ``max_skip`` or epochs beyond current + 1 are refused
    with ``ReplayError`` and no HKDF, KEM or AEAD call at all.
    """
    pair = SessionPair.established(SessionConfig(max_skip=50))
    data = pair.alice.seal(b"x", now=NOW)
    calls: list[str] = []
    for name in ("hkdf", "aead_open", "kem_decap"):
        monkeypatch.setattr(p, name, _counting(name, getattr(p, name), calls))
    for forged in (
        _with_header(data, counter=52),
        _with_header(data, counter=0xFFFFFFFF),
        _with_header(data, epoch=2),
        _with_header(data, epoch=0xFFFFFFFF),
    ):
        _refused(pair.bob, forged, ReplayError)
    assert calls == []
    monkeypatch.undo()
    assert pair.bob.open(data, now=NOW) == b"x"


@attack("skipped-key-exhaustion")
def test_a_genuine_burst_up_to_max_skip_opens_and_one_beyond_is_refused() -> None:
    """Models: MAX_SKIP exhaustion from a peer that really sends many messages at once.

    With ``max_skip`` = 30, the 30th message after the last one seen still opens (Olm keeps
    the skipped keys it needs), the next jump beyond the bound is refused, state unchanged.
    """
    pair = SessionPair.established(SessionConfig(max_skip=30, epoch_messages=10_000))
    burst = [pair.alice.seal(b"%d" % i, now=NOW) for i in range(32)]
    assert pair.bob.open(burst[29], now=NOW) == b"29"
    assert pair.bob.open(burst[0], now=NOW) == b"0"
    later = [pair.alice.seal(b"later", now=NOW) for _ in range(35)]
    _refused(pair.bob, later[-1], ReplayError)


def _counting(name: str, real: Callable[..., bytes], calls: list[str]) -> Callable[..., bytes]:
    def counted(*args: object, **kwargs: object) -> bytes:
        calls.append(name)
        return real(*args, **kwargs)

    return counted


# --- oversized or malformed input ---------------------------------------------------------------


@attack("oversized-malformed-input")
def test_oversized_and_malformed_envelopes_are_refused_without_crashing() -> None:
    """Models: Briar (2017-2018): a single oversized or malformed message crashed the app.

    Inputs one byte around every bucket, far beyond the largest, empty, all-ones, with
    lengths pointing past the end, and an over-long plaintext on the sending side: only
    payk's own errors come out, and the session is unchanged.
    """
    pair = SessionPair.established()
    data = pair.alice.seal(b"ok", now=NOW)
    bad = [b"", b"\x01", bytes(2**20), b"\xff" * env.BUCKETS[0]]
    for size in env.BUCKETS:
        bad += [data[:1] + bytes(size - 2) + b"\x00", bytes(size - 1), bytes(size + 1)]
    raw = bytearray(data)
    struct.pack_into(">I", raw, env.HEADER_LEN, 0xFFFFFFFF)
    bad.append(bytes(raw))
    struct.pack_into(">I", raw, env.HEADER_LEN, 0)
    bad.append(bytes(raw))
    for candidate in bad:
        _refused(pair.bob, candidate, RemoteProtocolError)
    with pytest.raises(UsageError):
        pair.alice.seal(bytes(MAX_PLAINTEXT + 1), now=NOW)
    assert pair.bob.open(data, now=NOW) == b"ok"


# --- padding edge cases -------------------------------------------------------------------------


@attack("padding-edge-cases")
def test_every_plaintext_length_at_a_bucket_edge_pads_to_a_bucket_and_round_trips() -> None:
    """Models: SimpleX audit (2022) padding edge cases; MTProto 1.0 padding (Telegram, 2016).

    Plaintexts of length 0, at and one past every bucket's capacity, and the maximum: the
    envelope is exactly a bucket, its cleartext length field only repeats the bucket, and
    the plaintext comes back byte for byte.
    """
    pair = SessionPair.established(SessionConfig(epoch_messages=10_000))
    capacities = [911, 3983, 16271, MAX_PLAINTEXT]
    lengths = sorted({0, 1, *capacities, *(c + 1 for c in capacities[:-1])})
    for length in lengths:
        message = bytes((length % 251,)) * length
        data = pair.alice.seal(message, now=NOW)
        assert len(data) in env.BUCKETS
        (body_length,) = struct.unpack_from(">I", data, env.HEADER_LEN)
        assert body_length == len(data) - env.OVERHEAD
        assert pair.bob.open(data, now=NOW) == message
    sizes = [len(pair.alice.seal(bytes(n), now=NOW)) for n in (0, 911, 912)]
    assert sizes == [1024, 1024, 4096]


@attack("padding-edge-cases")
def test_padding_outside_the_aead_has_exactly_one_encoding() -> None:
    """Models: SimpleX audit padding findings: padding an attacker can change unnoticed.

    A non-zero padding byte, a length that claims less (turning sealed bytes into
    "padding") or more than the body: all refused before decryption.
    """
    pair = SessionPair.established()
    data = pair.alice.seal(b"pad", now=NOW)
    short = env.pack(env.Kind.PAIRWISE, env.unpack(data).body[:100], envelope_id=data[2:18])
    raw = bytearray(short)
    raw[-1] = 1
    _refused(pair.bob, bytes(raw), RemoteProtocolError)
    for length in (len(data) - env.OVERHEAD - 1, 9 + 16, len(data) - env.OVERHEAD + 1):
        candidate = bytearray(data)
        struct.pack_into(">I", candidate, env.HEADER_LEN, length)
        _refused(pair.bob, bytes(candidate), RemoteProtocolError)
    assert pair.bob.open(data, now=NOW) == b"pad"


# --- counter overflow ---------------------------------------------------------------------------


@attack("counter-overflow")
def test_the_message_counter_never_wraps() -> None:
    """Models: counter and nonce wrap-around (TLS sequence numbers, GCM nonce reuse): a
    32-bit counter that wraps to 0 would reuse a message key.

    The last counter (2^32 - 1) still seals and opens; the next seal is refused with
    payk's own error, leaving the sender's state unchanged; the receiver refuses a forged
    header at the maximum counter from far behind.
    """
    pair = SessionPair.established(SessionConfig(epoch_messages=2**40))
    receiver_before = snapshot(pair.bob)
    _refused(
        pair.bob, _with_header(pair.alice.seal(b"z", now=NOW), counter=0xFFFFFFFF), ReplayError
    )
    assert snapshot(pair.bob) == receiver_before
    epoch = pair.alice._state.epochs[pair.alice.epoch]
    epoch.sent = 0xFFFFFFFF
    last = pair.alice.seal(b"last", now=NOW)
    assert int.from_bytes(last[env.OVERHEAD + 5 : env.OVERHEAD + 9], "big") == 0xFFFFFFFF
    before = snapshot(pair.alice)
    with pytest.raises(LocalProtocolError):
        pair.alice.seal(b"one too many", now=NOW)
    assert snapshot(pair.alice) == before
