"""Group feed entries: the post-quantum outer layer, epoch keys, key wraps and Megolm shares.

Every entry of a group's feed is one padded ``Kind.GROUP`` envelope whose body is::

    cleartext:  type:1 | epoch:4 | [type specific cleartext]
    sealed:     ChaCha20-Poly1305(K, nonce 0, inner | padding, ad = envelope header | cleartext)

with a one-use ``K = HKDF(base, salt = group id | envelope id, info = payk/v1/group/<type>)``:

* ``OP``      base = log key of the epoch (signed membership op, see ``group_log``);
* ``SHARE``   base = share key of the epoch; inner = a sender's Megolm session key, signed by
  the sender's identity key (so nobody can hand out a session in someone else's name);
* ``MESSAGE`` base = message key of the epoch; inner = sender key, Megolm session id, and the
  Megolm message (itself signed by the sender's Megolm key);
* ``JOIN``    base = the invite secret from the link; inner = the joiner's signed request;
* ``WRAP``    cleartext also holds an ephemeral X25519 key and, per recipient, a tag, an
  ML-KEM-768 ciphertext and the entry's payload key sealed under
  ``HKDF(kem secret | X25519 secret, info = payk/v1/group/wrap)``; the payload (an epoch key,
  or the log keys a new member needs) is signed by the admin who wrote it.

The epoch key ``E`` of epoch ``n`` is random, chosen by the admin whose op starts the epoch;
that op carries ``commit(E)``, so a key from anyone else is refused. Log, share and message
keys are HKDF outputs of ``E`` under distinct labels: a new member given old *log* keys (to
check the whole membership log) learns nothing of old messages.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Literal

import msgspec

from payk.errors import DecryptionError, LocalProtocolError, RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol import primitives as p
from payk.protocol.group_log import Member
from payk.protocol.identity import Identity, PublicIdentity

__all__ = [
    "MAX_WRAPS",
    "Entry",
    "EntryType",
    "JoinRequest",
    "Share",
    "WrapPayload",
    "commit",
    "log_key",
    "message_key",
    "open_join",
    "open_message",
    "open_op",
    "open_share",
    "open_wrap",
    "read_entry",
    "seal_join",
    "seal_message",
    "seal_op",
    "seal_share",
    "seal_wraps",
    "share_key",
    "wrap_tag",
]

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_NONCE = bytes(p.AEAD_NONCE_LEN)
_TAG_LEN = 8
_SLOT_LEN = _TAG_LEN + p.KEM_CIPHERTEXT_LEN + p.AEAD_KEY_LEN + p.AEAD_TAG_LEN
MAX_WRAPS = 50  # recipients per WRAP entry: 50 slots of 1144 bytes fit the 64 KiB bucket

_COMMIT = b"payk/v1/group/commit"
_LOG = b"payk/v1/group/log"
_SHARE = b"payk/v1/group/share"
_MESSAGE = b"payk/v1/group/message"
_WRAP = b"payk/v1/group/wrap"
_WRAP_TAG = b"payk/v1/group/wrap-tag"
_WRAP_SIG = b"payk/v1/group/wrap-signature"
_SHARE_SIG = b"payk/v1/group/share-signature"
_JOIN = b"payk/v1/group/join"
_JOIN_SIG = b"payk/v1/group/join-signature"
_ENTRY = b"payk/v1/group/entry/"


class EntryType(IntEnum):
    """What a group feed entry carries (the first cleartext byte)."""

    OP = 1
    WRAP = 2
    JOIN = 3
    SHARE = 4
    MESSAGE = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """A parsed group envelope: its type, epoch, id and still sealed body."""

    type: EntryType
    epoch: int
    envelope: env.Envelope


# --- key schedule --------------------------------------------------------------------------


def commit(epoch_key: bytes, group: bytes, epoch: int) -> bytes:
    """The commitment to an epoch key that the op starting the epoch carries."""
    return p.hkdf(epoch_key, salt=group + _U32.pack(epoch), info=_COMMIT)


def log_key(epoch_key: bytes, group: bytes) -> bytes:
    """The key sealing the membership ops written during an epoch."""
    return p.hkdf(epoch_key, salt=group, info=_LOG)


def share_key(epoch_key: bytes, group: bytes) -> bytes:
    """The key sealing Megolm session shares of an epoch."""
    return p.hkdf(epoch_key, salt=group, info=_SHARE)


def message_key(epoch_key: bytes, group: bytes) -> bytes:
    """The base key of the outer layer around Megolm messages of an epoch."""
    return p.hkdf(epoch_key, salt=group, info=_MESSAGE)


def wrap_tag(group: bytes, epoch: int, member: bytes) -> bytes:
    """The short tag by which a member finds its slot in a WRAP entry of ``epoch``."""
    return p.sha256(_WRAP_TAG + group + _U32.pack(epoch) + member)[:_TAG_LEN]


# --- reading and sealing envelopes -----------------------------------------------------------


def read_entry(data: bytes) -> Entry:
    """Parse the cleartext of a group feed entry.

    Raises:
        RemoteProtocolError: not a well-formed group envelope.
    """
    parsed = env.unpack(data)
    body = parsed.body
    if parsed.kind is not env.Kind.GROUP or len(body) < 5 + p.AEAD_TAG_LEN:
        raise RemoteProtocolError("not a group envelope")
    try:
        kind = EntryType(body[0])
    except ValueError as exc:
        raise RemoteProtocolError("an unknown group entry type") from exc
    (epoch,) = _U32.unpack_from(body, 1)
    return Entry(type=kind, epoch=epoch, envelope=parsed)


def _seal(
    kind: EntryType, epoch: int, extra: bytes, inner: bytes, base: bytes, group: bytes, eid: bytes
) -> bytes:
    clear = bytes((kind,)) + _U32.pack(epoch) + extra
    header = env.header_for(env.Kind.GROUP, eid)
    capacity = env.body_capacity(len(clear) + len(inner) + p.AEAD_TAG_LEN)
    padded = inner + bytes(capacity - len(clear) - len(inner) - p.AEAD_TAG_LEN)
    key = p.hkdf(base, salt=group + eid, info=_ENTRY + kind.name.lower().encode())
    return env.pack(
        env.Kind.GROUP, clear + p.aead_seal(key, _NONCE, padded, header + clear), envelope_id=eid
    )


def _open(entry: Entry, start: int, base: bytes, group: bytes) -> bytes:
    envelope = entry.envelope
    eid, body = envelope.envelope_id, envelope.body
    header = env.header_for(env.Kind.GROUP, eid)
    key = p.hkdf(base, salt=group + eid, info=_ENTRY + entry.type.name.lower().encode())
    return p.aead_open(key, _NONCE, body[start:], header + body[:start])


_encoder = msgspec.msgpack.Encoder()


def _decode(data: bytes, kind: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        return msgspec.msgpack.decode(data, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise DecryptionError() from exc


def _framed(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def _unframe(data: bytes) -> bytes:
    if len(data) < 4:
        raise DecryptionError()
    (length,) = _U32.unpack_from(data)
    if 4 + length > len(data) or any(data[4 + length :]):
        raise DecryptionError()
    return bytes(data[4 : 4 + length])


# --- ops -----------------------------------------------------------------------------------


def seal_op(signed_op: bytes, *, epoch: int, log: bytes, group: bytes, envelope_id: bytes) -> bytes:
    """An OP entry: a signed op sealed under the log key of ``epoch``."""
    return _seal(EntryType.OP, epoch, b"", _framed(signed_op), log, group, envelope_id)


def open_op(entry: Entry, *, log: bytes, group: bytes) -> bytes:
    """The signed op inside an OP entry (checked later by ``group_log.apply``).

    Raises:
        DecryptionError: wrong key or a tampered entry.
    """
    return _unframe(_open(entry, 5, log, group))


# --- join requests -------------------------------------------------------------------------


class JoinRequest(msgspec.Struct, frozen=True):
    """Someone with an invite link asks to be approved; signed by their identity key."""

    group: bytes
    invite: bytes
    member: Member
    sig: bytes = b""

    def signed_part(self) -> bytes:
        """What the joiner's signature covers."""
        return _JOIN_SIG + _encoder.encode(msgspec.structs.replace(self, sig=b""))


