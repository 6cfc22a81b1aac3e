"""Invitation links: the only way two people become contacts.

An invitation is signed by the inviter's Ed25519 identity key and carries what the invitee
needs to open an Olm session and the post-quantum layer at once: the inviter's two Olm
identity keys, a fresh Olm one-time key, a fresh ML-KEM-768 encapsulation key, the mailboxes
to reply to, and an expiry. Its binary form (integers big-endian)::

    version:1 | invite_id:16 | curve25519:32 | ed25519:32 | one_time_key:32 | kem_key:1184
    | expires_at:8 | n:1 | n x (fingerprint:32 | host_len:1 | host | port:2 | id_len:1 | send_id)
    | signature:64            (Ed25519 over "payk/v1/invite" || everything before it)

The inviter's own long-term ML-KEM key is left out to keep the link short enough for a QR
code (about 1.9 k characters with one mailbox); it travels inside the first replies instead.
The link is ``payk:invite`` followed by the unpadded base64url of that form. Single use: the
inviter keeps an ``InvitationSecret`` (the ML-KEM seed) and the one-time key is consumed by
Olm when the first reply arrives, so a second reply to the same link cannot open a session.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from payk.errors import DecryptionError, InvitationError, RemoteProtocolError, UsageError
from payk.protocol import primitives as p
from payk.protocol.address import MailboxAddress, RelayAddress, b64u_decode, b64u_encode
from payk.protocol.identity import Identity, IdentityKeys

__all__ = [
    "INVITE_ID_LEN",
    "LINK_PREFIX",
    "MAX_REPLY_TO",
    "Invitation",
    "InvitationSecret",
    "create_invitation",
    "decode_binary",
    "decode_link",
    "encode_binary",
    "encode_link",
]

LINK_PREFIX = "payk:invite"
INVITE_ID_LEN = 16
MAX_REPLY_TO = 8
_VERSION = 1
_SIGN_LABEL = b"payk/v1/invite"
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_MAX_LINK_CHARS = 8192


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    """A parsed, signature-checked invitation."""

    invite_id: bytes
    inviter: IdentityKeys
    one_time_key: bytes
    kem_key: bytes
    reply_to: tuple[MailboxAddress, ...]
    expires_at: int
    signature: bytes

    @property
    def digest(self) -> bytes:
        """SHA-256 of the signed binary form: how the session transcript names the invitation."""
        return p.sha256(encode_binary(self))


class InvitationSecret:
    """What the inviter keeps until the invitation is answered (then deletes it)."""

    __slots__ = ("_kem_seed", "invitation")

    def __init__(self, invitation: Invitation, kem_seed: bytes) -> None:
        self.invitation = invitation
        self._kem_seed = kem_seed

    @property
    def invite_id(self) -> bytes:
        """The id the invitee's handshake names."""
        return self.invitation.invite_id

    def kem_decap(self, ciphertext: bytes) -> bytes:
        """Decapsulate a handshake's ML-KEM ciphertext with the invitation's key."""
        return p.kem_decap(self._kem_seed, ciphertext)

    def to_bytes(self) -> bytes:
        """The seed and the invitation; the caller stores it in its encrypted store."""
        return bytes((_VERSION,)) + self._kem_seed + encode_binary(self.invitation)

    @classmethod
    def from_bytes(cls, data: bytes) -> InvitationSecret:
        """Restore :meth:`to_bytes` output.

        Raises:
            InvitationError: the data is not a stored invitation secret.
        """
        seed_end = 1 + p.KEM_DECAPSULATION_KEY_LEN
        if len(data) < seed_end or data[0] != _VERSION:
            raise InvitationError("not a stored invitation secret")
        return cls(decode_binary(data[seed_end:]), bytes(data[1:seed_end]))


def create_invitation(
    identity: Identity,
    reply_to: Sequence[MailboxAddress],
    *,
    now: int,
    ttl: int = 7 * 86400,
) -> tuple[Invitation, InvitationSecret]:
    """A fresh, signed invitation and the secret to answer it with.

    Mutates ``identity`` (a new Olm one-time key): the caller persists the identity after.

    Raises:
        UsageError: no mailbox, too many, or a non-positive ``ttl``.
    """
    if ttl <= 0:
        raise UsageError("an invitation needs a positive lifetime")
    _check_reply_to(reply_to)
    kem_seed, kem_key = p.kem_generate()
    invitation = _create_invitation_from_parts(
        identity,
        reply_to,
        expires_at=now + ttl,
        invite_id=p.random_bytes(INVITE_ID_LEN),
        one_time_key=identity.account.new_one_time_key(),
        kem_key=kem_key,
    )
    return invitation, InvitationSecret(invitation, kem_seed)


def _create_invitation_from_parts(
    identity: Identity,
    reply_to: Sequence[MailboxAddress],
    *,
    expires_at: int,
    invite_id: bytes,
    one_time_key: bytes,
    kem_key: bytes,
) -> Invitation:
    _check_reply_to(reply_to)
    unsigned = Invitation(
        invite_id=invite_id,
        inviter=identity.public.keys,
        one_time_key=one_time_key,
        kem_key=kem_key,
        reply_to=tuple(reply_to),
        expires_at=expires_at,
        signature=b"",
    )
    body = _encode_unsigned(unsigned)
    return _replace_signature(unsigned, identity.sign(_SIGN_LABEL + body))


