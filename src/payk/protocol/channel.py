"""Broadcast channels: posts signed by the channel key, sealed with the key from the link.

A channel has an Ed25519 signing key (kept by its admins), a 32-byte content key and a
16-byte channel id (both in the subscription link, with the public signing key). Each post is
one padded ``Kind.CHANNEL`` envelope appended to the channel's feed::

    body:   ChaCha20-Poly1305(K, nonce 0, inner | padding, ad = envelope header)
    K:      HKDF(content key, salt = channel id | envelope id, info = payk/v1/channel/post)
    inner:  length:4 | Post{channel, seq, content, sig}
    sig:    Ed25519(signing key, payk/v1/channel/post-signature | channel | seq | content)

Readers fetch the feed with plain HTTP GETs (any cache can serve them), so the relay cannot
tell readers apart and readers never learn of each other. A reader accepts a post only if it
opens under the content key, carries the channel's signature, and its ``seq`` is above every
seq seen before (a replayed or reordered post is refused and reported), or is one of the
numbers the reader skipped and still waits for (``missing``: with several copies of the feed, a
post one copy withheld may come later from another). The link may name further copies of the
feed (``mirrors``: relay and feed id each, never a writer key); links without them (older ones)
name one feed. Anyone holding the link can read; only the signing key can post, so a leaked
link leaks reading, not writing.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from typing import Annotated

import msgspec

from payk.errors import (
    DecryptionError,
    InvitationError,
    RemoteProtocolError,
    ReplayError,
    UsageError,
)
from payk.protocol import envelope as env
from payk.protocol import primitives as p
from payk.protocol.address import RelayAddress, b64u_decode, b64u_encode

__all__ = [
    "CHANNEL_LINK_PREFIX",
    "MAX_MIRRORS",
    "ChannelKeys",
    "ChannelLink",
    "ChannelMirror",
    "Post",
    "decode_channel_link",
    "encode_channel_link",
    "new_channel",
    "open_post",
    "seal_post",
]

CHANNEL_LINK_PREFIX = "payk:channel"
_POST = b"payk/v1/channel/post"
_POST_SIG = b"payk/v1/channel/post-signature"
_NONCE = bytes(p.AEAD_NONCE_LEN)
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_MAX_LINK_CHARS = 4000
MAX_MIRRORS = 3

_B16 = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
_B32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]


class ChannelKeys(msgspec.Struct, frozen=True, kw_only=True):
    """A channel's keys; ``signing_seed`` is empty for subscribers."""

    channel: _B16
    content_key: _B32
    verify_key: _B32
    signing_seed: bytes = b""


class ChannelMirror(msgspec.Struct, frozen=True, kw_only=True):
    """A further copy of the channel's feed: on which relay, and its id (readers never write)."""

    relay: Annotated[str, msgspec.Meta(max_length=1000)]
    feed: Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]


class ChannelLink(msgspec.Struct, frozen=True, kw_only=True):
    """What a subscription link carries: where the feed (and its copies) is, the reader's keys."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    relay: Annotated[str, msgspec.Meta(max_length=1000)]
    feed: Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]
    channel: _B16
    content_key: _B32
    verify_key: _B32
    mirrors: Annotated[list[ChannelMirror], msgspec.Meta(max_length=MAX_MIRRORS)] = []

    def keys(self) -> ChannelKeys:
        """The subscriber's keys (no signing key)."""
        return ChannelKeys(
            channel=self.channel, content_key=self.content_key, verify_key=self.verify_key
        )


class Post(msgspec.Struct, frozen=True, kw_only=True):
    """One signed post: its sequence number and content (group content bytes)."""

    channel: _B16
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**62)]
    content: bytes
    sig: Annotated[bytes, msgspec.Meta(max_length=64)] = b""

    def signed_part(self) -> bytes:
        """What the channel's signature covers."""
        return _POST_SIG + self.channel + _U64.pack(self.seq) + self.content


