"""Groups in the protocol core: membership log, epochs, Megolm inside the outer layer."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payk.errors import LocalProtocolError, RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol import group as g
from payk.protocol import group_log as log
from payk.protocol import session
from payk.protocol.group_member import MembershipChanged, Rescan

from .test_group_pairs import (
    NOW,
    Feed,
    Person,
    admit,
    found_group,
    person,
    rejections,
)


@pytest.fixture
def trio() -> tuple[Feed, Person, Person, Person]:
    feed = Feed()
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    found_group(alice, feed)
    admit(alice, bob, feed)
    admit(alice, carol, feed, others=[bob])
    return feed, alice, bob, carol


def test_owner_creates_and_is_the_only_member() -> None:
    feed, alice = Feed(), person("alice")
    found_group(alice, feed)
    assert alice.member is not None and alice.member.status == "member"
    state = alice.member.state
    assert state is not None and state.name == "Union" and state.epoch == 1
    assert [m.role for m in state.members.values()] == ["owner"]


def test_invite_join_approve_talk(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, carol = trio
    assert bob.member is not None and carol.member is not None
    assert bob.member.status == carol.member.status == "member"
    assert any(isinstance(e, Rescan) for e in carol.events)
    bob.say(feed, "hello all")
    assert alice.texts(alice.sync(feed)) == [("bob", "hello all")]
    assert carol.texts(carol.sync(feed)) == [("bob", "hello all")]
    assert bob.texts(bob.sync(feed)) == [("bob", "hello all")]  # own message read back
    assert rejections(alice.events + bob.events + carol.events) == []


def test_new_member_cannot_read_what_came_before(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, _ = trio
    alice.say(feed, "before dave")
    dave = person("dave")
    admit(alice, dave, feed, others=[bob])
    assert dave.texts(dave.events) == []
    assert rejections(dave.events) == []
    alice.say(feed, "after dave")
    assert dave.texts(dave.sync(feed)) == [("alice", "after dave")]


def test_removed_member_reads_nothing_new(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, carol = trio
    assert alice.member is not None and carol.member is not None
    epoch = carol.member.state.epoch  # type: ignore[union-attr]
    feed.append(alice.member.remove(alice.identity, "carol", now=NOW))
    for p in (alice, bob, carol):
        p.sync(feed)
    assert carol.member.status == "removed"
    assert alice.member.state is not None and alice.member.state.epoch == epoch + 1
    bob.say(feed, "carol is gone")
    assert carol.sync(feed) == []
    assert alice.texts(alice.sync(feed)) == [("bob", "carol is gone")]


def test_message_from_removed_member_is_rejected(
    trio: tuple[Feed, Person, Person, Person],
) -> None:
    feed, alice, bob, carol = trio
    assert alice.member is not None and carol.member is not None
    stale = carol.member.send(carol.identity, b"\x00")  # prepared before the removal
    feed.append(alice.member.remove(alice.identity, "carol", now=NOW))
    bob.sync(feed)
    feed.append(stale)
    reasons = rejections(bob.sync(feed))
    assert reasons and all("closed" in r for r in reasons)


def test_op_not_signed_by_an_admin_is_refused_before_sending(
    trio: tuple[Feed, Person, Person, Person],
) -> None:
    _, alice, bob, carol = trio
    assert bob.member is not None
    with pytest.raises(RemoteProtocolError, match="not signed by an admin"):
        bob.member.operate(bob.identity, "remove", now=NOW, target=carol.identity.public.ed25519)
    assert alice.member is not None
    alice.member.remove(alice.identity, "carol", now=NOW)  # the owner may


def test_forged_op_in_the_feed_is_reported(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, carol = trio
    assert bob.member is not None and alice.member is not None
    state = bob.member.state
    assert state is not None
    op = log.Op(
        group=state.group,
        seq=state.seq + 1,
        prev=state.head,
        kind="remove",
        author=bob.identity.public.ed25519,
        at=NOW,
        epoch=state.epoch + 1,
        commit=bytes(32),
        target=carol.identity.public.ed25519,
    )
    signed = log.sign_op(bob.identity, op)
    key = bob.member._log_key(state.epoch)  # a member knows the log key
    assert key is not None
    feed.append(
        [g.seal_op(signed, epoch=state.epoch, log=key, group=state.group, envelope_id=bytes(16))]
    )
    reasons = rejections(alice.sync(feed))
    assert reasons == ["a remove operation not signed by an admin"]
    assert carol.identity.public.ed25519 in alice.member.state.members  # type: ignore[union-attr]


def test_replayed_and_reordered_entries_are_rejected(
    trio: tuple[Feed, Person, Person, Person],
) -> None:
    feed, alice, bob, _ = trio
    bob.say(feed, "one")
    alice.sync(feed)
    feed.append([feed.entries[-1]])  # the relay replays the same entry
    assert rejections(alice.sync(feed)) == ["a replayed feed entry"]
    first_op = feed.entries[0]
    feed.entries.append(first_op[:2] + bytes(16) + first_op[18:])  # the create op, new id
    reasons = rejections(alice.sync(feed))
    assert len(reasons) == 1  # a copy with another id no longer authenticates


def test_reordered_ops_are_rejected(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, _ = trio
    assert alice.member is not None and bob.member is not None
    first = alice.member.operate(
        alice.identity, "invite", now=NOW, invite=bytes(16), secret=bytes(32)
    )
    feed.append(first)
    alice.sync(feed)
    second = alice.member.operate(
        alice.identity, "invite", now=NOW, invite=bytes(range(16)), secret=bytes(32)
    )
    feed.entries[-1:] = second + first  # the relay swaps the two ops
    reasons = rejections(bob.sync(feed))
    assert len(reasons) == 1 and "does not follow" in reasons[0]
    assert bob.member.state is not None and bytes(16) in bob.member.state.invites


def test_epoch_key_from_someone_who_did_not_start_the_epoch(
    trio: tuple[Feed, Person, Person, Person],
) -> None:
    feed, _, bob, carol = trio
    assert bob.member is not None and carol.member is not None
    state = bob.member.state
    assert state is not None
    payload = g.WrapPayload(
        purpose="epoch",
        group=state.group,
        epoch=state.epoch,
        author=bob.identity.public.ed25519,
        key=bytes(32),
    )
    members = list(state.members.values())
    feed.append(g.seal_wraps(bob.identity, payload, members, envelope_ids=[bytes(range(16))]))
    reasons = rejections(carol.sync(feed))
    assert reasons == [f"a key for epoch {state.epoch} from someone who did not start it"]


def test_forged_sender_is_rejected(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, carol = trio
    assert bob.member is not None and alice.member is not None
    alice.say(feed, "real")
    bob.say(feed, "warm up")
    for p in (alice, bob, carol):
        p.sync(feed)
    entry = g.read_entry(feed.entries[-1])
    state = bob.member.state
    assert state is not None
    key = bob.member._epoch_key(state.epoch)
    assert key is not None
    base = g.message_key(key, state.group)
    _, session_id, megolm = g.open_message(entry, message=base, group=state.group)
    alice_key = alice.identity.public.ed25519
    forged = g.seal_message(
        alice_key,
        session_id,
        megolm,
        epoch=state.epoch,
        message=base,
        group=state.group,
        envelope_id=bytes(range(16, 32)),
    )
    feed.append([forged])
    reasons = rejections(carol.sync(feed))
    assert reasons == ["a message in alice's name through a session they never shared"]


def test_non_member_cannot_send() -> None:
    feed, alice, bob = Feed(), person("alice"), person("bob")
    found_group(alice, feed)
    assert alice.member is not None
    from payk.protocol.group_member import GroupMember

    bob.member = GroupMember.joining(
        group=alice.member.group, genesis=alice.member.genesis, pickle_key=bytes(32)
    )
    with pytest.raises(LocalProtocolError):
        bob.member.send(bob.identity, b"x")


def test_group_envelopes_cannot_pass_for_pairwise(
    trio: tuple[Feed, Person, Person, Person],
) -> None:
    feed, _, bob, _ = trio
    bob.say(feed, "x")
    parsed = env.unpack(feed.entries[-1])
    assert parsed.kind is env.Kind.GROUP
    assert not session.is_handshake(feed.entries[-1])
    with pytest.raises(RemoteProtocolError):
        from payk.protocol.outer import read_pairwise_header

        read_pairwise_header(parsed)
    labels = [g._COMMIT, g._LOG, g._SHARE, g._MESSAGE, g._WRAP, g._JOIN]
    assert all(label.startswith(b"payk/v1/group/") for label in labels)
    assert len(set(labels)) == len(labels)


def test_membership_events_name_the_author(trio: tuple[Feed, Person, Person, Person]) -> None:
    _, _, _, carol = trio
    kinds = [(e.op.kind, e.author) for e in carol.events if isinstance(e, MembershipChanged)]
    assert kinds[0] == ("create", "alice")
    assert ("approve", "alice") in kinds


def test_leave_then_rekey(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, carol = trio
    assert carol.member is not None and alice.member is not None
    feed.append(
        carol.member.operate(carol.identity, "leave", now=NOW, target=carol.identity.public.ed25519)
    )
    alice.sync(feed)
    assert alice.member.state is not None and alice.member.state.rekey_due
    feed.append(alice.member.operate(alice.identity, "rekey", now=NOW))
    for p in (alice, bob, carol):
        p.sync(feed)
    assert carol.member.status == "left"
    bob.say(feed, "after carol left")
    assert carol.sync(feed) == []
    assert alice.texts(alice.sync(feed)) == [("bob", "after carol left")]


def test_state_round_trips_through_bytes(trio: tuple[Feed, Person, Person, Person]) -> None:
    feed, alice, bob, _ = trio
    from payk.protocol.group_member import GroupMember

    assert bob.member is not None
    bob.member = GroupMember.from_bytes(bob.member.to_bytes(), bytes(range(32)))
    alice.say(feed, "after restore")
    assert bob.texts(bob.sync(feed)) == [("alice", "after restore")]
    with pytest.raises(RemoteProtocolError):
        GroupMember.from_bytes(b"garbage", bytes(32))
    with pytest.raises(msgspec.DecodeError):
        msgspec.msgpack.decode(b"\xc1")


@pytest.mark.parametrize(
    "name",
    [
        "group",
        "group_log",
        "group_member",
        "group_events",
        "group_content",
        "group_link",
        "channel",
    ],
)
def test_group_modules_export_what_they_define(name: str) -> None:
    import importlib
    import inspect

    module = importlib.import_module(f"payk.protocol.{name}")
    assert module.__doc__ and len(set(module.__all__)) == len(module.__all__)
    assert all(hasattr(module, item) for item in module.__all__)
    defined = {
        item
        for item, value in vars(module).items()
        if not item.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module.__name__
    }
    assert defined <= set(module.__all__), sorted(defined - set(module.__all__))


def test_every_flipped_byte_is_rejected_never_fatal(
    trio: tuple[Feed, Person, Person, Person],
) -> None:
    feed, alice, bob, carol = trio
    bob.say(feed, "x")
    feed.append(alice.member.remove(alice.identity, "carol", now=NOW))  # type: ignore[union-attr]
    valid = feed.entries[-4:]
    for data in valid:
        for position in range(0, len(data), 97):
            flipped = bytearray(data)
            flipped[position] ^= 0x41
            events = carol.member.receive(carol.identity, bytes(flipped))  # type: ignore[union-attr]
            assert all(not hasattr(e, "plaintext") for e in events)
    assert carol.member is not None
    assert carol.member.receive(carol.identity, b"\x01\x03" + bytes(1022))


_FUZZ_FEED = Feed()
_FUZZ_OWNER = person("owner")
found_group(_FUZZ_OWNER, _FUZZ_FEED)


@settings(max_examples=300, deadline=None)
@given(kind=st.integers(1, 6), epoch=st.integers(0, 3), rest=st.binary(max_size=3000))
def test_random_group_envelopes_never_crash(kind: int, epoch: int, rest: bytes) -> None:
    body = bytes((kind,)) + epoch.to_bytes(4, "big") + rest
    data = env.pack(env.Kind.GROUP, body, envelope_id=bytes(16))
    member = _FUZZ_OWNER.member
    assert member is not None
    clone = type(member).from_bytes(member.to_bytes(), bytes(range(32)))
    events = clone.receive(_FUZZ_OWNER.identity, data)
    assert all(not hasattr(e, "plaintext") for e in events)


def test_a_send_leaves_the_roster_untouched(trio: tuple[Feed, Person, Person, Person]) -> None:
    from payk.protocol.group_member import GroupMember

    feed, alice, bob, _ = trio
    assert bob.member is not None
    core, roster = bob.member.to_parts()
    restored = GroupMember.from_parts(core, bob.member.roster_bytes(), bytes(range(32)))
    feed.append(restored.send(bob.identity, b"\x00"))
    assert restored.to_parts()[1] is None  # only ops rewrite the roster
    assert alice.member is not None
    feed.append(alice.member.remove(alice.identity, "carol", now=NOW))
    restored.receive(bob.identity, feed.entries[-2])
    assert restored.to_parts()[1] is not None
    with pytest.raises(RemoteProtocolError):
        GroupMember.from_parts(b"\xc1", b"", bytes(32))
    del roster


def test_forged_welcome_and_key_do_not_lock_a_joiner_out() -> None:
    from payk.protocol.group_member import GroupMember

    feed, alice, carol, mallory = Feed(), person("alice"), person("carol"), person("mallory")
    found_group(alice, feed)
    assert alice.member is not None
    invite, secret, entries = alice.member.invite(alice.identity, now=NOW)
    feed.append(entries)
    carol.member = GroupMember.joining(
        group=alice.member.group, genesis=alice.member.genesis, pickle_key=bytes(range(32))
    )
    request = carol.member.join_request(carol.identity, name="carol", invite=invite, secret=secret)
    feed.append([request])
    # mallory holds the link: she reads carol's request and races the admin with fake keys
    state = alice.member.state
    assert state is not None
    asked = g.open_join(g.read_entry(request), {invite: secret}, group=state.group)
    for purpose in ("epoch", "welcome"):
        fake = g.WrapPayload(
            purpose=purpose,
            group=state.group,
            epoch=state.epoch + 1,
            author=mallory.identity.public.ed25519,
            key=bytes(32),
            log_keys={1: bytes(32)},
        )
        feed.append(g.seal_wraps(mallory.identity, fake, [asked.member], envelope_ids=[p_random()]))
    alice.sync(feed)
    feed.append(alice.member.approve(alice.identity, "carol", now=NOW))
    alice.sync(feed)
    carol.sync(feed)
    assert carol.member.status == "member"
    alice.say(feed, "welcome carol")
    assert carol.texts(carol.sync(feed)) == [("alice", "welcome carol")]


def p_random() -> bytes:
    from payk.protocol import primitives

    return primitives.random_bytes(16)
