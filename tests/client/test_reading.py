"""Read receipts and replies against the in-memory relay twin."""

from __future__ import annotations

import pytest

from payk.errors import UsageError
from payk.protocol import content
from payk.protocol.content import Receipt, Text
from tests.client.test_client import Pair, _connect, pair

__all__ = ["pair"]


def _status(pair: Pair, text: str) -> str:
    return {m.text: m.status for m in pair.alice.history("Bob")}[text]


async def test_bob_viewing_the_thread_sends_alice_a_read_receipt(pair: Pair) -> None:
    await _connect(pair)
    await pair.alice.send_text("Bob", "did you see this?")
    await pair.bob.sync()
    await pair.alice.sync()
    assert _status(pair, "did you see this?") == "delivered"  # stored, not yet viewed
    pair.bob.history("Alice")
    assert await pair.bob.mark_read("Alice") == 1
    await pair.alice.sync()
    assert _status(pair, "did you see this?") == "read"
    assert await pair.bob.mark_read("Alice") == 0  # once only


async def test_nothing_is_read_before_it_is_viewed(pair: Pair) -> None:
    await _connect(pair)
    await pair.alice.send_text("Bob", "unseen")
    await pair.bob.sync()
    await pair.alice.sync()
    await pair.bob.sync()
    await pair.alice.sync()
    assert _status(pair, "unseen") == "delivered"
    assert await pair.alice.mark_read("Bob") == 0  # Alice's own messages are never "read" by her


async def test_unread_counts_live_in_the_store_until_viewed(pair: Pair) -> None:
    await _connect(pair)
    assert pair.bob.unread() == {}
    await pair.alice.send_text("Bob", "one")
    await pair.alice.send_text("Bob", "two")
    await pair.bob.sync()
    await pair.alice.sync()
    assert pair.bob.unread() == {"Alice": 2}
    assert pair.alice.unread() == {}  # her own messages are never unread to her
    await pair.bob.mark_read("Alice")
    assert pair.bob.unread() == {}


async def test_a_late_delivery_receipt_never_undoes_read(pair: Pair) -> None:
    await _connect(pair)
    await pair.alice.send_text("Bob", "quick")
    await pair.bob.sync()
    await pair.bob.mark_read("Alice")
    await pair.alice.sync()  # both receipts arrive together, delivered first
    assert _status(pair, "quick") == "read"


async def test_a_reply_round_trip_names_the_answered_message(pair: Pair) -> None:
    await _connect(pair)
    asked = await pair.alice.send_text("Bob", "tea or coffee?\nanswer soon")
    await pair.bob.sync()
    answer = await pair.bob.send_text("Alice", "tea", reply_to=asked.id[:6])
    got = await pair.alice.sync()
    assert [(m.text, m.reply_to, m.quoted()) for m in got] == [("tea", asked.id, "tea or coffee?")]
    mine = {m.id: m for m in pair.bob.history("Alice")}
    assert mine[answer.id].reply_to == asked.id
    assert mine[answer.id].as_json()["reply_to"] == asked.id
    assert mine[asked.id].reply_to is None and mine[asked.id].quoted() is None


@pytest.mark.parametrize("bad", ["", "zz", "0000000000000000000000000000000000"])
async def test_a_bad_reply_id_is_a_usage_error(pair: Pair, bad: str) -> None:
    await _connect(pair)
    await pair.alice.send_text("Bob", "one")
    await pair.bob.sync()
    with pytest.raises(UsageError):
        await pair.bob.send_text("Alice", "answer", reply_to=bad)
    assert [m.text for m in pair.bob.history("Alice")] == ["one"]  # nothing was queued


async def test_an_ambiguous_reply_prefix_is_a_usage_error(pair: Pair) -> None:
    await _connect(pair)
    sent = [await pair.alice.send_text("Bob", f"m{i}") for i in range(40)]
    await pair.bob.sync()
    counts: dict[str, int] = {}
    for s in sent:
        counts[s.id[0]] = counts.get(s.id[0], 0) + 1
    shared = next(p for p, n in counts.items() if n > 1)  # 40 ids over 16 digits: one repeats
    with pytest.raises(UsageError, match="ambiguous"):
        await pair.bob.send_text("Alice", "which?", reply_to=shared)


def test_old_encodings_still_decode_and_defaults_are_omitted() -> None:
    receipt = Receipt(ids=[b"\x01" * 16])
    assert b"read" not in content.encode(receipt)
    assert content.decode(content.encode(receipt)) == Receipt(ids=[b"\x01" * 16], read=False)
    read = Receipt(ids=[b"\x01" * 16], read=True)
    assert content.decode(content.encode(read)) == read
    text = Text(id=b"\x02" * 16, text="hi", sent_at=1)
    assert b"reply_to" not in content.encode(text)
    reply = Text(id=b"\x02" * 16, text="hi", sent_at=1, reply_to=b"\x03" * 16)
    assert content.decode(content.encode(reply)) == reply