def new_channel() -> ChannelKeys:
    """Fresh keys for a new channel (the creator keeps the signing key)."""
    seed = p.signing_key_generate()
    return ChannelKeys(
        channel=p.random_bytes(16),
        content_key=p.random_bytes(32),
        verify_key=p.signing_public_key(seed),
        signing_seed=seed,
    )


def _key(keys: ChannelKeys, envelope_id: bytes) -> bytes:
    return p.hkdf(keys.content_key, salt=keys.channel + envelope_id, info=_POST)


def seal_post(keys: ChannelKeys, seq: int, content: bytes, *, envelope_id: bytes) -> bytes:
    """A CHANNEL envelope carrying a signed post.

    Raises:
        UsageError: we do not hold the channel's signing key.
    """
    if not keys.signing_seed:
        raise UsageError("only the channel's admins can post to it")
    post = Post(channel=keys.channel, seq=seq, content=content)
    signed = msgspec.structs.replace(post, sig=p.sign(keys.signing_seed, post.signed_part()))
    inner = msgspec.msgpack.encode(signed)
    framed = _U32.pack(len(inner)) + inner
    header = env.header_for(env.Kind.CHANNEL, envelope_id)
    capacity = env.body_capacity(len(framed) + p.AEAD_TAG_LEN)
    padded = framed + bytes(capacity - len(framed) - p.AEAD_TAG_LEN)
    sealed = p.aead_seal(_key(keys, envelope_id), _NONCE, padded, header)
    return env.pack(env.Kind.CHANNEL, sealed, envelope_id=envelope_id)


def open_post(
    keys: ChannelKeys, data: bytes, *, last_seq: int, missing: Collection[int] = ()
) -> Post:
    """Open, authenticate and order-check a post read from the channel's feed.

    ``missing`` lists the numbers at or below ``last_seq`` never read (gaps a copy of the feed
    left); a post with one of them is taken, any other at or below ``last_seq`` is refused.

    Raises:
        RemoteProtocolError: not a channel envelope.
        DecryptionError: wrong key, tampered, or not signed by the channel.
        ReplayError: a seq at or below ``last_seq`` and not missing (replayed or reordered).
    """
    parsed = env.unpack(data)
    if parsed.kind is not env.Kind.CHANNEL:
        raise RemoteProtocolError("not a channel envelope")
    header = env.header_for(env.Kind.CHANNEL, parsed.envelope_id)
    inner = p.aead_open(_key(keys, parsed.envelope_id), _NONCE, parsed.body, header)
    length = _U32.unpack_from(inner)[0] if len(inner) >= 4 else len(inner)
    if 4 + length > len(inner):
        raise DecryptionError()
    try:
        post = msgspec.msgpack.decode(inner[4 : 4 + length], type=Post)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise DecryptionError() from exc
    if post.channel != keys.channel:
        raise DecryptionError()
    p.verify(keys.verify_key, post.signed_part(), post.sig)
    if post.seq <= last_seq and post.seq not in missing:
        raise ReplayError(f"a replayed or reordered post (number {post.seq})")
    return post


def encode_channel_link(link: ChannelLink) -> str:
    """The text form of a subscription link."""
    return CHANNEL_LINK_PREFIX + b64u_encode(msgspec.msgpack.encode(link))


def decode_channel_link(text: str) -> ChannelLink:
    """Parse a subscription link typed or pasted by a person.

    Raises:
        InvitationError: garbled, truncated or not a channel link.
    """
    text = "".join(text.split())
    if not text.startswith(CHANNEL_LINK_PREFIX) or len(text) > _MAX_LINK_CHARS:
        raise InvitationError("this is not a payk channel link")
    try:
        link = msgspec.msgpack.decode(
            b64u_decode(text[len(CHANNEL_LINK_PREFIX) :]), type=ChannelLink
        )
        for relay in [link.relay, *(m.relay for m in link.mirrors)]:
            RelayAddress.parse(relay)
    except (ValueError, UsageError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvitationError("the channel link is garbled or incomplete") from exc
    return link
