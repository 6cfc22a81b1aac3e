"""Attacks on groups: a relay or an insider trying to add members, forward keys in someone
else's name, or pass one kind of group ciphertext off as another.

The feed is the relay's append-only log (``Feed`` from the group tests): the attacker may
append, replay and reorder entries. An insider (Mallory, a plain member) also holds the
epoch's log, share and message keys, as any member does.
"""

from __future__ import annotations

import pytest

from payk.errors import RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol import group as g
from payk.protocol import group_log as log
from payk.protocol import primitives as p
from payk.protocol.group_log import Member
from payk.protocol.group_member import GroupEvent, MembershipChanged, Received
from payk.protocol.identity import Identity
from tests.attacks.registry import attack
from tests.protocol.pairs import SessionPair, snapshot
from tests.protocol.test_group_pairs import (
    NOW,
    Feed,
    Person,
    admit,
    found_group,
    person,
    rejections,
)

Group = tuple[Feed, Person, Person, Person]


@pytest.fixture
def group() -> Group:
    """Alice (owner) admitted Bob and Mallory; everyone has read the whole feed."""
    feed = Feed()
    alice, bob, mallory = person("alice"), person("bob"), person("mallory")
    found_group(alice, feed)
    admit(alice, bob, feed)
    admit(alice, mallory, feed, others=[bob])
    return feed, alice, bob, mallory


def _keys(p_: Person) -> tuple[log.GroupState, bytes]:
    assert p_.member is not None and p_.member.state is not None
    state = p_.member.state
    key = p_.member._epoch_key(state.epoch)
    assert key is not None
    return state, key


def _roster(p_: Person) -> set[bytes]:
    assert p_.member is not None and p_.member.state is not None
    return set(p_.member.state.members)


def _accepted(events: list[GroupEvent]) -> list[GroupEvent]:
    return [e for e in events if isinstance(e, MembershipChanged | Received)]


def _approve_op(state: log.GroupState, author: Identity, eve: Identity) -> log.Op:
    member = Member(identity=eve.public.to_bytes(), x25519=p.x25519_generate()[1], name="eve")
    return log.Op(
        group=state.group,
        seq=state.seq + 1,
        prev=state.head,
        kind="approve",
        author=author.public.ed25519,
        at=NOW,
        epoch=state.epoch + 1,
        commit=bytes(32),
        member=member,
    )


# --- relay-controlled membership ----------------------------------------------------------------


@attack("relay-controlled-membership")
def test_neither_the_relay_nor_a_plain_member_can_add_anyone(group: Group) -> None:
    """Models: Matrix 2022 (Albrecht, Celi, Dowling, Jones): the homeserver adds a device or
    user of its choice to an encrypted room, and clients accept it.

    The relay appends an ``approve`` for Eve signed by Eve herself and sealed under a key it
    made up; Mallory, a member without the admin role, appends one signed by her and sealed
    under the real log key; the relay replays Mallory's own genuine admission (an earlier
    approve). Nobody's roster changes, nobody accepts any of it, and Eve is handed no key.
    """
    feed, alice, bob, mallory = group
    state, key = _keys(bob)
    before = [_roster(x) for x in (alice, bob, mallory)]
    eve = Identity.generate()
    by_eve = log.sign_op(eve, _approve_op(state, eve, eve))
    relay_forged = g.seal_op(
        by_eve, epoch=state.epoch, log=p.random_bytes(32), group=state.group, envelope_id=bytes(16)
    )
    by_mallory = log.sign_op(mallory.identity, _approve_op(state, mallory.identity, eve))
    log_key = g.log_key(key, state.group)
    insider = g.seal_op(
        by_mallory, epoch=state.epoch, log=log_key, group=state.group, envelope_id=b"\x01" * 16
    )
    admission = next(
        e for e in feed.entries if g.read_entry(e).type is g.EntryType.OP
    )  # the create op
    replayed = [e for e in feed.entries if g.read_entry(e).type is g.EntryType.OP][-1]
    feed.append([relay_forged, insider, admission, replayed])
    for reader in (alice, bob):
        assert _accepted(reader.sync(feed)) == []
    assert [_roster(x) for x in (alice, bob, mallory)][:2] == before[:2]
    with pytest.raises(RemoteProtocolError, match=r"not signed by an admin|role"):
        log.apply(state, by_mallory)
    eve_tag = g.wrap_tag(state.group, state.epoch + 1, eve.public.ed25519)
    assert all(eve_tag not in e for e in feed.entries)


