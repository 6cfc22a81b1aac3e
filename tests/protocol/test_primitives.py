"""The crypto recipes: round trips, and each failure is the opaque payk error."""

from __future__ import annotations

import pytest

from payk.errors import DecryptionError, LocalProtocolError, RemoteProtocolError
from payk.protocol import primitives as p

KEY = bytes(range(32))
NONCE = bytes(12)


def test_aead_round_trip_and_every_binding() -> None:
    sealed = p.aead_seal(KEY, NONCE, b"hello", b"ad")
    assert len(sealed) == 5 + p.AEAD_TAG_LEN
    assert p.aead_open(KEY, NONCE, sealed, b"ad") == b"hello"
    with pytest.raises(DecryptionError):
        p.aead_open(KEY, NONCE, sealed, b"other ad")
    with pytest.raises(DecryptionError):
        p.aead_open(bytes(32), NONCE, sealed, b"ad")
    with pytest.raises(DecryptionError):
        p.aead_open(KEY, NONCE, bytes([sealed[0] ^ 1]) + sealed[1:], b"ad")


def test_aead_refuses_bad_parameters() -> None:
    with pytest.raises(LocalProtocolError):
        p.aead_seal(b"short", NONCE, b"", b"")
    with pytest.raises(LocalProtocolError):
        p.aead_open(KEY, b"short", b"", b"")


