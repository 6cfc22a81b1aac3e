"""Invitation links: round trip, size, and each way a link can be bad."""

from __future__ import annotations

import pytest

from payk.errors import InvitationError, UsageError
from payk.protocol.address import b64u_decode, b64u_encode
from payk.protocol.identity import Identity
from payk.protocol.invite import (
    LINK_PREFIX,
    InvitationSecret,
    create_invitation,
    decode_binary,
    decode_link,
    encode_binary,
    encode_link,
)

from .pairs import MAILBOX, invitation_for


def _relink(data: bytes) -> str:
    return LINK_PREFIX + b64u_encode(data)


def test_link_round_trips_and_fits_a_qr_code() -> None:
    alice = Identity.generate()
    invitation, secret = invitation_for(alice, now=1000)
    link = encode_link(invitation)
    assert link.startswith("payk:invite")
    assert len(link) < 2000  # QR byte mode holds 2953 at version 40-L
    decoded = decode_link(link, now=1001)
    assert decoded == invitation
    assert decoded.inviter == alice.public.keys
    assert decoded.reply_to == (MAILBOX,)
    assert decoded.expires_at == 1000 + 7 * 86400
    assert secret.invite_id == invitation.invite_id


def test_secret_round_trips() -> None:
    invitation, secret = invitation_for(Identity.generate())
    restored = InvitationSecret.from_bytes(secret.to_bytes())
    assert restored.invitation == invitation
    with pytest.raises(InvitationError):
        InvitationSecret.from_bytes(b"\x01")


def test_each_invitation_is_fresh() -> None:
    alice = Identity.generate()
    first, _ = invitation_for(alice)
    second, _ = invitation_for(alice)
    assert first.invite_id != second.invite_id
    assert first.one_time_key != second.one_time_key
    assert first.kem_key != second.kem_key


def test_expired_link() -> None:
    invitation, _ = create_invitation(Identity.generate(), [MAILBOX], now=1000, ttl=60)
    decode_link(encode_link(invitation), now=1059)
    with pytest.raises(InvitationError, match="expired"):
        decode_link(encode_link(invitation), now=1060)


@pytest.mark.parametrize(
    "link",
    [
        "",
        "hello",
        "payk:invite",
        "payk:invite!!!",
        "https://example.org",
        "payk:invite" + "A" * 9000,
    ],
)
def test_garbage_links(link: str) -> None:
    with pytest.raises(InvitationError):
        decode_link(link, now=0)


def test_truncated_and_extended_links() -> None:
    data = encode_binary(invitation_for(Identity.generate())[0])
    for bad in (data[:-1], data[:100], data[:1], data + b"\0"):
        with pytest.raises(InvitationError):
            decode_link(_relink(bad), now=0)


def test_every_flipped_byte_is_refused() -> None:
    data = encode_binary(invitation_for(Identity.generate())[0])
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises(InvitationError):
            decode_binary(bytes(tampered))


def test_tampered_signature_says_tampered() -> None:
    data = bytearray(encode_binary(invitation_for(Identity.generate())[0]))
    data[-1] ^= 0x80
    with pytest.raises(InvitationError, match="tampered"):
        decode_link(_relink(bytes(data)), now=0)
    data = bytearray(encode_binary(invitation_for(Identity.generate())[0]))
    data[1] ^= 0x01  # the invite id
    with pytest.raises(InvitationError, match="tampered"):
        decode_link(_relink(bytes(data)), now=0)


def test_zero_one_time_key_is_refused_even_if_signed() -> None:
    from payk.protocol.invite import _create_invitation_from_parts

    alice = Identity.generate()
    good, _ = invitation_for(alice)
    bad = _create_invitation_from_parts(
        alice,
        [MAILBOX],
        expires_at=10**9,
        invite_id=bytes(16),
        one_time_key=bytes(32),
        kem_key=good.kem_key,
    )
    with pytest.raises(InvitationError, match="unusable key"):
        decode_link(encode_link(bad), now=0)


def test_reply_to_must_be_given() -> None:
    with pytest.raises(UsageError):
        create_invitation(Identity.generate(), [], now=0)
    with pytest.raises(UsageError):
        create_invitation(Identity.generate(), [MAILBOX], now=0, ttl=0)


def test_link_text_survives_whitespace() -> None:
    link = encode_link(invitation_for(Identity.generate())[0])
    assert decode_link(f"  {link}\n", now=0).inviter is not None
    assert b64u_decode(link[len(LINK_PREFIX) :])[0] == 1
