"""Channel posts: signed by the channel key, sealed with the link's key, in order."""

from __future__ import annotations

import msgspec
import pytest

from payk.errors import (
    DecryptionError,
    InvitationError,
    RemoteProtocolError,
    ReplayError,
    UsageError,
)
from payk.protocol import channel as ch
from payk.protocol import envelope as env
from payk.protocol import group as g
from payk.protocol import primitives as p

RELAY = "payk://" + "A" * 43 + "@127.0.0.1:4433"


def _link(keys: ch.ChannelKeys) -> ch.ChannelLink:
    return ch.ChannelLink(
        name="News",
        relay=RELAY,
        feed=bytes(16),
        channel=keys.channel,
        content_key=keys.content_key,
        verify_key=keys.verify_key,
    )


def test_subscriber_reads_posts_in_order() -> None:
    admin = ch.new_channel()
    reader = ch.decode_channel_link(ch.encode_channel_link(_link(admin))).keys()
    assert not reader.signing_seed
    posts = [
        ch.seal_post(admin, n, f"post {n}".encode(), envelope_id=p.random_bytes(16))
        for n in range(3)
    ]
    last = -1
    for n, data in enumerate(posts):
        post = ch.open_post(reader, data, last_seq=last)
        assert (post.seq, post.content) == (n, f"post {n}".encode())
        last = post.seq
    with pytest.raises(ReplayError):
        ch.open_post(reader, posts[1], last_seq=last)


def test_subscriber_cannot_post() -> None:
    reader = _link(ch.new_channel()).keys()
    with pytest.raises(UsageError):
        ch.seal_post(reader, 0, b"x", envelope_id=bytes(16))


def test_post_signed_by_another_key_is_refused() -> None:
    admin = ch.new_channel()
    forger = msgspec.structs.replace(admin, signing_seed=p.signing_key_generate())
    data = ch.seal_post(forger, 0, b"fake", envelope_id=bytes(16))
    with pytest.raises(DecryptionError):
        ch.open_post(_link(admin).keys(), data, last_seq=-1)


def test_tampered_or_foreign_posts_are_refused() -> None:
    admin, other = ch.new_channel(), ch.new_channel()
    data = ch.seal_post(admin, 0, b"x", envelope_id=bytes(16))
    with pytest.raises(DecryptionError):
        ch.open_post(_link(other).keys(), data, last_seq=-1)
    flipped = bytearray(data)
    flipped[40] ^= 1
    with pytest.raises(DecryptionError):
        ch.open_post(_link(admin).keys(), bytes(flipped), last_seq=-1)
    moved = data[:2] + bytes(range(16)) + data[18:]
    with pytest.raises(DecryptionError):
        ch.open_post(_link(admin).keys(), moved, last_seq=-1)


def test_channel_group_and_pairwise_kinds_cannot_be_confused() -> None:
    admin = ch.new_channel()
    data = ch.seal_post(admin, 0, b"x", envelope_id=bytes(16))
    assert env.unpack(data).kind is env.Kind.CHANNEL
    with pytest.raises(RemoteProtocolError):
        g.read_entry(data)
    as_group = data[:1] + bytes((env.Kind.GROUP,)) + data[2:]
    with pytest.raises(RemoteProtocolError):
        ch.open_post(_link(admin).keys(), as_group, last_seq=-1)
    assert ch._POST.startswith(b"payk/v1/channel/") and ch._POST != g._MESSAGE


@pytest.mark.parametrize(
    "text", ["", "payk:channel", "payk:channel!!", "payk:groupAAAA", "payk:channel" + "A" * 3000]
)
def test_garbled_links_are_refused(text: str) -> None:
    with pytest.raises(InvitationError):
        ch.decode_channel_link(text)