def test_hkdf_matches_rfc5869_case_1() -> None:
    okm = p.hkdf(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    assert p.hkdf(b"x", salt=b"", info=b"a") != p.hkdf(b"x", salt=b"", info=b"b")


def test_kem_round_trip() -> None:
    dk, ek = p.kem_generate()
    assert (len(dk), len(ek)) == (p.KEM_DECAPSULATION_KEY_LEN, p.KEM_ENCAPSULATION_KEY_LEN)
    assert p.kem_public_key(dk) == ek
    shared, ct = p.kem_encap(ek)
    assert len(ct) == p.KEM_CIPHERTEXT_LEN
    assert p.kem_decap(dk, ct) == shared
    tampered = bytes([ct[0] ^ 1]) + ct[1:]
    assert p.kem_decap(dk, tampered) != shared  # implicit rejection


def test_kem_refuses_malformed_keys_and_ciphertexts() -> None:
    dk, ek = p.kem_generate()
    with pytest.raises(RemoteProtocolError):
        p.kem_encap(ek[:-1])
    with pytest.raises(RemoteProtocolError):
        p.kem_encap(b"\xff" * p.KEM_ENCAPSULATION_KEY_LEN)
    with pytest.raises(RemoteProtocolError):
        p.kem_decap(dk, b"\x00" * 10)
    with pytest.raises(LocalProtocolError):
        p.kem_decap(dk[:10], b"\x00" * p.KEM_CIPHERTEXT_LEN)


LOW_ORDER_POINTS = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_low_order_curve25519_keys_are_refused(point: str) -> None:
    with pytest.raises(RemoteProtocolError):
        p.check_curve25519_public(bytes.fromhex(point))


def test_a_real_curve25519_key_passes_and_short_one_fails() -> None:
    account = p.OlmAccount()
    p.check_curve25519_public(account.curve25519)
    with pytest.raises(RemoteProtocolError):
        p.check_curve25519_public(account.curve25519[:31])


def test_olm_session_round_trip_and_failed_decrypt_changes_nothing() -> None:
    alice, bob = p.OlmAccount(), p.OlmAccount()
    otk = alice.new_one_time_key()
    outbound = bob.outbound(alice.curve25519, otk)
    kind, body = outbound.encrypt(b"first")
    inbound, plaintext = alice.inbound(bob.curve25519, kind, body)
    assert plaintext == b"first"
    with pytest.raises(DecryptionError):  # the one-time key is spent
        alice.inbound(bob.curve25519, kind, body)
    reply = inbound.encrypt(b"reply")
    damaged = (reply[0], reply[1][:-1] + bytes([reply[1][-1] ^ 1]))
    with pytest.raises(DecryptionError):
        outbound.decrypt(*damaged)
    assert outbound.decrypt(*reply) == b"reply"
    with pytest.raises(DecryptionError):
        outbound.decrypt(*reply)


def test_olm_pickles_need_their_key() -> None:
    account = p.OlmAccount()
    data = account.pickle(KEY)
    assert p.OlmAccount.from_pickle(data, KEY).ed25519 == account.ed25519
    with pytest.raises(DecryptionError):
        p.OlmAccount.from_pickle(data, bytes(32))


def test_olm_signature_verifies_with_pyca() -> None:
    account = p.OlmAccount()
    signature = account.sign(b"data")
    p.verify(account.ed25519, b"data", signature)
    with pytest.raises(DecryptionError):
        p.verify(account.ed25519, b"datb", signature)


# --- Olm: a failed decrypt changes nothing ------------------------------------------------------


def _olm_pair() -> tuple[p.OlmSession, p.OlmSession]:
    """(outbound, inbound) after the pre-key message; the inbound side has not sent yet."""
    alice, bob = p.OlmAccount(), p.OlmAccount()
    outbound = bob.outbound(alice.curve25519, alice.new_one_time_key())
    inbound, _ = alice.inbound(bob.curve25519, *outbound.encrypt(b"first"))
    return outbound, inbound


def _established() -> tuple[p.OlmSession, p.OlmSession]:
    """(outbound, inbound) after the pre-key message and a reply: both send normal messages."""
    outbound, inbound = _olm_pair()
    assert outbound.decrypt(*inbound.encrypt(b"reply")) == b"reply"
    return outbound, inbound


def _stranger_message() -> tuple[int, bytes]:
    """A well-formed normal message from an unrelated session: an unknown ratchet key."""
    outbound, _ = _established()
    return outbound.encrypt(b"stranger")


def _failures(genuine: tuple[int, bytes], seen: tuple[int, bytes]) -> list[tuple[int, bytes]]:
    kind, body = genuine
    return [
        (kind, body[:-1] + bytes([body[-1] ^ 1])),  # forged MAC
        (kind, body[:20]),  # truncated
        (kind, body + b"\x00"),  # one byte too many: the MAC is read from the wrong place
        (0, body),  # wrong type
        seen,  # replayed
        _stranger_message(),  # a ratchet key this session never saw (would open a chain)
        (kind, body[:3] + bytes(32) + body[35:]),  # a zero ratchet key (not contributory)
    ]


def _assert_refused_without_change(session: p.OlmSession, message: tuple[int, bytes]) -> None:
    before = session.pickle(KEY)
    with pytest.raises(DecryptionError):
        session.decrypt(*message)
    assert session.pickle(KEY) == before


def test_olm_pickles_are_deterministic() -> None:
    """What the no-change tests below rely on to compare whole session states."""
    outbound, _ = _olm_pair()
    assert outbound.pickle(KEY) == outbound.pickle(KEY)


@pytest.mark.parametrize("replied", [False, True], ids=["inactive-sender", "active-sender"])
def test_failed_olm_decrypts_change_nothing(replied: bool) -> None:
    """Every kind of failure, on a session that has replied since its last ratchet turn and
    on one that has not (the state in which vodozemac itself would change on failure)."""
    outbound, inbound = _established()
    seen = outbound.encrypt(b"one")
    assert inbound.decrypt(*seen) == b"one"
    if replied:
        assert outbound.decrypt(*inbound.encrypt(b"pong")) == b"pong"
    nxt = outbound.encrypt(b"two")
    for failure in _failures(nxt, seen):
        _assert_refused_without_change(inbound, failure)
    assert inbound.decrypt(*nxt) == b"two"
    _assert_refused_without_change(inbound, nxt)
    _assert_refused_without_change(inbound, seen)
    assert outbound.decrypt(*inbound.encrypt(b"three")) == b"three"


def test_failed_olm_decrypts_on_a_fresh_inbound_or_restored_session_change_nothing() -> None:
    outbound, inbound = _olm_pair()
    restored = p.OlmSession.from_pickle(outbound.pickle(KEY), KEY)
    for session, message in ((inbound, outbound.encrypt(b"a")), (restored, _stranger_message())):
        _assert_refused_without_change(session, _stranger_message())
        _assert_refused_without_change(session, (message[0], message[1][:-1]))
    assert inbound.decrypt(*outbound.encrypt(b"b")) == b"b"


def test_an_olm_message_too_far_ahead_changes_nothing() -> None:
    """vodozemac refuses a gap of more than 2000 messages in one chain."""
    outbound, inbound = _established()
    inbound.decrypt(*outbound.encrypt(b"ping"))
    messages = [outbound.encrypt(b"x") for _ in range(2003)]
    _assert_refused_without_change(inbound, messages[-1])
    assert inbound.decrypt(*messages[1]) == b"x"
    assert inbound.decrypt(*messages[0]) == b"x"  # a skipped key was kept


def test_olm_chain_parsing_recognises_vodozemac_messages_only() -> None:
    outbound, inbound = _established()
    assert inbound.decrypt(*outbound.encrypt(b"a")) == b"a"
    kind, body = outbound.encrypt(b"b" * 300)  # a two-byte ciphertext length
    for _ in range(200):
        kind, body = outbound.encrypt(b"c")  # a two-byte chain index
    chain = p._ratchet_key(kind, body)
    assert chain is not None and len(chain) == 32
    assert p._ratchet_key(0, body) is None
    assert p._ratchet_key(kind, body + b"\x00") is None
    assert p._ratchet_key(kind, body[:-1]) is None
    # the ratchet-key field again before the MAC: protobuf would take the second one
    repeated = body[:-8] + b"\x0a\x20" + bytes(range(32)) + body[-8:]
    assert p._ratchet_key(kind, repeated) is None
    assert p._ratchet_key(kind, body[:36] + b"\xff" * 11) is None