# --- unrequested key forwarding -----------------------------------------------------------------


@attack("unrequested-key-forwarding")
def test_a_session_key_handed_out_in_someone_elses_name_is_refused(group: Group) -> None:
    """Models: Matrix 2022: an attacker forwards a Megolm session key the victim never
    requested, claiming it is another member's, then sends messages that appear to come from
    that member.

    Mallory seals a SHARE of her own Megolm session naming Bob as the sender (she can only
    sign it with her key), then messages through it in Bob's name; she also re-shares Bob's
    genuine session key. No share is taken for Bob and no message is shown as Bob's.
    """
    feed, alice, bob, mallory = group
    bob.say(feed, "bob's real words")
    for reader in (alice, bob, mallory):
        reader.sync(feed)
    state, key = _keys(mallory)
    share_base = g.share_key(key, state.group)
    outbound = p.MegolmOutbound()
    forged_share = g.Share(
        group=state.group,
        epoch=state.epoch,
        sender=bob.identity.public.ed25519,
        session_key=outbound.session_key,
    )
    signed = g.Share(
        group=forged_share.group,
        epoch=forged_share.epoch,
        sender=forged_share.sender,
        session_key=forged_share.session_key,
        sig=mallory.identity.sign(forged_share.signed_part()),
    )
    share_entry = g._seal(
        g.EntryType.SHARE,
        state.epoch,
        b"",
        g._framed(g._encoder.encode(signed)),
        share_base,
        state.group,
        b"\x02" * 16,
    )
    in_bobs_name = g.seal_message(
        bob.identity.public.ed25519,
        outbound.session_id,
        outbound.encrypt(b"send money"),
        epoch=state.epoch,
        message=g.message_key(key, state.group),
        group=state.group,
        envelope_id=b"\x03" * 16,
    )
    feed.append([share_entry, in_bobs_name])
    events = alice.sync(feed)
    assert _accepted(events) == []
    reasons = rejections(events)
    assert len(reasons) == 2, reasons
    assert "does not authenticate" in reasons[0] and "never shared" in reasons[1]
    assert alice.texts(alice.events) == [("bob", "bob's real words")]


# --- group / channel ciphertext confusion -------------------------------------------------------


@attack("group-ciphertext-confusion")
def test_group_entries_never_pass_for_another_type_group_or_layer(group: Group) -> None:
    """Models: Threema 2023 cross-protocol attack: a ciphertext of one sub-protocol accepted
    by another (here between group entry types, two groups, and the pairwise layer).

    A group MESSAGE re-typed as SHARE or OP, the same message sealed by an insider under the
    share key, an entry of another group with the same members, a group envelope handed to
    a pairwise session and a pairwise envelope handed to the group: all refused, nothing
    accepted, no state changed.
    """
    feed, alice, bob, mallory = group
    bob.say(feed, "typed")
    message = feed.entries[-1]
    alice.sync(feed)
    bob.sync(feed)
    retyped = [
        message[: env.OVERHEAD] + bytes((t,)) + message[env.OVERHEAD + 1 :]
        for t in (g.EntryType.SHARE, g.EntryType.OP)
    ]
    state, key = _keys(mallory)
    entry = g.read_entry(message)
    sender, session_id, megolm = g.open_message(
        entry, message=g.message_key(key, state.group), group=state.group
    )
    under_share_key = g.seal_message(
        sender,
        session_id,
        megolm,
        epoch=state.epoch,
        message=g.share_key(key, state.group),
        group=state.group,
        envelope_id=b"\x04" * 16,
    )
    other_feed = Feed()
    found_group(alice, other_feed, name="Other")
    other = other_feed.entries[-1]
    pair = SessionPair.established()
    pairwise = pair.alice.seal(b"pairwise", now=NOW)
    feed.append([*retyped, under_share_key, other, pairwise])
    assert _accepted(bob.sync(feed)) == []
    before = snapshot(pair.bob)
    with pytest.raises(RemoteProtocolError):
        pair.bob.open(message, now=NOW)
    assert snapshot(pair.bob) == before
