"""Pairwise sessions: handshake, messages, rotation, persistence, and every bad-input class.

Each bad-input test checks the error class AND that the session state did not change.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from payk.errors import (
    DecryptionError,
    LocalProtocolError,
    RemoteProtocolError,
    ReplayError,
    UsageError,
)
from payk.protocol import envelope as env
from payk.protocol import epoch as ep
from payk.protocol import primitives as p
from payk.protocol.identity import Identity
from payk.protocol.session import (
    MAX_PLAINTEXT,
    PairwiseSession,
    SessionConfig,
    handshake_invite_id,
    is_handshake,
)

from .pairs import STORAGE_KEY, SessionPair, invitation_for, snapshot

NOW = 1000


def _refused(session: PairwiseSession, data: bytes, error: type[Exception]) -> None:
    before = snapshot(session)
    with pytest.raises(error):
        session.open(data, now=NOW)
    assert snapshot(session) == before


# --- handshake ---------------------------------------------------------------------------------


def test_handshake_establishes_both_sides() -> None:
    alice_id, bob_id, secret, bob = SessionPair.handshake_only()
    first = bob.seal(b"hi", now=NOW)
    assert is_handshake(first) and bob.awaiting_reply
    assert handshake_invite_id(first) == secret.invite_id
    assert not bob.peer_known and bob.peer_keys == alice_id.public.keys
    with pytest.raises(LocalProtocolError):
        _ = bob.peer
    alice, plaintext = PairwiseSession.respond(alice_id, secret, first, now=NOW)
    assert plaintext == b"hi"
    assert alice.peer == bob_id.public
    reply = alice.seal(b"welcome", now=NOW)
    assert not is_handshake(reply)
    assert bob.open(reply, now=NOW) == b"welcome"
    assert bob.peer == alice_id.public and not bob.awaiting_reply
    assert not is_handshake(bob.seal(b"thanks", now=NOW))


def test_handshakes_arrive_out_of_order_and_late() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    first, second, third = (bob.seal(b"m%d" % i, now=NOW) for i in range(3))
    alice, plaintext = PairwiseSession.respond(alice_id, secret, third, now=NOW)
    assert plaintext == b"m2"
    assert alice.open(first, now=NOW) == b"m0"
    assert alice.open(second, now=NOW) == b"m1"
    _refused(alice, second, ReplayError)


def test_an_invitation_answers_once() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    first = bob.seal(b"one", now=NOW)
    PairwiseSession.respond(alice_id, secret, first, now=NOW)
    with pytest.raises(DecryptionError):  # the Olm one-time key is spent
        PairwiseSession.respond(alice_id, secret, first, now=NOW)
    _, other_bob_id, _, other_bob = SessionPair.handshake_only()
    with pytest.raises(RemoteProtocolError, match="another invitation"):
        PairwiseSession.respond(alice_id, secret, other_bob.seal(b"x", now=NOW), now=NOW)
    assert other_bob_id is not None


def test_own_invitation_cannot_be_accepted() -> None:
    alice = Identity.generate()
    invitation, _ = invitation_for(alice)
    with pytest.raises(UsageError):
        PairwiseSession.accept(alice, invitation, now=NOW)


def test_reflected_handshake_and_messages_are_refused() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    first = bob.seal(b"hi", now=NOW)
    _refused(bob, first, ReplayError)  # the invitee never reads handshakes
    alice, _ = PairwiseSession.respond(alice_id, secret, first, now=NOW)
    own = alice.seal(b"to bob", now=NOW)
    _refused(alice, own, ReplayError)  # its counter collides with the handshake's
    for _ in range(3):
        own = alice.seal(b"to bob", now=NOW)
    _refused(alice, own, DecryptionError)  # fresh counter: the direction in the key refuses it


def test_tampered_handshake_is_refused_by_respond() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    data = bytearray(bob.seal(b"hi", now=NOW))
    data[40] ^= 1  # inside the KEM ciphertext
    with pytest.raises(DecryptionError):
        PairwiseSession.respond(alice_id, secret, bytes(data), now=NOW)
    alice, _ = PairwiseSession.respond(alice_id, secret, bob.seal(b"ok", now=NOW), now=NOW)
    assert alice.peer_known  # the failure did not spend the one-time key


def test_handshake_too_far_ahead_is_refused_before_any_work() -> None:
    config = SessionConfig(max_skip=2)
    alice_id, _, secret, bob = SessionPair.handshake_only(config)
    for _ in range(3):
        bob.seal(b"lost", now=NOW)
    with pytest.raises(ReplayError, match="too far ahead"):
        PairwiseSession.respond(alice_id, secret, bob.seal(b"x", now=NOW), now=NOW, config=config)


# --- messages ----------------------------------------------------------------------------------


def test_messages_both_ways_with_reorder_and_padding() -> None:
    pair = SessionPair.established()
    sent = [pair.alice.seal(b"message %d" % i, now=NOW) for i in range(5)]
    assert {len(data) for data in sent} <= set(env.BUCKETS)
    for i in (3, 0, 4, 1, 2):
        assert pair.bob.open(sent[i], now=NOW) == b"message %d" % i


def test_padding_hides_the_length_within_a_bucket() -> None:
    pair = SessionPair.established()
    short, longer = pair.alice.seal(b"a", now=NOW), pair.alice.seal(b"a" * 700, now=NOW)
    assert len(short) == len(longer) == env.BUCKETS[0]
    assert short[18:22] == longer[18:22]  # even the cleartext length field is the same


def test_large_message_and_limit() -> None:
    pair = SessionPair.established()
    big = bytes(MAX_PLAINTEXT)
    assert pair.bob.open(pair.alice.seal(big, now=NOW), now=NOW) == big
    with pytest.raises(UsageError):
        pair.alice.seal(bytes(MAX_PLAINTEXT + 1), now=NOW)


def test_duplicate_and_replay_are_refused_without_state_change() -> None:
    pair = SessionPair.established()
    data = pair.alice.seal(b"once", now=NOW)
    assert pair.bob.open(data, now=NOW) == b"once"
    _refused(pair.bob, data, ReplayError)
    pair.reload()
    _refused(pair.bob, data, ReplayError)


def test_forward_jump_beyond_the_bound_is_refused_before_any_work() -> None:
    pair = SessionPair.established(SessionConfig(max_skip=5))
    for _ in range(6):
        pair.alice.seal(b"dropped", now=NOW)
    far = pair.alice.seal(b"far", now=NOW)
    _refused(pair.bob, far, ReplayError)


def test_refusals_for_position_cost_no_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    pair = SessionPair.established(SessionConfig(max_skip=5))
    control = pair.alice.seal(b"control", now=NOW)
    for _ in range(6):
        pair.alice.seal(b"dropped", now=NOW)
    far = pair.alice.seal(b"far", now=NOW)
    ahead = bytearray(pair.alice.seal(b"x", now=NOW))
    ahead[23:27] = (pair.bob.epoch + 2).to_bytes(4, "big")  # an epoch beyond current + 1

    def forbidden(*_: object, **__: object) -> bytes:
        raise AssertionError("cryptography ran for a message refused by position")

    for name in ("hkdf", "aead_open", "kem_decap"):
        monkeypatch.setattr(p, name, forbidden)
    _refused(pair.bob, far, ReplayError)
    _refused(pair.bob, bytes(ahead), ReplayError)
    with pytest.raises(AssertionError, match="cryptography ran"):  # the probe does bite
        pair.bob.open(control, now=NOW)


@given(hs.lists(hs.tuples(hs.integers(0, 3), hs.integers(0, ep.WINDOW + 8)), max_size=700))
def test_the_replay_window_keeps_exactly_the_counters_above_its_floor(
    steps: list[tuple[int, int]],
) -> None:
    """Counters mostly in order (the window fills and slides), some late, some repeated."""
    epoch = ep.Epoch(key=b"", started_at=0)
    opened: set[int] = set()
    front = 0
    for step, lateness in [(1, 1)] * (ep.WINDOW + 4) + steps:  # a full window first
        front += step
        counter = max(front - lateness, 0) if lateness % 4 == 0 else front
        try:
            ep.check_counter(epoch, counter, max_skip=1000)
        except ReplayError:
            assert counter in opened or counter <= max(opened) - ep.WINDOW
            continue
        ep.commit_counter(epoch, counter)
        opened.add(counter)
        assert epoch.highest == max(opened)
        assert epoch.seen == {c for c in opened if c > epoch.highest - ep.WINDOW}
    assert epoch.received == len(opened)


def test_a_message_older_than_the_window_is_refused() -> None:
    pair = SessionPair.established(SessionConfig(epoch_messages=10_000))
    old = pair.alice.seal(b"old", now=NOW)
    for _ in range(ep.WINDOW):
        pair.alice.seal(b"dropped", now=NOW)
    assert pair.bob.open(pair.alice.seal(b"new", now=NOW), now=NOW) == b"new"
    before = snapshot(pair.bob)
    with pytest.raises(ReplayError, match="too old"):
        pair.bob.open(old, now=NOW)
    assert snapshot(pair.bob) == before


def test_next_epoch_without_a_pending_proposal_is_refused() -> None:
    pair = SessionPair.established()
    data = bytearray(pair.alice.seal(b"x", now=NOW))
    data[23:27] = (pair.bob.epoch + 1).to_bytes(4, "big")
    _refused(pair.bob, bytes(data), DecryptionError)


def test_a_handshake_from_the_inviter_itself_is_refused() -> None:
    alice = Identity.generate()
    invitation, secret = invitation_for(alice)
    shared, ciphertext = p.kem_encap(invitation.kem_key)
    mirror = PairwiseSession._accept_from_parts(
        alice, invitation, shared, ciphertext, NOW, SessionConfig()
    )
    with pytest.raises(DecryptionError, match="reflected"):
        PairwiseSession.respond(alice, secret, mirror.seal(b"me", now=NOW), now=NOW)


def test_tampered_message_is_refused_and_the_real_one_still_opens() -> None:
    pair = SessionPair.established()
    data = pair.alice.seal(b"real", now=NOW)
    tampered = bytearray(data)
    tampered[40] ^= 1
    _refused(pair.bob, bytes(tampered), DecryptionError)
    assert pair.bob.open(data, now=NOW) == b"real"


def test_swapped_envelope_id_is_refused() -> None:
    pair = SessionPair.established()
    data = bytearray(pair.alice.seal(b"real", now=NOW))
    data[2:18] = bytes(16)
    _refused(pair.bob, bytes(data), DecryptionError)


@pytest.mark.parametrize("kind", [env.Kind.GROUP, env.Kind.CHANNEL, env.Kind.HANDSHAKE])
def test_kinds_cannot_be_confused(kind: env.Kind) -> None:
    pair = SessionPair.established()
    data = bytearray(pair.alice.seal(b"pairwise", now=NOW))
    data[1] = kind
    with pytest.raises(RemoteProtocolError):
        pair.bob.open(bytes(data), now=NOW)


def test_a_message_for_another_session_is_refused() -> None:
    one, two = SessionPair.established(), SessionPair.established()
    _refused(two.bob, one.alice.seal(b"not yours", now=NOW), DecryptionError)


def test_malformed_truncated_oversized() -> None:
    pair = SessionPair.established()
    data = pair.alice.seal(b"x", now=NOW)
    for bad in (b"", data[:100], data[:-1], data + bytes(4096), bytes(env.MAX_ENVELOPE + 1)):
        _refused(pair.bob, bad, RemoteProtocolError)
    short_body = env.pack(env.Kind.PAIRWISE, b"\x00", envelope_id=bytes(16))
    _refused(pair.bob, short_body, RemoteProtocolError)
    bad_flags = env.pack(env.Kind.PAIRWISE, b"\x80" + bytes(40), envelope_id=bytes(16))
    _refused(pair.bob, bad_flags, RemoteProtocolError)


@pytest.mark.parametrize("turns", [0, 1, 5])
def test_a_late_message_opens_after_ratchet_turns(turns: int) -> None:
    pair = SessionPair.established()
    late = pair.alice.seal(b"late", now=NOW)
    for _ in range(turns):
        pair.bob.open(pair.alice.seal(b"a", now=NOW), now=NOW)
        pair.alice.open(pair.bob.seal(b"b", now=NOW), now=NOW)
    assert pair.bob.open(late, now=NOW) == b"late"


def test_olm_forgets_chains_after_five_turns() -> None:
    """A known Olm limit (docs/protocol.md, Reordering): refused cleanly, nothing changes."""
    pair = SessionPair.established()
    late = pair.alice.seal(b"late", now=NOW)
    for _ in range(6):
        pair.bob.open(pair.alice.seal(b"a", now=NOW), now=NOW)
        pair.alice.open(pair.bob.seal(b"b", now=NOW), now=NOW)
    _refused(pair.bob, late, DecryptionError)
    assert pair.bob.open(pair.alice.seal(b"still fine", now=NOW), now=NOW) == b"still fine"


def test_a_forgotten_chain_changes_nothing_before_this_side_replies() -> None:
    """The Olm refusal in the state where vodozemac would turn its sending ratchet (this side
    has opened a new chain and not sealed since): the session is restored, byte for byte."""
    pair = SessionPair.established()
    late = pair.alice.seal(b"late", now=NOW)
    for _ in range(6):
        pair.bob.open(pair.alice.seal(b"a", now=NOW), now=NOW)
        pair.alice.open(pair.bob.seal(b"b", now=NOW), now=NOW)
    pair.bob.open(pair.alice.seal(b"a new chain", now=NOW), now=NOW)
    _refused(pair.bob, late, DecryptionError)
    following = pair.alice.seal(b"same chain", now=NOW)
    assert pair.bob.open(following, now=NOW) == b"same chain"
    _refused(pair.bob, following, ReplayError)
    assert pair.alice.open(pair.bob.seal(b"reply", now=NOW), now=NOW) == b"reply"


def test_an_olm_refusal_inside_the_window_changes_nothing() -> None:
    """Olm keeps 40 skipped keys, the outer window 256 counters: a message between the two
    passes the outer layer and is refused by Olm, and nothing changes."""
    pair = SessionPair.established()
    sealed = [pair.alice.seal(b"%d" % i, now=NOW) for i in range(50)]
    assert pair.bob.open(sealed[-1], now=NOW) == b"49"
    _refused(pair.bob, sealed[0], DecryptionError)
    assert pair.bob.open(sealed[20], now=NOW) == b"20"
    _refused(pair.bob, sealed[20], ReplayError)
    _refused(pair.bob, sealed[-1], ReplayError)


# --- rotation ----------------------------------------------------------------------------------


def test_epochs_rotate_by_message_count_and_old_keys_are_erased() -> None:
    config = SessionConfig(epoch_messages=4, grace_seconds=100)
    pair = SessionPair.established(config)
    now = NOW
    for _ in range(6):
        now += 1
        assert pair.bob.open(pair.alice.seal(b"a", now=now), now=now) == b"a"
        assert pair.alice.open(pair.bob.seal(b"b", now=now), now=now) == b"b"
    assert pair.alice.epoch >= 2 and pair.bob.epoch >= 2
    assert 0 in pair.alice.epochs_kept
    late = now + 101
    assert pair.bob.open(pair.alice.seal(b"later", now=late), now=late) == b"later"
    assert pair.alice.open(pair.bob.seal(b"later", now=late), now=late) == b"later"
    assert pair.alice.epochs_kept == (pair.alice.epoch,)


def test_only_a_bounded_number_of_retired_epochs_is_kept() -> None:
    config = SessionConfig(epoch_messages=2, max_retired=2)
    pair = SessionPair.established(config)
    for _ in range(12):
        pair.bob.open(pair.alice.seal(b"a", now=NOW), now=NOW)
        pair.alice.open(pair.bob.seal(b"b", now=NOW), now=NOW)
    assert pair.alice.epoch >= 4
    assert len(pair.alice.epochs_kept) <= 3 and pair.alice.epoch in pair.alice.epochs_kept


@pytest.mark.parametrize(
    "bad",
    [
        {"epoch_messages": 0},
        {"epoch_seconds": 0},
        {"max_skip": 0},
        {"max_skip": 5000},
        {"grace_seconds": -1},
        {"max_retired": -1},
    ],
)
def test_nonsense_config_is_refused(bad: dict[str, int]) -> None:
    with pytest.raises(UsageError):
        SessionConfig(**bad)


def test_largest_plaintext_fits_even_with_identity_and_proposal() -> None:
    config = SessionConfig(epoch_messages=1)
    alice_id, _, secret, bob = SessionPair.handshake_only(config)
    big = bytes(MAX_PLAINTEXT)
    first = bob.seal(big, now=NOW)
    assert len(first) == env.MAX_ENVELOPE
    alice, plaintext = PairwiseSession.respond(alice_id, secret, first, now=NOW, config=config)
    assert plaintext == big
    reply = alice.seal(big, now=NOW)  # carries Alice's identity and a rotation proposal
    assert bob.open(reply, now=NOW) == big
    answer = bob.seal(big, now=NOW)  # carries the KEM ciphertext
    assert alice.open(answer, now=NOW) == big


def test_epochs_rotate_by_time() -> None:
    config = SessionConfig(epoch_seconds=60)
    pair = SessionPair.established(config)
    start = pair.alice.epoch
    for now in (NOW + 61, NOW + 62):
        pair.bob.open(pair.alice.seal(b"a", now=now), now=now)
        pair.alice.open(pair.bob.seal(b"b", now=now), now=now)
    assert pair.alice.epoch == pair.bob.epoch == start + 1


def test_a_late_message_from_an_erased_epoch_is_refused() -> None:
    config = SessionConfig(epoch_messages=2, grace_seconds=10)
    pair = SessionPair.established(config)
    late = pair.alice.seal(b"late", now=NOW)
    now = NOW
    while pair.bob.epoch < 2:
        now += 1
        pair.bob.open(pair.alice.seal(b"a", now=now), now=now)
        pair.alice.open(pair.bob.seal(b"b", now=now), now=now)
    assert pair.bob.epoch >= 2
    _refused_at = now + 11
    before = snapshot(pair.bob)
    with pytest.raises(ReplayError, match="erased"):
        pair.bob.open(late, now=_refused_at)
    assert snapshot(pair.bob) == before


def test_late_message_within_grace_opens_after_rotation() -> None:
    config = SessionConfig(epoch_messages=2, grace_seconds=1000)
    pair = SessionPair.established(config)
    late = pair.alice.seal(b"late", now=NOW)
    start, now = pair.bob.epoch, NOW
    while pair.bob.epoch < start + 1 or pair.alice.epoch < start + 1:
        now += 1
        pair.bob.open(pair.alice.seal(b"a", now=now), now=now)
        pair.alice.open(pair.bob.seal(b"b", now=now), now=now)
    assert pair.bob.open(late, now=now) == b"late"


def test_crossing_proposals_resolve_to_one_epoch() -> None:
    config = SessionConfig(epoch_messages=3)
    pair = SessionPair.established(config)
    # both sides exceed the limit and propose before either hears the other
    from_alice = [pair.alice.seal(b"a%d" % i, now=NOW) for i in range(3)]
    from_bob = [pair.bob.seal(b"b%d" % i, now=NOW) for i in range(3)]
    for data in from_alice:
        pair.bob.open(data, now=NOW)
    for data in from_bob:
        pair.alice.open(data, now=NOW)
    for i in range(3):
        assert pair.bob.open(pair.alice.seal(b"x%d" % i, now=NOW), now=NOW) == b"x%d" % i
        assert pair.alice.open(pair.bob.seal(b"y%d" % i, now=NOW), now=NOW) == b"y%d" % i
    assert pair.alice.epoch == pair.bob.epoch >= 1


def test_rotation_answer_survives_a_dropped_message() -> None:
    config = SessionConfig(epoch_messages=2)
    pair = SessionPair.established(config)
    for _ in range(8):
        pair.alice.seal(b"dropped", now=NOW)  # proposals and answers get lost too
        pair.bob.open(pair.alice.seal(b"a", now=NOW), now=NOW)
        pair.bob.seal(b"dropped", now=NOW)
        pair.alice.open(pair.bob.seal(b"b", now=NOW), now=NOW)
    assert min(pair.alice.epoch, pair.bob.epoch) >= 2
    assert abs(pair.alice.epoch - pair.bob.epoch) <= 1  # one answer may be in flight


# --- persistence -------------------------------------------------------------------------------


def test_persist_and_reload_mid_conversation() -> None:
    pair = SessionPair.established(SessionConfig(epoch_messages=3))
    in_flight = pair.alice.seal(b"in flight", now=NOW)
    pair.reload()
    assert pair.bob.open(in_flight, now=NOW) == b"in flight"
    for i in range(6):
        pair.reload()
        assert pair.bob.open(pair.alice.seal(b"%d" % i, now=NOW), now=NOW) == b"%d" % i
        assert pair.alice.open(pair.bob.seal(b"%d" % i, now=NOW), now=NOW) == b"%d" % i


def test_stored_session_needs_its_key() -> None:
    pair = SessionPair.established()
    stored = pair.alice.to_bytes(STORAGE_KEY)
    with pytest.raises(DecryptionError):
        PairwiseSession.from_bytes(stored, bytes(32))
    with pytest.raises(DecryptionError):
        PairwiseSession.from_bytes(stored[:-1] + bytes([stored[-1] ^ 1]), STORAGE_KEY)
    with pytest.raises(DecryptionError):
        PairwiseSession.from_bytes(b"", STORAGE_KEY)
    with pytest.raises(LocalProtocolError):
        pair.alice.to_bytes(b"short")


def test_handshake_state_survives_a_restart() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    bob = PairwiseSession.from_bytes(bob.to_bytes(STORAGE_KEY), STORAGE_KEY)
    alice, plaintext = PairwiseSession.respond(alice_id, secret, bob.seal(b"hi", now=NOW), now=NOW)
    assert plaintext == b"hi"
    alice = PairwiseSession.from_bytes(alice.to_bytes(STORAGE_KEY), STORAGE_KEY)
    assert bob.open(alice.seal(b"back", now=NOW), now=NOW) == b"back"


def _restored(session: PairwiseSession, identities: bytes) -> PairwiseSession:
    """Store ``session`` in parts and restore it, with ``identities`` as the store kept them."""
    fixed, ratchet = session.to_parts(STORAGE_KEY)
    return PairwiseSession.from_parts(fixed or identities, ratchet, STORAGE_KEY)


def test_a_session_stored_in_parts_goes_on_where_it_was() -> None:
    alice_id, _, secret, bob = SessionPair.handshake_only()
    identities, ratchet = bob.to_parts(STORAGE_KEY)
    assert identities is not None
    bob = PairwiseSession.from_parts(identities, ratchet, STORAGE_KEY)
    alice, plaintext = PairwiseSession.respond(alice_id, secret, bob.seal(b"hi", now=NOW), now=NOW)
    assert plaintext == b"hi"
    bob = _restored(bob, identities)
    assert bob.open(alice.seal(b"back", now=NOW), now=NOW) == b"back"  # learns her identity
    learned, _ = bob.to_parts(STORAGE_KEY)
    assert learned is not None and learned != identities  # her identity is new: stored again
    bob = _restored(bob, learned)
    assert bob.peer.to_bytes() == alice_id.public.to_bytes()
    assert alice.open(bob.seal(b"again", now=NOW), now=NOW) == b"again"


def test_the_identities_part_is_written_only_when_it_changed() -> None:
    pair = SessionPair.established()
    first, ratchet = pair.alice.to_parts(STORAGE_KEY)
    assert first is not None
    pair.bob.open(pair.alice.seal(b"one", now=NOW), now=NOW)
    again, moved = pair.alice.to_parts(STORAGE_KEY)
    assert again is None and moved != ratchet
    restored = PairwiseSession.from_parts(first, moved, STORAGE_KEY)
    assert restored.to_parts(STORAGE_KEY)[0] is None  # restored from those very identities
    legacy = PairwiseSession.from_bytes(pair.alice.to_bytes(STORAGE_KEY), STORAGE_KEY)
    assert legacy.to_parts(STORAGE_KEY)[0] is not None  # a whole blob splits on its next save
    # the part that changes per message stays well under a database page (about 4 KB)
    assert len(moved) < 3500 < len(pair.alice.to_bytes(STORAGE_KEY))


def test_stored_parts_need_their_key_and_their_places() -> None:
    pair = SessionPair.established()
    identities, ratchet = pair.alice.to_parts(STORAGE_KEY)
    assert identities is not None
    for bad in (
        lambda: PairwiseSession.from_parts(identities, ratchet, bytes(32)),
        lambda: PairwiseSession.from_parts(ratchet, identities, STORAGE_KEY),  # swapped
        lambda: PairwiseSession.from_parts(identities, ratchet[:-1], STORAGE_KEY),
        lambda: PairwiseSession.from_parts(
            identities, pair.alice.to_bytes(STORAGE_KEY), STORAGE_KEY
        ),
        lambda: PairwiseSession.from_parts(b"", ratchet, STORAGE_KEY),
    ):
        with pytest.raises(DecryptionError):
            bad()
