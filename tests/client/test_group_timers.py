"""Disappearing messages in groups: per-message timers, the group default, the purge, and the
wire format, over the in-memory relay twin with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
import pytest

from payk.cli.safety_cmd import render_timer
from payk.client import channels, disappearing, feed_rows, groups
from payk.client.facade import Client
from payk.errors import RemoteProtocolError, UsageError
from payk.net.memory import MemoryNetwork
from payk.protocol import group_content as gc
from tests.client import memory_feeds
from tests.client.test_disappearing import START, Clock


@dataclass
class Trio:
    alice: Client
    bob: Client
    carol: Client
    clock: Clock

    @property
    def all(self) -> list[Client]:
        return [self.alice, self.bob, self.carol]

    async def sync_all(self) -> None:
        for person in self.all:
            await groups.sync_all(person)


@pytest.fixture
async def trio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Trio]:
    memory_feeds.install(monkeypatch)
    net, clock = MemoryNetwork(), Clock()
    relay = net.add_relay(4200)
    people = [
        Client.create(
            tmp_path / n, "pass", name=n.title(), relays=[relay], network=net, clock=clock
        )
        for n in ("alice", "bob", "carol")
    ]
    trio = Trio(*people, clock=clock)
    await groups.create(trio.alice, "Union")
    for joiner in (trio.bob, trio.carol):
        await groups.join(joiner, await groups.invite(trio.alice, "Union"))
        await groups.approve(trio.alice, "Union", joiner.name)
        await groups.sync_all(joiner)
    await trio.sync_all()
    yield trio
    for person in people:
        await person.close()


def _texts(client: Client) -> list[str | None]:
    return [m.text for m in client.history("Union")]


def _stored(client: Client) -> list[str]:
    rows = client.profile.db.query("SELECT text FROM group_messages WHERE text IS NOT NULL")
    return [str(r[0]) for r in rows]


# --- the wire format ---------------------------------------------------------------------------


class _OldGroupText(msgspec.Struct, frozen=True, tag="gtext"):
    """``GroupText`` as clients before timers define it."""

    id: Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
    text: str
    sent_at: int


def test_a_text_without_timer_encodes_as_before_and_old_encodings_still_decode() -> None:
    msg_id = bytes(range(16))
    old = msgspec.msgpack.encode(_OldGroupText(id=msg_id, text="hi", sent_at=5))
    assert gc.encode(gc.GroupText(id=msg_id, text="hi", sent_at=5)) == old
    assert gc.decode(old) == gc.GroupText(id=msg_id, text="hi", sent_at=5, expire=0)
    timed = gc.encode(gc.GroupText(id=msg_id, text="hi", sent_at=5, expire=30))
    assert timed != old
    assert gc.decode(timed) == gc.GroupText(id=msg_id, text="hi", sent_at=5, expire=30)
    older_reader = msgspec.msgpack.Decoder(_OldGroupText)  # skips the field it does not know
    assert older_reader.decode(timed) == _OldGroupText(id=msg_id, text="hi", sent_at=5)


def test_timers_are_checked_and_are_not_messages() -> None:
    timer = gc.GroupTimer(seconds=3600, set_at=7)
    assert gc.decode_item(gc.encode(timer)) == timer
    with pytest.raises(RemoteProtocolError, match="not a message"):
        gc.decode(gc.encode(timer))  # a channel post or a stored row is never a timer
    too_long = msgspec.msgpack.encode({"type": "gtimer", "seconds": 400 * 86400, "set_at": 1})
    with pytest.raises(RemoteProtocolError, match="malformed"):
        gc.decode_item(too_long)
    bad_expire = msgspec.msgpack.encode(
        {"type": "gtext", "id": bytes(16), "text": "x", "sent_at": 1, "expire": -1}
    )
    with pytest.raises(RemoteProtocolError, match="malformed"):
        gc.decode_item(bad_expire)


# --- per-message timers ------------------------------------------------------------------------


async def test_a_timed_group_message_disappears_for_every_member(trio: Trio) -> None:
    await trio.carol.send_text("Union", "burn after reading", expire=60)
    await trio.carol.send_text("Union", "keep this")
    for person in (trio.alice, trio.bob):
        got = await person.sync()
        assert [(m.text, m.expires_at) for m in got] == [
            ("burn after reading", START + 60),
            ("keep this", None),
        ]
    assert [m.expires_at for m in trio.carol.history("Union")] == [START + 60, None]
    trio.clock.now += 59
    assert all(_texts(p) == ["burn after reading", "keep this"] for p in trio.all)
    trio.clock.now += 1
    for person in trio.all:
        assert _texts(person) == ["keep this"]
        assert _stored(person) == ["keep this"]
        assert person.profile.db.query("SELECT * FROM group_expiry") == []


async def test_the_clock_starts_when_each_member_stores_it(trio: Trio) -> None:
    await trio.alice.send_text("Union", "late", expire=60)
    await groups.sync_all(trio.bob)
    trio.clock.now += 3600  # Carol was offline for an hour
    assert _texts(trio.alice) == _texts(trio.bob) == []
    [got] = await trio.carol.sync()
    assert (got.text, got.expires_at) == ("late", trio.clock.now + 60)


async def test_a_disappeared_message_is_not_stored_again(trio: Trio) -> None:
    await trio.bob.send_text("Union", "once only", expire=5)
    await groups.sync_all(trio.alice)
    trio.clock.now += 5
    assert disappearing.purge(trio.alice.profile.db, trio.clock.now) == 1
    row = feed_rows.by_name(trio.alice.profile.db, "Union")
    gone = trio.alice.profile.db.query(
        "SELECT msg_id FROM group_gone WHERE group_ref = ?", (row.id,)
    )
    assert len(gone) == 1
    # the same text read again (a rescan of the feed) is not stored anew
    again = gc.GroupText(id=bytes(gone[0][0]), text="once only", sent_at=START, expire=5)
    with trio.alice.profile.db.transaction():
        rowid = feed_rows.store_message(
            trio.alice.profile.db,
            row.id,
            again,
            sender="Bob",
            outgoing=False,
            now=trio.clock.now,
            text="once only",
        )
    assert rowid == 0
    assert _stored(trio.alice) == []


async def test_a_timed_message_purged_at_start_up(trio: Trio, tmp_path: Path) -> None:
    await trio.alice.send_text("Union", "gone by morning", expire=5)
    await groups.sync_all(trio.bob)
    trio.clock.now += 10
    await trio.bob.close()
    trio.bob = Client.open(tmp_path / "bob", "pass", network=MemoryNetwork(), clock=trio.clock)
    assert _stored(trio.bob) == []


# --- the group default -------------------------------------------------------------------------


async def test_any_member_sets_the_default_and_everyone_converges(trio: Trio) -> None:
    setting = await groups.set_timer(trio.bob, "Union", 3600)
    assert setting.as_json() == {"group": "Union", "seconds": 3600, "set_by": "me", "set_at": START}
    assert str(render_timer(setting)) == (
        "Messages in Union disappear 1h after delivery (set by you)."
    )
    await trio.sync_all()
    for person in (trio.alice, trio.carol):
        shown = groups.timer(person, "Union")
        assert shown.as_json() == {
            "group": "Union",
            "seconds": 3600,
            "set_by": "Bob",
            "set_at": START,
        }
        assert str(render_timer(shown)) == (
            "Messages in Union disappear 1h after delivery (set by Bob)."
        )
    assert groups.timer(trio.bob, "Union").set_by_peer is False

    await trio.alice.send_text("Union", "timed by default")
    await trio.carol.send_text("Union", "not timed", expire=0)
    got = await trio.bob.sync()
    assert [(m.text, m.expires_at) for m in got] == [
        ("timed by default", START + 3600),
        ("not timed", None),
    ]


async def test_the_latest_setting_wins_whatever_order_it_arrives_in(trio: Trio) -> None:
    await groups.set_timer(trio.alice, "Union", 600)
    trio.clock.now += 5
    await groups.set_timer(trio.carol, "Union", 0)  # later, before Carol read Alice's
    trio.clock.now += 1
    await trio.sync_all()
    await trio.sync_all()
    for person in trio.all:
        shown = groups.timer(person, "Union")
        assert (shown.seconds, shown.set_at, shown.setter) == (0, START + 5, "Carol")
    assert str(render_timer(groups.timer(trio.alice, "Union"))) == (
        "Messages in Union do not disappear (set by Carol)."
    )


async def test_channels_have_no_timers_and_replies_stay_refused(trio: Trio) -> None:
    await channels.create(trio.alice, "News")
    with pytest.raises(UsageError, match="not channels"):
        await groups.set_timer(trio.alice, "News", 60)
    with pytest.raises(UsageError, match="not channels"):
        groups.timer(trio.alice, "News")
    with pytest.raises(UsageError, match="not in channels"):
        await trio.alice.send_text("News", "timed post", expire=60)
    await trio.alice.send_text("News", "untimed post")
    with pytest.raises(UsageError, match="--reply"):
        await trio.alice.send_text("Union", "answer", reply_to="abcd")
    with pytest.raises(UsageError, match="between 1 second and 365 days"):
        await groups.set_timer(trio.alice, "Union", 400 * 86400)
    with pytest.raises(UsageError, match="no group or channel"):
        groups.timer(trio.alice, "Nowhere")


# --- notices of a changed default --------------------------------------------------------------


def _notices(client: Client) -> list[str]:
    shown = client.history("Union")
    return [disappearing.notice_line(m) for m in shown if disappearing.is_notice(m)]


async def test_a_changed_group_default_leaves_a_notice_for_every_member(trio: Trio) -> None:
    await groups.set_timer(trio.bob, "Union", 86400)
    assert _notices(trio.bob) == ["You set disappearing messages to 1 day"]
    for person in (trio.alice, trio.carol):
        [arrived] = await person.sync()  # sync shows it with the new messages
        assert (arrived.sender, arrived.outgoing, arrived.status) == ("Bob", False, "notice")
        assert disappearing.notice_line(arrived) == "Bob set disappearing messages to 1 day"
    await trio.sync_all()  # Bob reads his own timer back: no second notice
    assert _notices(trio.bob) == ["You set disappearing messages to 1 day"]
    trio.clock.now += 1
    await groups.set_timer(trio.carol, "Union", 0)
    await trio.sync_all()
    assert _notices(trio.alice) == [
        "Bob set disappearing messages to 1 day",
        "Carol turned off disappearing messages",
    ]
    assert _notices(trio.carol)[-1] == "You turned off disappearing messages"
    rows = trio.alice.profile.db.query("SELECT message FROM group_outbox")
    assert all(r[0] is None for r in rows), "a notice is never queued to be sent"


async def test_an_ignored_or_repeated_group_setting_adds_no_notice(trio: Trio) -> None:
    await groups.set_timer(trio.alice, "Union", 600)
    await trio.sync_all()
    assert _notices(trio.bob) == ["Alice set disappearing messages to 10 minutes"]
    db, ref = trio.bob.profile.db, feed_rows.by_name(trio.bob.profile.db, "Union").id
    with db.transaction():
        older = gc.GroupTimer(seconds=60, set_at=START - 1)
        assert (
            disappearing.group_timer_received(db, ref, older, by="Carol", mine=False, now=START)
            == 0
        )
        repeat = gc.GroupTimer(seconds=600, set_at=START + 5)
        assert (
            disappearing.group_timer_received(db, ref, repeat, by="Carol", mine=False, now=START)
            == 0
        )
    assert groups.timer(trio.bob, "Union").set_at == START + 5, "the repeat was adopted"
    assert _notices(trio.bob) == ["Alice set disappearing messages to 10 minutes"]
    trio.clock.now += 10
    await groups.set_timer(trio.carol, "Union", 600)  # the same setting again, over the feed
    await trio.sync_all()
    for person, first in ((trio.alice, "You"), (trio.bob, "Alice"), (trio.carol, "Alice")):
        assert _notices(person) == [f"{first} set disappearing messages to 10 minutes"]


async def test_a_group_notice_survives_the_purge_of_timed_messages(trio: Trio) -> None:
    await groups.set_timer(trio.carol, "Union", 60)
    await trio.sync_all()
    await trio.alice.send_text("Union", "timed by the default")
    await trio.sync_all()
    assert all(_texts(p)[-1] == "timed by the default" for p in trio.all)
    trio.clock.now += 60
    for person in trio.all:
        [left] = person.history("Union")
        who = "You" if person is trio.carol else "Carol"
        assert disappearing.notice_line(left) == f"{who} set disappearing messages to 1 minute"
        assert person.profile.db.query("SELECT * FROM group_expiry") == []
