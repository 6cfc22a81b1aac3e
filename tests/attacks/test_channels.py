"""Attacks on channels: posts passed off across channels, kinds and layers, or forged by a
reader. The feed is public ciphertext (plain HTTP GETs), so the attacker is anyone: the
relay, a cache, or a subscriber who holds the link (the content key, not the signing key).
"""

from __future__ import annotations

import pytest

from payk.errors import DecryptionError, RemoteProtocolError
from payk.protocol import channel as ch
from payk.protocol import envelope as env
from payk.protocol import primitives as p
from payk.protocol.group_member import MembershipChanged, Received
from tests.attacks.registry import attack
from tests.protocol.pairs import SessionPair, snapshot
from tests.protocol.test_group_pairs import NOW, Feed, found_group, person


def _forged_by_reader(keys: ch.ChannelKeys, seq: int, content: bytes) -> bytes:
    """A post a subscriber seals with the link's content key and signs with a key of its own."""
    mine = p.signing_key_generate()
    post = ch.Post(channel=keys.channel, seq=seq, content=content)
    return ch.seal_post(
        ch.ChannelKeys(
            channel=keys.channel,
            content_key=keys.content_key,
            verify_key=p.signing_public_key(mine),
            signing_seed=mine,
        ),
        post.seq,
        post.content,
        envelope_id=b"\x05" * 16,
    )


@attack("channel-ciphertext-confusion")
def test_channel_posts_never_pass_across_channels_kinds_or_layers() -> None:
    """Models: Threema 2023 cross-protocol attack: a ciphertext of one sub-protocol accepted
    by another (here between two channels, the channel and group layers, and pairwise).

    A post of channel A given to a reader of channel B; a post re-kinded as GROUP or
    PAIRWISE and handed to a group member and a pairwise session; a group entry and a
    pairwise envelope re-kinded as CHANNEL; a post a subscriber forged with the link's
    content key: all refused, and nothing changes state.
    """
    a, b = ch.new_channel(), ch.new_channel()
    reader_a = ch.ChannelKeys(channel=a.channel, content_key=a.content_key, verify_key=a.verify_key)
    post = ch.seal_post(a, 1, b"from channel a", envelope_id=b"\x01" * 16)
    assert ch.open_post(reader_a, post, last_seq=0).content == b"from channel a"
    with pytest.raises(DecryptionError):
        ch.open_post(b, post, last_seq=0)
    with pytest.raises(DecryptionError):
        ch.open_post(reader_a, _forged_by_reader(reader_a, 2, b"fake news"), last_seq=1)
    pair = SessionPair.established()
    feed, owner = Feed(), person("owner")
    found_group(owner, feed)
    assert owner.member is not None
    for kind in (env.Kind.GROUP, env.Kind.PAIRWISE, env.Kind.HANDSHAKE):
        relabelled = post[:1] + bytes((kind,)) + post[2:]
        before = snapshot(pair.bob)
        with pytest.raises(RemoteProtocolError):
            pair.bob.open(relabelled, now=NOW)
        assert snapshot(pair.bob) == before
        events = owner.member.receive(owner.identity, relabelled)
        assert not any(isinstance(e, Received | MembershipChanged) for e in events)
        with pytest.raises(RemoteProtocolError):
            ch.open_post(reader_a, relabelled, last_seq=0)
    for other in (feed.entries[0], pair.alice.seal(b"pairwise", now=NOW)):
        as_post = other[:1] + bytes((env.Kind.CHANNEL,)) + other[2:]
        with pytest.raises(DecryptionError):
            ch.open_post(reader_a, as_post, last_seq=0)
    assert ch.open_post(reader_a, post, last_seq=0).seq == 1