def _check_reply_to(reply_to: Sequence[MailboxAddress]) -> None:
    if not 1 <= len(reply_to) <= MAX_REPLY_TO:
        raise UsageError(f"an invitation names 1 to {MAX_REPLY_TO} reply mailboxes")
    for mailbox in reply_to:
        if len(mailbox.relay.host) > 255 or len(mailbox.send_id) > 255:
            raise UsageError("a mailbox host or send id is too long for an invitation")


def _replace_signature(invitation: Invitation, signature: bytes) -> Invitation:
    return Invitation(
        invite_id=invitation.invite_id,
        inviter=invitation.inviter,
        one_time_key=invitation.one_time_key,
        kem_key=invitation.kem_key,
        reply_to=invitation.reply_to,
        expires_at=invitation.expires_at,
        signature=signature,
    )


def encode_link(invitation: Invitation) -> str:
    """``payk:invite`` and the base64url binary form (URL-safe, QR-friendly)."""
    return LINK_PREFIX + b64u_encode(encode_binary(invitation))


def decode_link(link: str, *, now: int) -> Invitation:
    """Parse a link the person pasted or scanned, and check it can be used at ``now``.

    Raises:
        InvitationError: not a payk invitation, truncated, tampered with, or expired.
    """
    text = link.strip()
    if not text.startswith(LINK_PREFIX) or len(text) > _MAX_LINK_CHARS:
        raise InvitationError("not a payk invitation link (it should start with payk:invite)")
    try:
        data = b64u_decode(text[len(LINK_PREFIX) :])
    except ValueError as exc:
        raise InvitationError("the invitation link is garbled (not base64url)") from exc
    invitation = decode_binary(data)
    if now >= invitation.expires_at:
        raise InvitationError("the invitation has expired; ask for a new one")
    return invitation


def encode_binary(invitation: Invitation) -> bytes:
    """The signed binary form."""
    return _encode_unsigned(invitation) + invitation.signature


def decode_binary(data: bytes) -> Invitation:
    """Parse the binary form and check its signature and keys (not its expiry).

    Raises:
        InvitationError: truncated, malformed, tampered with, or carrying unusable keys.
    """
    try:
        invitation = _Reader(data).invitation()
    except (RemoteProtocolError, UsageError) as exc:
        raise InvitationError(f"the invitation is garbled or truncated ({exc})") from exc
    try:
        invitation.inviter.verify(_SIGN_LABEL + data[: -p.SIGNATURE_LEN], invitation.signature)
    except DecryptionError as exc:
        raise InvitationError("the invitation was tampered with (its signature is wrong)") from exc
    try:
        p.check_curve25519_public(invitation.one_time_key)
        p.check_kem_encapsulation_key(invitation.kem_key)
    except RemoteProtocolError as exc:
        raise InvitationError(f"the invitation carries an unusable key ({exc})") from exc
    return invitation


def _encode_unsigned(invitation: Invitation) -> bytes:
    parts = [
        bytes((_VERSION,)),
        invitation.invite_id,
        invitation.inviter.to_bytes(),
        invitation.one_time_key,
        invitation.kem_key,
        _U64.pack(invitation.expires_at),
        bytes((len(invitation.reply_to),)),
    ]
    parts.extend(_encode_mailbox(mailbox) for mailbox in invitation.reply_to)
    return b"".join(parts)


def _encode_mailbox(mailbox: MailboxAddress) -> bytes:
    host = mailbox.relay.host.encode("ascii")
    return b"".join(
        (
            mailbox.relay.fingerprint,
            bytes((len(host),)),
            host,
            _U16.pack(mailbox.relay.port),
            bytes((len(mailbox.send_id),)),
            mailbox.send_id,
        )
    )


class _Reader:
    """Reads the binary form front to back, checking each length before slicing."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._data):
            raise RemoteProtocolError("truncated")
        chunk = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def invitation(self) -> Invitation:
        if self.byte() != _VERSION:
            raise RemoteProtocolError("unknown invitation version")
        invite_id = self.take(INVITE_ID_LEN)
        inviter = IdentityKeys.from_bytes(self.take(64))
        one_time_key = self.take(p.CURVE25519_KEY_LEN)
        kem_key = self.take(p.KEM_ENCAPSULATION_KEY_LEN)
        (expires_at,) = _U64.unpack(self.take(_U64.size))
        count = self.byte()
        if not 1 <= count <= MAX_REPLY_TO:
            raise RemoteProtocolError("bad number of reply mailboxes")
        reply_to = tuple(self.mailbox() for _ in range(count))
        signature = self.take(p.SIGNATURE_LEN)
        if self._pos != len(self._data):
            raise RemoteProtocolError("trailing bytes")
        return Invitation(
            invite_id=invite_id,
            inviter=inviter,
            one_time_key=one_time_key,
            kem_key=kem_key,
            reply_to=reply_to,
            expires_at=expires_at,
            signature=signature,
        )

    def mailbox(self) -> MailboxAddress:
        fingerprint = self.take(32)
        try:
            host = self.take(self.byte()).decode("ascii")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError("a relay host is not ASCII") from exc
        (port,) = _U16.unpack(self.take(_U16.size))
        send_id = self.take(self.byte())
        relay = RelayAddress(fingerprint=fingerprint, host=host, port=port)
        return MailboxAddress(relay=relay, send_id=send_id)
