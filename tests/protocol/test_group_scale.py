"""A group of 200 simulated members in one process: epochs, re-keys, one upload per message."""

from __future__ import annotations

from payk.protocol import group as g
from payk.protocol.group_member import GroupMember

from .test_group_pairs import NOW, PICKLE_KEY, Feed, Person, found_group, person, rejections

SIZE = 200
READERS = (1, 57, 123, 199)  # members who read the whole feed; the others only join


def _build() -> tuple[Feed, list[Person]]:
    feed = Feed()
    people = [person(f"m{i}") for i in range(SIZE)]
    owner = people[0]
    found_group(owner, feed)
    assert owner.member is not None
    for joiner in people[1:]:
        invite, secret, entries = owner.member.invite(owner.identity, now=NOW)
        feed.append(entries)
        joiner.member = GroupMember.joining(
            group=owner.member.group, genesis=owner.member.genesis, pickle_key=PICKLE_KEY
        )
        request = joiner.member.join_request(
            joiner.identity, name=joiner.name, invite=invite, secret=secret
        )
        feed.append([request])
        owner.sync(feed)
        feed.append(owner.member.approve(owner.identity, joiner.name, now=NOW))
        owner.sync(feed)
    for i in READERS:
        people[i].sync(feed)
    return feed, people


def test_two_hundred_members() -> None:
    feed, people = _build()
    owner = people[0]
    assert owner.member is not None and owner.member.state is not None
    state = owner.member.state
    assert len(state.members) == SIZE
    assert state.epoch == SIZE  # create, then one epoch per approval
    readers = [people[i] for i in READERS]
    for reader in readers:
        assert reader.member is not None and reader.member.status == "member"
        assert reader.member.state is not None and reader.member.state.head == state.head
        assert rejections(reader.events) == []

    # one upload per message, whatever the size (plus one session share per sender per epoch)
    speaker = readers[0]
    before = feed.uploads
    speaker.say(feed, "first")
    assert feed.uploads - before == 2
    for n in range(5):
        before = feed.uploads
        speaker.say(feed, f"message {n}")
        assert feed.uploads - before == 1
    for reader in readers[1:]:
        texts = reader.texts(reader.sync(feed))
        assert [t for _, t in texts] == ["first"] + [f"message {n}" for n in range(5)]

    # removing one member starts a new epoch; wraps go to the 199 who stay
    removed = readers[-1]
    before = feed.uploads
    feed.append(owner.member.remove(owner.identity, removed.name, now=NOW))
    assert feed.uploads - before == 1 + -(-(SIZE - 1) // g.MAX_WRAPS)
    for reader in readers:
        reader.sync(feed)
    owner.sync(feed)
    assert owner.member.state is not None and owner.member.state.epoch == SIZE + 1
    assert removed.member is not None and removed.member.status == "removed"
    speaker.say(feed, "after removal")
    assert removed.sync(feed) == []
    for reader in readers[1:-1]:
        assert [t for _, t in reader.texts(reader.sync(feed))] == ["after removal"]