def seal_join(
    identity: Identity,
    member: Member,
    *,
    group: bytes,
    invite: bytes,
    secret: bytes,
    envelope_id: bytes,
) -> bytes:
    """A JOIN entry: the joiner's signed request, readable with the invite secret."""
    request = JoinRequest(group=group, invite=invite, member=member)
    signed = msgspec.structs.replace(request, sig=identity.sign(request.signed_part()))
    inner = _framed(_encoder.encode(signed))
    return _seal(EntryType.JOIN, 0, invite, inner, secret, group + _JOIN, envelope_id)


def open_join(entry: Entry, invites: dict[bytes, bytes], *, group: bytes) -> JoinRequest:
    """The request inside a JOIN entry, for an invite of this group, signature checked.

    Raises:
        DecryptionError: unknown invite, wrong key, tampered, or a bad signature.
    """
    invite = bytes(entry.envelope.body[5:21])
    secret = invites.get(invite)
    if secret is None:
        raise DecryptionError()
    inner = _unframe(_open(entry, 21, secret, group + _JOIN))
    request = _decode(inner, JoinRequest)
    if not isinstance(request, JoinRequest) or (request.group, request.invite) != (group, invite):
        raise DecryptionError()
    try:
        PublicIdentity.from_bytes(request.member.identity).verify(
            request.signed_part(), request.sig
        )
    except RemoteProtocolError as exc:
        raise DecryptionError() from exc
    return request


