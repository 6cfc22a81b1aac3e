"""The offline bundle: sealed envelopes and where they go, in one file that shows only its size.

Strategy: a bundle is ``salt (32 bytes) | ChaCha20-Poly1305 ciphertext``. The key comes from
the salt by HKDF (``payk/v1/bundle/key``), the nonce is fixed (every bundle has a fresh salt,
hence a fresh key). The plaintext is ``VERSION | body length (u32) | msgpack body | zeros``,
padded so the whole file is a power of two of at least 64 KiB: without payk the file is
uniform noise whose size says only roughly how much it holds, and a single changed, cut or
appended byte fails the tag, so a tampered bundle is refused whole (``IntegrityError``).

What it does not do: hide the targets from a payk user who opens it. Anyone who carries a
bundle onward must learn each envelope's relay and mailbox send id to deliver it; the
envelopes themselves stay end-to-end sealed and padded, so a carrier learns which mailboxes
get mail, never who wrote it or what it says.

Pure: no files, no clock; the salt is an argument of ``_seal_from_parts`` (``seal`` draws it).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Annotated, Final

import msgspec

from payk.errors import DecryptionError, IntegrityError, UsageError
from payk.protocol import primitives
from payk.protocol.address import RelayAddress
from payk.protocol.envelope import MAX_ENVELOPE

__all__ = ["MAX_BUNDLE", "MIN_BUNDLE", "BundleItem", "open_bundle", "padded_size", "seal"]

VERSION: Final = 1
SALT_LEN: Final = 32
TAG_LEN: Final = 16
MIN_BUNDLE: Final = 64 * 1024
MAX_BUNDLE: Final = 2**31
_KEY_INFO: Final = b"payk/v1/bundle/key"
_AAD: Final = b"payk/v1/bundle"
_NONCE: Final = bytes(12)
_HEADER = struct.Struct(">BI")

SendId = Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]
Envelope = Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_ENVELOPE)]
Relay = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class BundleItem(msgspec.Struct, frozen=True, array_like=True, kw_only=True):
    """One sealed envelope for one mailbox (``created_at``: when it was first queued)."""

    relay: Relay
    send_id: SendId
    envelope: Envelope
    created_at: int


class _Body(msgspec.Struct, frozen=True, array_like=True):
    items: list[BundleItem]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Body)


def padded_size(body_length: int) -> int:
    """The file size for a body of ``body_length`` bytes (a power of two, at least 64 KiB)."""
    need = SALT_LEN + TAG_LEN + _HEADER.size + body_length
    size = MIN_BUNDLE
    while size < need:
        size *= 2
    return size


def seal(items: Sequence[BundleItem]) -> bytes:
    """The bundle file holding ``items`` (a fresh random salt each time)."""
    return _seal_from_parts(items, primitives.random_bytes(SALT_LEN))


def _seal_from_parts(items: Sequence[BundleItem], salt: bytes) -> bytes:
    body = _encoder.encode(_Body(items=list(items)))
    size = padded_size(len(body))
    if size > MAX_BUNDLE:
        raise IntegrityError("the bundle would be larger than 2 GiB; export fewer envelopes")
    plain_len = size - SALT_LEN - TAG_LEN
    plaintext = bytearray(plain_len)
    _HEADER.pack_into(plaintext, 0, VERSION, len(body))
    plaintext[_HEADER.size : _HEADER.size + len(body)] = body
    key = primitives.hkdf(salt, salt=b"", info=_KEY_INFO)
    return salt + primitives.aead_seal(key, _NONCE, bytes(plaintext), _AAD)


def open_bundle(data: bytes) -> list[BundleItem]:
    """The items of a bundle file.

    Raises:
        IntegrityError: the file was altered, cut, extended, or is not a payk bundle.
    """
    if not MIN_BUNDLE <= len(data) <= MAX_BUNDLE or len(data) & (len(data) - 1):
        raise IntegrityError("this is not a payk bundle, or it was cut or extended")
    salt, sealed = data[:SALT_LEN], data[SALT_LEN:]
    key = primitives.hkdf(salt, salt=b"", info=_KEY_INFO)
    try:
        plaintext = primitives.aead_open(key, _NONCE, sealed, _AAD)
    except DecryptionError as exc:
        raise IntegrityError("the bundle was altered (or is not a payk bundle)") from exc
    version, length = _HEADER.unpack_from(plaintext)
    if version != VERSION or length > len(plaintext) - _HEADER.size:
        raise IntegrityError("the bundle has an unknown version")
    try:
        body = _decoder.decode(plaintext[_HEADER.size : _HEADER.size + length])
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError("the bundle's contents are malformed") from exc
    for item in body.items:
        _check(item)
    return body.items


def _check(item: BundleItem) -> None:
    try:
        RelayAddress.parse(item.relay)
    except UsageError as exc:
        raise IntegrityError("the bundle names an invalid relay") from exc
