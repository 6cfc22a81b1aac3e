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
