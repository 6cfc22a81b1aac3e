"""A channel on two real relays: one killed, readers still read by HTTP GET; each post once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .conftest import Payk, Relay, RelayFactory


def _feed_count(relay: Relay) -> int:
    db = sqlite3.connect(relay.data / "relay.db")
    try:
        return int(db.execute("SELECT count(*) FROM feed_entries").fetchone()[0])
    finally:
        db.close()


def _posts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["from"], m["text"]) for m in messages]


def _sync(person: Payk) -> tuple[list[tuple[str, str]], str]:
    result = person("sync", "--save", str(person.downloads))
    return _posts(result.data["messages"]), result.stderr


@pytest.mark.parametrize("killed", [0, 1])
def test_channel_on_two_relays_survives_one_killed(
    tmp_path: Path, relays: RelayFactory, killed: int
) -> None:
    pair = [relays.start("first"), relays.start("second")]
    admin = Payk(tmp_path / "admin", "admin passphrase", tmp_path / "admin-downloads")
    reader = Payk(tmp_path / "reader", "reader passphrase", tmp_path / "reader-downloads")
    for person, name in ((admin, "Admin"), (reader, "Reader")):
        person.init(name, [r.address for r in pair])
    admin("channel", "create", "News")
    reader("channel", "subscribe", admin("channel", "link", "News").data["link"])
    assert admin("send", "News", "both relays up").data["paths"] == 2
    assert [_feed_count(r) for r in pair] == [1, 1]  # one copy on each relay
    posts, stderr = _sync(reader)
    assert posts == [("News", "both relays up")]  # once, not twice
    assert "rejected" not in stderr

    port = pair[killed].port
    pair[killed].stop()
    assert admin("send", "News", "one relay is gone").data["paths"] == 1
    assert _posts(reader.sync()) == [("News", "one relay is gone")]
    assert reader.sync() == []

    pair[killed] = relays.start(("first", "second")[killed], port=port)  # back, same address
    assert admin.sync() == []  # flushes the post the revived copy missed
    assert [_feed_count(r) for r in pair] == [2, 2]
    posts, stderr = _sync(reader)
    assert posts == []  # read again from the revived copy: skipped, not refused
    assert "rejected" not in stderr
    history = reader("history", "News").data["messages"]
    assert [m["text"] for m in history] == ["both relays up", "one relay is gone"]