# --- Megolm session shares and messages ----------------------------------------------------


class Share(msgspec.Struct, frozen=True):
    """A sender's Megolm session for one epoch, signed by the sender's identity key."""

    group: bytes
    epoch: int
    sender: bytes
    session_key: bytes
    sig: bytes = b""

    def signed_part(self) -> bytes:
        """What the sender's signature covers."""
        return _SHARE_SIG + _encoder.encode(msgspec.structs.replace(self, sig=b""))


def seal_share(
    identity: Identity,
    session_key: bytes,
    *,
    epoch: int,
    share: bytes,
    group: bytes,
    envelope_id: bytes,
) -> bytes:
    """A SHARE entry handing every member of ``epoch`` our Megolm session key."""
    item = Share(group=group, epoch=epoch, sender=identity.public.ed25519, session_key=session_key)
    signed = msgspec.structs.replace(item, sig=identity.sign(item.signed_part()))
    return _seal(
        EntryType.SHARE, epoch, b"", _framed(_encoder.encode(signed)), share, group, envelope_id
    )


def open_share(entry: Entry, *, share: bytes, group: bytes) -> Share:
    """The share inside a SHARE entry (the caller checks the sender's signature and role).

    Raises:
        DecryptionError: wrong key, tampered, or a share for another group or epoch.
    """
    item = _decode(_unframe(_open(entry, 5, share, group)), Share)
    if not isinstance(item, Share) or (item.group, item.epoch) != (group, entry.epoch):
        raise DecryptionError()
    return item


class _Sealed(msgspec.Struct, frozen=True, array_like=True):
    sender: bytes
    session_id: str
    megolm: bytes


def seal_message(
    sender: bytes,
    session_id: str,
    megolm: bytes,
    *,
    epoch: int,
    message: bytes,
    group: bytes,
    envelope_id: bytes,
) -> bytes:
    """A MESSAGE entry: a Megolm message inside the epoch's outer layer."""
    inner = _framed(_encoder.encode(_Sealed(sender, session_id, megolm)))
    return _seal(EntryType.MESSAGE, epoch, b"", inner, message, group, envelope_id)


def open_message(entry: Entry, *, message: bytes, group: bytes) -> tuple[bytes, str, bytes]:
    """(sender key, Megolm session id, Megolm message) inside a MESSAGE entry.

    Raises:
        DecryptionError: wrong key or a tampered entry.
    """
    item = _decode(_unframe(_open(entry, 5, message, group)), _Sealed)
    if not isinstance(item, _Sealed):
        raise DecryptionError()
    return item.sender, item.session_id, item.megolm


# --- key wraps -----------------------------------------------------------------------------


class WrapPayload(msgspec.Struct, frozen=True, kw_only=True):
    """What a WRAP entry delivers: an epoch key, or (``welcome``) the log keys before it."""

    purpose: Literal["epoch", "welcome"]
    group: bytes
    epoch: int
    author: bytes
    key: bytes = b""
    log_keys: dict[int, bytes] = msgspec.field(default_factory=dict)
    sig: Annotated[bytes, msgspec.Meta(max_length=64)] = b""

    def signed_part(self) -> bytes:
        """What the author's signature covers."""
        return _WRAP_SIG + _encoder.encode(msgspec.structs.replace(self, sig=b""))


