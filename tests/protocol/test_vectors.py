"""Known-answer vectors for the outer layer, from tests/vectors/pairwise_outer.json.

The file comes from an independent implementation (its generator names itself as source);
payk must derive the same keys and seal byte-identical envelopes, and open them back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payk.errors import DecryptionError
from payk.protocol import envelope as env
from payk.protocol import epoch as ep
from payk.protocol import outer
from payk.protocol import primitives as p

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "pairwise_outer.json").read_text())
IN = {name: bytes.fromhex(value) for name, value in VECTORS["inputs"].items()}
KEYS = {name: bytes.fromhex(value) for name, value in VECTORS["keys"].items()}
ENVELOPES = {name: bytes.fromhex(value) for name, value in VECTORS["envelopes"].items()}


def test_vectors_name_their_source() -> None:
    assert "independent implementation" in VECTORS["source"]
    assert VECTORS["aead"]["source"] == "RFC 8439 section 2.8.2"


def test_rfc8439_aead() -> None:
    v = {k: bytes.fromhex(x) for k, x in VECTORS["aead"].items() if k != "source"}
    assert p.aead_seal(v["key"], v["nonce"], v["plaintext"], v["aad"]) == v["sealed"]
    assert p.aead_open(v["key"], v["nonce"], v["sealed"], v["aad"]) == v["plaintext"]


def test_key_schedule() -> None:
    th0 = ep.transcript_0(IN["invitation_digest"], IN["kem_ciphertext"])
    th1 = ep.transcript_1(th0, IN["invitee_identity"])
    e0 = ep.epoch_zero_key(IN["shared_secret"], th1)
    e1 = ep.next_epoch_key(
        e0,
        IN["next_shared_secret"],
        IN["next_encapsulation_key"],
        IN["next_kem_ciphertext"],
        1,
    )
    hs_key = ep.handshake_key(IN["shared_secret"], th0)
    assert (th0, th1, e0, e1, hs_key) == (
        KEYS["transcript_0"],
        KEYS["transcript_1"],
        KEYS["epoch_0"],
        KEYS["epoch_1"],
        KEYS["handshake_key"],
    )
    message = ep.message_key(e1, IN["envelope_id"], ep.RESPONDER, 1, 7)
    assert message == KEYS["message_key_responder_epoch1_counter7"]
    assert (
        ep.handshake_message_key(hs_key, IN["envelope_id"], 0)
        == (KEYS["handshake_message_key_counter0"])
    )


def test_pairwise_envelope_bytes() -> None:
    key = KEYS["message_key_responder_epoch1_counter7"]
    header = outer.PairwiseHeader(epoch=1, counter=7, kem_ciphertext=IN["next_kem_ciphertext"])
    inner = outer.PairwiseInner(olm_type=1, olm=IN["olm_message"])
    sealed = outer.seal_pairwise(header, inner, key=key, envelope_id=IN["envelope_id"])
    expected = ENVELOPES["pairwise_epoch1_counter7_with_ciphertext"]
    assert sealed == expected
    parsed = env.unpack(expected)
    read, start = outer.read_pairwise_header(parsed)
    assert read == header
    assert outer.open_pairwise(parsed, start, key=key) == inner
    with pytest.raises(DecryptionError):
        outer.open_pairwise(parsed, start, key=KEYS["epoch_1"])


def test_handshake_envelope_bytes() -> None:
    key = KEYS["handshake_message_key_counter0"]
    header = outer.HandshakeHeader(
        invite_id=IN["invite_id"], kem_ciphertext=IN["kem_ciphertext"], counter=0
    )
    inner = outer.HandshakeInner(
        identity=IN["invitee_identity"],
        signature=IN["signature"],
        olm_type=0,
        olm=IN["olm_message"],
    )
    sealed = outer.seal_handshake(header, inner, key=key, envelope_id=IN["envelope_id"])
    assert sealed == ENVELOPES["handshake_counter0"]
    parsed = env.unpack(sealed)
    assert outer.read_handshake_header(parsed) == header
    assert outer.open_handshake(parsed, key=key) == inner
