"""Disappearing messages against the in-memory relay twin, with a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec
import pytest

from payk.client import disappearing
from payk.client.facade import Client
from payk.errors import RemoteProtocolError, UsageError
from payk.net.memory import MemoryNetwork
from payk.protocol import content
from payk.protocol.content import Text, Timer

START = 1_800_000_000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now


@dataclass
class Pair:
    alice: Client
    bob: Client
    clock: Clock
    net: MemoryNetwork
    tmp: Path


async def _open(tmp: Path, name: str, net: MemoryNetwork, clock: Clock, relays: list) -> Client:  # type: ignore[type-arg]
    home = tmp / name
    if home.exists():
        client = Client.open(home, f"pass {name}", network=net, clock=clock)
    else:
        client = Client.create(
            home, f"pass {name}", name=name, relays=relays, network=net, clock=clock
        )
    client.config = replace(client.config, downloads=tmp / f"dl-{name}")
    return client


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    net, clock = MemoryNetwork(), Clock()
    relays = [net.add_relay(4100)]
    alice = await _open(tmp_path, "Alice", net, clock, relays)
    bob = await _open(tmp_path, "Bob", net, clock, relays)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    await bob.sync()
    p = Pair(alice, bob, clock, net, tmp_path)
    yield p
    await p.alice.close()
    await p.bob.close()


def _texts(client: Client, alias: str) -> list[str | None]:
    return [m.text for m in client.history(alias)]


def _stored_texts(client: Client) -> list[str]:
    return [
        str(r[0])
        for r in client.profile.db.query("SELECT text FROM messages WHERE text IS NOT NULL")
    ]


async def test_a_timed_message_disappears_on_both_sides(pair: Pair) -> None:
    await pair.alice.send_text("Bob", "burn after reading", expire=60)
    await pair.alice.send_text("Bob", "keep this")
    got = await pair.bob.sync()
    assert [(m.text, m.expires_at) for m in got] == [
        ("burn after reading", START + 60),
        ("keep this", None),
    ]
    assert _texts(pair.alice, "Bob") == ["burn after reading", "keep this"]
    pair.clock.now += 59
    assert _texts(pair.bob, "Alice") == ["burn after reading", "keep this"]
    pair.clock.now += 1
    assert _texts(pair.alice, "Bob") == ["keep this"]
    assert _texts(pair.bob, "Alice") == ["keep this"]
    assert _stored_texts(pair.alice) == _stored_texts(pair.bob) == ["keep this"]
    assert pair.bob.profile.db.query("SELECT * FROM expiry") == []


async def test_the_clock_starts_when_the_receiver_stores_it(pair: Pair) -> None:
    await pair.alice.send_text("Bob", "late", expire=60)
    pair.clock.now += 3600  # Bob was offline for an hour
    assert _texts(pair.alice, "Bob") == []
    [got] = await pair.bob.sync()
    assert got.expires_at == pair.clock.now + 60


async def test_timers_ran_out_while_closed_are_purged_at_start_up(pair: Pair) -> None:
    await pair.alice.send_text("Bob", "gone by morning", expire=5)
    await pair.bob.sync()
    await pair.bob.close()
    pair.clock.now += 10
    pair.bob = await _open(pair.tmp, "Bob", pair.net, pair.clock, [])
    assert _stored_texts(pair.bob) == []


async def test_listen_purges_while_running(pair: Pair) -> None:
    await pair.alice.send_text("Bob", "while listening", expire=5)
    stream = pair.bob.listen()
    first = asyncio.ensure_future(anext(stream))
    message = await asyncio.wait_for(first, timeout=10)
    assert message.text == "while listening"
    pair.clock.now += 5
    for _ in range(200):  # the purge task runs every PURGE_INTERVAL; wait for its effect
        if not _stored_texts(pair.bob):
            break
        await asyncio.sleep(disappearing.PURGE_INTERVAL / 5)
    assert _stored_texts(pair.bob) == []
    await stream.aclose()


async def test_the_conversation_default_is_set_by_either_side_and_shown_to_both(
    pair: Pair,
) -> None:
    setting = await disappearing.set_timer(pair.alice, "Bob", 3600)
    assert setting.as_json() == {
        "contact": "Bob",
        "seconds": 3600,
        "set_by": "me",
        "set_at": START,
    }
    await pair.bob.sync()
    contact = pair.bob.contacts()[0]
    seen = disappearing.conversation_timer(pair.bob.profile.db, contact.id, contact.alias)
    assert (seen.seconds, seen.set_by_peer) == (3600, True)
    await pair.bob.send_text("Alice", "under the default")
    [got] = await pair.alice.sync()
    assert got.expires_at == START + 3600
    pair.clock.now += 1
    await disappearing.set_timer(pair.bob, "Alice", 0)
    await pair.alice.sync()
    await pair.alice.send_text("Bob", "forever again")
    assert pair.alice.history("Bob")[-1].expires_at is None


async def test_an_older_timer_change_does_not_override_a_newer_one(pair: Pair) -> None:
    await disappearing.set_timer(pair.bob, "Alice", 60)  # Bob's change is older
    pair.clock.now += 10
    await disappearing.set_timer(pair.alice, "Bob", 600)
    await pair.alice.sync()
    await pair.bob.sync()
    a = disappearing.conversation_timer(pair.alice.profile.db, pair.alice.contacts()[0].id)
    b = disappearing.conversation_timer(pair.bob.profile.db, pair.bob.contacts()[0].id)
    assert a.seconds == b.seconds == 600


async def test_changes_made_in_the_same_second_settle_on_one_setting(pair: Pair) -> None:
    await disappearing.set_timer(pair.alice, "Bob", 3600)
    await disappearing.set_timer(pair.bob, "Alice", 60)  # the same second, crossing
    await pair.alice.sync()
    await pair.bob.sync()
    await pair.alice.sync()
    a = disappearing.conversation_timer(pair.alice.profile.db, pair.alice.contacts()[0].id)
    b = disappearing.conversation_timer(pair.bob.profile.db, pair.bob.contacts()[0].id)
    assert a.seconds == b.seconds == 3600


async def test_a_timed_file_and_its_saved_copy_disappear(pair: Pair) -> None:
    original = pair.tmp / "leaflet.txt"
    original.write_text("the march starts at noon")
    await pair.alice.send_file("Bob", original, expire=30)
    [got] = await pair.bob.sync()
    saved = Path(got.file or "")
    assert saved.read_text() == "the march starts at noon"  # noqa: ASYNC240
    pair.clock.now += 30
    assert pair.bob.history("Alice") == []
    assert not saved.exists()  # noqa: ASYNC240
    assert pair.bob.profile.db.query("SELECT * FROM file_data") == []
    assert pair.alice.history("Bob") == []
    assert original.exists(), "the sender's own file is never touched"


async def test_bad_timers_are_refused(pair: Pair) -> None:
    with pytest.raises(UsageError):
        await pair.alice.send_text("Bob", "x", expire=-1)
    with pytest.raises(UsageError):
        await disappearing.set_timer(pair.alice, "Bob", content.MAX_EXPIRE + 1)
    with pytest.raises(UsageError, match="no contact"):
        await disappearing.set_timer(pair.alice, "Nobody", 60)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800), ("1w", 604800), ("45", 45)],
)
def test_durations_parse(text: str, seconds: int) -> None:
    assert disappearing.parse_duration(text) == seconds
    assert disappearing.parse_duration(disappearing.format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "1y", "-5s", "1.5h", "400d", "soon"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        disappearing.parse_duration(text)


def test_off_is_zero() -> None:
    assert disappearing.parse_duration("off") == 0
    assert disappearing.format_duration(0) == "off"


def test_a_message_without_a_timer_encodes_as_before() -> None:
    plain = Text(id=b"\1" * 16, text="hi", sent_at=5)
    assert b"expire" not in content.encode(plain)
    timed = msgspec.structs.replace(plain, expire=60)
    assert content.decode(content.encode(timed)) == timed
    assert content.decode(content.encode(Timer(seconds=60, set_at=1))) == Timer(
        seconds=60, set_at=1
    )


def test_a_timer_out_of_range_from_a_peer_is_refused() -> None:
    raw = msgspec.msgpack.encode({"type": "timer", "seconds": -1, "set_at": 1})
    with pytest.raises(RemoteProtocolError):
        content.decode(raw)


# --- notices of a changed default ------------------------------------------------------------


def _notices(client: Client, alias: str) -> list[str]:
    return [disappearing.notice_line(m) for m in client.history(alias) if disappearing.is_notice(m)]


async def test_a_changed_default_leaves_a_notice_on_both_sides(pair: Pair) -> None:
    await disappearing.set_timer(pair.alice, "Bob", 86400)
    [mine] = pair.alice.history("Bob")
    assert (mine.outgoing, mine.status, mine.sent_at, mine.expires_at) == (
        True,
        "notice",
        START,
        None,
    )
    assert _notices(pair.alice, "Bob") == ["You set disappearing messages to 1 day"]
    [arrived] = await pair.bob.sync()  # sync shows it with the new messages
    assert disappearing.notice_line(arrived) == "Alice set disappearing messages to 1 day"
    assert (arrived.outgoing, arrived.sender) == (False, "Alice")
    pair.clock.now += 1
    await disappearing.set_timer(pair.bob, "Alice", 0)
    await pair.alice.sync()
    expected = ["Alice set disappearing messages to 1 day", "You turned off disappearing messages"]
    assert _notices(pair.bob, "Alice") == expected
    assert _notices(pair.alice, "Bob") == [
        "You set disappearing messages to 1 day",
        "Bob turned off disappearing messages",
    ]


async def test_a_repeat_of_the_setting_in_force_adds_no_notice(pair: Pair) -> None:
    await disappearing.set_timer(pair.alice, "Bob", 0)  # off, as it already was
    assert pair.alice.history("Bob") == []
    assert await pair.bob.sync() == []
    await disappearing.set_timer(pair.alice, "Bob", 60)
    pair.clock.now += 1
    await disappearing.set_timer(pair.alice, "Bob", 60)
    await pair.bob.sync()
    assert _notices(pair.alice, "Bob") == ["You set disappearing messages to 1 minute"]
    assert _notices(pair.bob, "Alice") == ["Alice set disappearing messages to 1 minute"]
    contact = pair.bob.contacts()[0]
    assert disappearing.conversation_timer(pair.bob.profile.db, contact.id).set_at == START + 1


async def test_an_ignored_older_setting_adds_no_notice(pair: Pair) -> None:
    await disappearing.set_timer(pair.bob, "Alice", 60)  # Bob's change is older
    pair.clock.now += 10
    await disappearing.set_timer(pair.alice, "Bob", 600)
    assert await pair.alice.sync() == []  # Bob's older Timer arrives and is ignored
    assert _notices(pair.alice, "Bob") == ["You set disappearing messages to 10 minutes"]
    await pair.bob.sync()
    assert _notices(pair.bob, "Alice") == [
        "You set disappearing messages to 1 minute",
        "Alice set disappearing messages to 10 minutes",
    ]


async def test_notices_are_not_unread_and_take_no_receipts(pair: Pair) -> None:
    await disappearing.set_timer(pair.alice, "Bob", 3600)
    await pair.bob.sync()
    assert pair.bob.unread() == {}
    assert await pair.bob.mark_read("Alice") == 0  # nothing to mark, so no read receipt
    assert pair.bob.profile.db.query("SELECT * FROM outbox") == []
    [notice] = pair.bob.history("Alice")
    assert notice.status == "notice"
    await pair.alice.sync()
    [mine] = pair.alice.history("Bob")
    assert mine.status == "notice", "no delivery or read receipt changes a notice"
    # a read receipt naming a notice's local id (which never left Alice) changes nothing
    bob_side = pair.bob.contacts()[0]
    pair.bob._queue_receipts({bob_side.id: [bytes.fromhex(mine.id)]}, read=True)
    await pair.bob.flush(force=True)
    assert pair.bob.profile.db.query("SELECT * FROM outbox") == [], "the receipt went out"
    await pair.alice.sync()
    assert pair.alice.history("Bob")[0].status == "notice"


async def test_a_notice_survives_the_purge_of_timed_messages(pair: Pair) -> None:
    await disappearing.set_timer(pair.alice, "Bob", 60)
    await pair.alice.send_text("Bob", "under the default")
    await pair.bob.sync()
    assert _texts(pair.alice, "Bob")[-1] == _texts(pair.bob, "Alice")[-1] == "under the default"
    pair.clock.now += 60
    for person, alias, who in ((pair.alice, "Bob", "You"), (pair.bob, "Alice", "Alice")):
        [left] = person.history(alias)
        assert disappearing.notice_line(left) == f"{who} set disappearing messages to 1 minute"
    assert _stored_texts(pair.bob) == ["set disappearing messages to 1 minute"]


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [
        (0, "turned off disappearing messages"),
        (1, "set disappearing messages to 1 second"),
        (90, "set disappearing messages to 90 seconds"),
        (600, "set disappearing messages to 10 minutes"),
        (3600, "set disappearing messages to 1 hour"),
        (2 * 86400, "set disappearing messages to 2 days"),
        (604800, "set disappearing messages to 1 week"),
    ],
)
def test_notice_phrases(seconds: int, phrase: str) -> None:
    assert disappearing.notice_phrase(seconds) == phrase
