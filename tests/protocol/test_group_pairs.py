"""Helpers for group tests: a feed as a list, and people who read it in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from payk.protocol import group_content as gc
from payk.protocol.group_member import GroupEvent, GroupMember, Received, Rejected, Rescan
from payk.protocol.identity import Identity

PICKLE_KEY = bytes(range(32))
NOW = 1_700_000_000


@dataclass
class Feed:
    """The relay's append-only feed, counting uploads."""

    entries: list[bytes] = field(default_factory=list)
    uploads: int = 0

    def append(self, entries: list[bytes]) -> None:
        self.entries += entries
        self.uploads += len(entries)


@dataclass
class Person:
    name: str
    identity: Identity
    member: GroupMember | None = None
    offset: int = 0
    events: list[GroupEvent] = field(default_factory=list)

    def sync(self, feed: Feed) -> list[GroupEvent]:
        assert self.member is not None
        new: list[GroupEvent] = []
        while self.offset < len(feed.entries):
            data = feed.entries[self.offset]
            self.offset += 1
            events = self.member.receive(self.identity, data)
            if any(isinstance(e, Rescan) for e in events):
                self.offset = 0
            new += events
        self.events += new
        return new

    def texts(self, events: list[GroupEvent]) -> list[tuple[str, str]]:
        out = []
        for event in events:
            if isinstance(event, Received):
                item = gc.decode(event.plaintext)
                assert isinstance(item, gc.GroupText)
                out.append((event.name, item.text))
        return out

    def say(self, feed: Feed, text: str) -> None:
        assert self.member is not None
        item = gc.GroupText(id=bytes(16), text=text, sent_at=NOW)
        feed.append(self.member.send(self.identity, gc.encode(item)))


def rejections(events: list[GroupEvent]) -> list[str]:
    return [e.reason for e in events if isinstance(e, Rejected)]


def person(name: str) -> Person:
    return Person(name=name, identity=Identity.generate())


def found_group(owner: Person, feed: Feed, name: str = "Union") -> None:
    owner.member, entries = GroupMember.create(
        owner.identity, name=name, member_name=owner.name, now=NOW, pickle_key=PICKLE_KEY
    )
    feed.append(entries)
    owner.sync(feed)


def admit(admin: Person, joiner: Person, feed: Feed, *, others: list[Person] = ()) -> None:  # type: ignore[assignment]
    """Invite, request, approve, and let everyone read up."""
    assert admin.member is not None
    invite, secret, entries = admin.member.invite(admin.identity, now=NOW)
    feed.append(entries)
    joiner.member = GroupMember.joining(
        group=admin.member.group, genesis=admin.member.genesis, pickle_key=PICKLE_KEY
    )
    feed.append(
        [
            joiner.member.join_request(
                joiner.identity, name=joiner.name, invite=invite, secret=secret
            )
        ]
    )
    admin.sync(feed)
    feed.append(admin.member.approve(admin.identity, joiner.name, now=NOW))
    for p in [admin, joiner, *others]:
        p.sync(feed)
