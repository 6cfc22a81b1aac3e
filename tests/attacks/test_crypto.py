"""Attacks on the cryptographic composition: key derivation, key checks, signatures, tags.

Each test mounts the attack with the protocol's internals (``forge.py``), asserts that it is
refused with payk's own error, and that the target's state did not change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from payk.errors import DecryptionError, InvitationError, RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol import epoch as ep
from payk.protocol import outer
from payk.protocol import primitives as p
from payk.protocol.identity import Identity, IdentityKeys, PublicIdentity
from payk.protocol.invite import (
    _create_invitation_from_parts,
    _encode_unsigned,
    decode_binary,
    encode_binary,
)
from payk.protocol.session import PairwiseSession
from tests.attacks.forge import (
    LOW_ORDER_X25519,
    SMALL_ORDER_ED25519,
    genuine_key,
    hkdf_reference,
    open_inner,
    reseal,
)
from tests.attacks.registry import attack
from tests.protocol.pairs import MAILBOX, SessionPair, invitation_for, snapshot

NOW = 1000
SRC = Path(__file__).resolve().parents[2] / "src" / "payk"
_L = 2**252 + 27742317777372353535851937790883648493


def _refused(session: PairwiseSession, data: bytes, error: type[Exception]) -> None:
    before = snapshot(session)
    with pytest.raises(error):
        session.open(data, now=NOW)
    assert snapshot(session) == before


# --- KDF input deviation ------------------------------------------------------------------------


@attack("kdf-input-deviation")
def test_a_key_derived_from_any_deviating_input_is_refused() -> None:
    """Models: SimpleX audit (Trail of Bits, 2022), a KDF fed other inputs than specified.

    payk's message key must equal an independent RFC 5869 derivation over exactly the
    specified inputs; a ciphertext sealed under a key that deviates in any one input (label,
    salt, direction, epoch, counter, or no KDF at all) is refused and changes nothing.
    """
    pair = SessionPair.established()
    data = pair.alice.seal(b"derive me", now=NOW)
    key = genuine_key(pair.alice, data)
    header, _, eid = open_inner(data, key)
    epoch_key = pair.alice._state.epochs[header.epoch].key
    info = b"payk/v1/pairwise/message" + bytes((1,)) + header.epoch.to_bytes(4, "big")
    counter = header.counter.to_bytes(4, "big")
    assert key == hkdf_reference(epoch_key, salt=eid, info=info + counter)
    deviations = [
        ep.message_key(epoch_key, eid, 0, header.epoch, header.counter),  # direction
        ep.message_key(epoch_key, eid, 1, header.epoch + 1, header.counter),  # epoch
        ep.message_key(epoch_key, eid, 1, header.epoch, header.counter + 1),  # counter
        ep.message_key(epoch_key, eid[::-1], 1, header.epoch, header.counter),  # salt
        p.hkdf(epoch_key, salt=eid, info=b"payk/v2/pairwise/message" + info[24:]),  # label
        p.hkdf(epoch_key, salt=b"", info=info + counter),  # no salt
        epoch_key,  # no KDF at all
    ]
    assert len({key, *deviations}) == len(deviations) + 1
    for wrong in deviations:
        _refused(pair.bob, reseal(data, key, new_key=wrong), DecryptionError)
    assert pair.bob.open(data, now=NOW) == b"derive me"


# --- non-contributory / low-order Diffie-Hellman ------------------------------------------------


@attack("low-order-dh")
def test_low_order_curve25519_keys_are_refused_everywhere() -> None:
    """Models: vodozemac audit (Least Authority, 2022), non-contributory X25519 accepted.

    Every small-order point and its non-canonical encodings is refused as an identity key,
    as an invitation's identity or one-time key (even correctly signed), so no session can be
    built on a Diffie-Hellman output the attacker knows in advance.
    """
    owner = Identity.generate()
    public = owner.public.to_bytes()
    for point in LOW_ORDER_X25519:
        with pytest.raises(RemoteProtocolError):
            p.check_curve25519_public(point)
        with pytest.raises(RemoteProtocolError):
            PublicIdentity.from_bytes(public[:1] + point + public[33:])
        with pytest.raises(RemoteProtocolError):
            IdentityKeys.from_bytes(point + owner.public.ed25519)
        signed = _create_invitation_from_parts(
            owner,
            [MAILBOX],
            expires_at=NOW + 10,
            invite_id=bytes(16),
            one_time_key=point,
            kem_key=owner.public.kem,
        )
        with pytest.raises(InvitationError, match="unusable key"):
            decode_binary(encode_binary(signed))


@attack("low-order-dh")
def test_a_handshake_with_a_low_order_olm_base_key_is_refused_and_spends_nothing() -> None:
    """Models: vodozemac audit (2022), a non-contributory key inside an Olm pre-key message.

    The invitee's Olm base key is replaced by each low-order point (the attacker holds the
    handshake key, as a malicious invitee would); the inviter refuses every one, and the
    one-time key is not consumed: the genuine handshake still opens afterwards.
    """
    alice_id, _, secret, bob = SessionPair.handshake_only()
    data = bob.seal(b"hello", now=NOW)
    parsed = env.unpack(data)
    header = outer.read_handshake_header(parsed)
    assert bob._state.handshake is not None
    key = ep.handshake_message_key(bob._state.handshake.key, parsed.envelope_id, header.counter)
    inner = outer.open_handshake(parsed, key=key)
    base_at = inner.olm.index(b"\x12\x20") + 2  # Olm pre-key field 2: the base key
    for point in LOW_ORDER_X25519[:10]:
        olm = inner.olm[:base_at] + point + inner.olm[base_at + 32 :]
        forged_inner = outer.HandshakeInner(
            identity=inner.identity, signature=inner.signature, olm_type=0, olm=olm
        )
        forged = outer.seal_handshake(header, forged_inner, key=key, envelope_id=parsed.envelope_id)
        with pytest.raises(DecryptionError):
            PairwiseSession.respond(alice_id, secret, forged, now=NOW)
    _, plaintext = PairwiseSession.respond(alice_id, secret, data, now=NOW)
    assert plaintext == b"hello"


# --- malleable and non-strict signatures --------------------------------------------------------


def _edwards_order_divides_8(encoding: bytes) -> bool:
    """Independent check (affine Edwards arithmetic) that a point has order dividing 8."""
    q = 2**255 - 19
    d = -121665 * pow(121666, q - 2, q) % q
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    y %= q
    x2 = (y * y - 1) * pow(d * y * y + 1, q - 2, q) % q
    x = pow(x2, (q + 3) // 8, q)
    if (x * x - x2) % q:
        x = x * pow(2, (q - 1) // 4, q) % q
    if (x * x - x2) % q:
        return False
    point = (x, y)
    for _ in range(3):
        (x1, y1) = point
        t = d * x1 * x1 * y1 * y1 % q
        point = (
            2 * x1 * y1 * pow(1 + t, q - 2, q) % q,
            (y1 * y1 + x1 * x1) * pow(1 - t, q - 2, q) % q,
        )
    return point == (0, 1)


@attack("malleable-signatures")
def test_weak_keys_and_small_order_nonces_forge_nothing() -> None:
    """Models: vodozemac audit (2022), Ed25519 ``verify`` instead of ``verify_strict``.

    With a small-order public key, the signature (R = identity, S = 0) verifies *any* message
    under cofactorless checks that skip the weak-key test. payk's ``verify`` must refuse
    every small-order key and every small-order R, so no invitation, handshake or relay
    authorisation can be forged that way.
    """
    assert all(_edwards_order_divides_8(point) for point in SMALL_ORDER_ED25519)
    for point in SMALL_ORDER_ED25519:
        for r in SMALL_ORDER_ED25519:
            with pytest.raises(DecryptionError):
                p.verify(point, b"any message at all", r + bytes(32))
    seed = bytes(range(32))
    public = p.signing_public_key(seed)
    for r in SMALL_ORDER_ED25519:
        with pytest.raises(DecryptionError):
            p.verify(public, b"m", r + bytes(32))


@attack("malleable-signatures")
def test_a_second_encoding_of_a_valid_signature_is_refused() -> None:
    """Models: vodozemac audit (2022) and Bitcoin's malleability: S + L, a flipped R sign bit.

    The invitation is signed correctly; its signature is rewritten into the other encodings
    a lax verifier accepts (S + L, S + 2L within 32 bytes, R with the sign bit flipped).
    Every one is refused, so an invitation has exactly one valid byte string.
    """
    inviter = Identity.generate()
    invitation, _ = invitation_for(inviter)
    data = encode_binary(invitation)
    body, sig = data[:-64], data[-64:]
    s = int.from_bytes(sig[32:], "little")
    variants = [sig[:32] + (s + _L).to_bytes(32, "little")]
    if s + 2 * _L < 2**256:
        variants.append(sig[:32] + (s + 2 * _L).to_bytes(32, "little"))
    variants.append(sig[:31] + bytes((sig[31] ^ 0x80,)) + sig[32:])
    for forged in variants:
        with pytest.raises(InvitationError, match="tampered"):
            decode_binary(body + forged)
    assert decode_binary(data) == invitation


@attack("malleable-signatures")
def test_an_invitation_from_a_weak_key_is_refused() -> None:
    """Models: vodozemac audit (2022): a weak Ed25519 key lets anyone sign as its owner.

    An invitation naming a small-order Ed25519 key, "signed" with (identity, 0), which a
    verifier without the weak-key check accepts for any content, is refused.
    """
    owner = Identity.generate()
    genuine, _ = invitation_for(owner)
    weak = IdentityKeys(curve25519=owner.public.curve25519, ed25519=SMALL_ORDER_ED25519[0])
    from dataclasses import replace

    unsigned = replace(genuine, inviter=weak, signature=b"")
    forged = _encode_unsigned(unsigned) + SMALL_ORDER_ED25519[0] + bytes(32)
    with pytest.raises(InvitationError, match="tampered"):
        decode_binary(forged)


# --- truncated tags -----------------------------------------------------------------------------


@attack("truncated-tags")
def test_truncated_or_shortened_tags_are_refused() -> None:
    """Models: Olm's 8-byte truncated MAC and MTProto's weak integrity (Telegram, 2016-2021).

    payk seals every Olm message again with a full 16-byte Poly1305 tag. Cutting the tag
    to any shorter length (and re-packing the envelope so it parses), or zeroing it, is
    refused and changes nothing; the AEAD recipe itself refuses a short tag.
    """
    pair = SessionPair.established()
    data = pair.alice.seal(b"tagged", now=NOW)
    parsed = env.unpack(data)
    for cut in (1, 4, 8, 12, 15, 16):
        body = parsed.body[:-cut]
        _refused(pair.bob, env.pack(parsed.kind, body, envelope_id=parsed.envelope_id), Exception)
    zeroed = parsed.body[:-16] + bytes(16)
    _refused(pair.bob, env.pack(parsed.kind, zeroed, envelope_id=parsed.envelope_id), Exception)
    key = genuine_key(pair.alice, data)
    _, start = outer.read_pairwise_header(parsed)
    sealed = parsed.body[start:]
    ad = env.header(data) + parsed.body[:start]
    for cut in (8, 15):
        with pytest.raises(DecryptionError):
            p.aead_open(key, ep.NONCE, sealed[:-cut], ad)
    assert pair.bob.open(data, now=NOW) == b"tagged"


@attack("truncated-tags")
def test_a_forged_olm_mac_inside_a_valid_outer_seal_is_refused() -> None:
    """Models: Olm's truncated 8-byte MAC: a forger who guessed it still meets the ratchet.

    Even an attacker holding the outer key (the peer itself) cannot get an Olm message with
    a wrong MAC accepted: each change of the truncated MAC is refused, state unchanged.
    """
    pair = SessionPair.established()
    data = pair.alice.seal(b"mac", now=NOW)
    key = genuine_key(pair.alice, data)
    _, inner, _ = open_inner(data, key)
    for i in range(1, 9):
        olm = inner.olm[:-i] + bytes((inner.olm[-i] ^ 0x01,)) + inner.olm[len(inner.olm) - i + 1 :]
        forged = outer.PairwiseInner(
            olm_type=inner.olm_type, olm=olm, proposal=inner.proposal, identity=inner.identity
        )
        _refused(pair.bob, reseal(data, key, new_key=key, inner=forged), Exception)
    assert pair.bob.open(data, now=NOW) == b"mac"


# --- missing domain separation ------------------------------------------------------------------

_LABEL = re.compile(rb'b"(payk/[^"]*)"')


def _labels() -> dict[bytes, list[str]]:
    found: dict[bytes, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for match in _LABEL.finditer(path.read_bytes()):
            found.setdefault(match.group(1), []).append(str(path.relative_to(SRC)))
    return found


@attack("missing-domain-separation")
def test_every_label_is_versioned_and_belongs_to_one_module() -> None:
    """Models: Threema (ETH Zurich, 2023): one key reused across protocols without labels.

    Every KDF, signature and associated-data label in the code is ``payk/v1/...`` and is
    defined in exactly one module, so no two purposes share a label by accident.
    """
    labels = _labels()
    assert len(labels) >= 15
    for label, where in labels.items():
        assert label.startswith(b"payk/v1/"), label
        assert len(set(where)) == 1, f"{label!r} defined in {where}"


@attack("missing-domain-separation")
def test_a_signature_or_key_from_one_purpose_is_useless_for_another() -> None:
    """Models: Threema 2023 cross-protocol: a value signed or derived for one use, reused.

    The inviter's signature over an invitation does not verify as a handshake signature over
    the same bytes; the invitee's handshake key does not open pairwise messages; and a
    message the inviter sealed is refused when reflected to the inviter (direction is in the
    key).
    """
    _, _, secret, _ = SessionPair.handshake_only()
    invitation = secret.invitation
    body = encode_binary(invitation)[:-64]
    with pytest.raises(DecryptionError):
        invitation.inviter.verify(b"payk/v1/pairwise/handshake-signature" + body[:32], body[-64:])
    with pytest.raises(DecryptionError):
        invitation.inviter.verify(body, invitation.signature)  # the label is part of it
    pair = SessionPair.established()
    data = pair.alice.seal(b"to bob", now=NOW)
    assert pair.alice._state.handshake is not None
    hs_key = pair.alice._state.handshake.key
    _refused(pair.bob, reseal(data, genuine_key(pair.alice, data), new_key=hs_key), DecryptionError)
    _refused(pair.alice, data, RemoteProtocolError)  # DecryptionError or, by window, ReplayError
    assert pair.bob.open(data, now=NOW) == b"to bob"