def seal_wraps(
    identity: Identity, payload: WrapPayload, recipients: list[Member], *, envelope_ids: list[bytes]
) -> list[bytes]:
    """WRAP entries delivering ``payload`` to ``recipients``, ``MAX_WRAPS`` per entry.

    ``envelope_ids`` must hold one fresh id per ``MAX_WRAPS`` recipients (rounded up).
    """
    signed = msgspec.structs.replace(payload, sig=identity.sign(payload.signed_part()))
    inner = _framed(_encoder.encode(signed))
    chunks = [recipients[i : i + MAX_WRAPS] for i in range(0, len(recipients), MAX_WRAPS)]
    if len(envelope_ids) < len(chunks):
        raise LocalProtocolError("one envelope id is needed per MAX_WRAPS recipients")
    return [
        _seal_wrap(inner, chunk, payload, eid)
        for chunk, eid in zip(chunks, envelope_ids, strict=False)
    ]


def _seal_wrap(inner: bytes, chunk: list[Member], payload: WrapPayload, eid: bytes) -> bytes:
    eph_private, eph_public = p.x25519_generate()
    payload_key = p.random_bytes(p.AEAD_KEY_LEN)
    head = bytes((EntryType.WRAP,)) + _U32.pack(payload.epoch) + eph_public
    slots = [_U16.pack(len(chunk))]
    for member in chunk:
        tag = wrap_tag(payload.group, payload.epoch, member.key)
        kem_secret, kem_ct = p.kem_encap(member.public().kem)
        dh = p.x25519_shared(eph_private, member.x25519)
        kek = _kek(kem_secret, dh, payload, tag, kem_ct)
        slots.append(tag + kem_ct + p.aead_seal(kek, _NONCE, payload_key, head + tag))
    extra = eph_public + b"".join(slots)
    return _seal(EntryType.WRAP, payload.epoch, extra, inner, payload_key, payload.group, eid)


def _kek(kem_secret: bytes, dh: bytes, payload: WrapPayload, tag: bytes, kem_ct: bytes) -> bytes:
    salt = payload.group + _U32.pack(payload.epoch) + tag + p.sha256(kem_ct)
    return p.hkdf(kem_secret + dh, salt=salt, info=_WRAP)


def open_wrap(
    entry: Entry, identity: Identity, x25519_private: bytes, *, group: bytes
) -> WrapPayload | None:
    """The payload of a WRAP entry if it has a slot for us, else None (signature unchecked).

    Raises:
        DecryptionError: our slot or the payload does not authenticate.
        RemoteProtocolError: a malformed entry.
    """
    body = entry.envelope.body
    if len(body) < 5 + 32 + 2:
        raise RemoteProtocolError("a truncated wrap entry")
    eph_public = bytes(body[5:37])
    (count,) = _U16.unpack_from(body, 37)
    start = 39 + count * _SLOT_LEN
    if count > MAX_WRAPS or len(body) < start + p.AEAD_TAG_LEN:
        raise RemoteProtocolError("a malformed wrap entry")
    tag = wrap_tag(group, entry.epoch, identity.public.ed25519)
    for i in range(count):
        slot = body[39 + i * _SLOT_LEN : 39 + (i + 1) * _SLOT_LEN]
        if slot[:_TAG_LEN] == tag:
            return _open_slot(entry, slot, eph_public, identity, x25519_private, group, start)
    return None


def _open_slot(
    entry: Entry,
    slot: bytes,
    eph_public: bytes,
    identity: Identity,
    x25519_private: bytes,
    group: bytes,
    start: int,
) -> WrapPayload:
    tag, kem_ct = bytes(slot[:_TAG_LEN]), bytes(slot[_TAG_LEN : _TAG_LEN + p.KEM_CIPHERTEXT_LEN])
    sealed = bytes(slot[_TAG_LEN + p.KEM_CIPHERTEXT_LEN :])
    head = entry.envelope.body[:37]
    try:
        dh = p.x25519_shared(x25519_private, eph_public)
    except RemoteProtocolError as exc:
        raise DecryptionError() from exc
    probe = WrapPayload(purpose="epoch", group=group, epoch=entry.epoch, author=b"")
    kek = _kek(identity.kem_decap(kem_ct), dh, probe, tag, kem_ct)
    payload_key = p.aead_open(kek, _NONCE, sealed, bytes(head) + tag)
    payload = _decode(_unframe(_open(entry, start, payload_key, group)), WrapPayload)
    if not isinstance(payload, WrapPayload) or (payload.group, payload.epoch) != (
        group,
        entry.epoch,
    ):
        raise DecryptionError()
    return payload
