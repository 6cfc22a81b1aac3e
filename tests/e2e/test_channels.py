"""Channels end to end: an admin posts once, readers fetch the feed by plain HTTP GET."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .conftest import Payk, Relay


@pytest.fixture
def trio(tmp_path: Path, relay: Relay) -> tuple[Payk, Payk, Payk]:
    people = tuple(
        Payk(tmp_path / n, f"{n} passphrase", tmp_path / f"{n}-downloads")
        for n in ("admin", "reader", "other")
    )
    for person, name in zip(people, ("Admin", "Reader", "Other"), strict=True):
        person.init(name, [relay.address])
    return people  # type: ignore[return-value]


def _feed_count(relay: Relay) -> int:
    db = sqlite3.connect(relay.data / "relay.db")
    try:
        return int(db.execute("SELECT count(*) FROM feed_entries").fetchone()[0])
    finally:
        db.close()


def test_post_once_read_by_everyone(trio: tuple[Payk, Payk, Payk], relay: Relay) -> None:
    admin, reader, other = trio
    assert admin("channel", "create", "News").data == {"channel": "News"}
    link = admin("channel", "link", "News").data["link"]
    assert reader("channel", "subscribe", link).data == {"channel": "News"}
    assert other("channel", "subscribe", link, "--as", "Daily").data == {"channel": "Daily"}
    before = _feed_count(relay)
    assert admin("send", "News", "march at noon").data["paths"] == 1
    assert _feed_count(relay) == before + 1  # one upload, whatever the number of readers
    assert [(m["from"], m["text"]) for m in reader.sync()] == [("News", "march at noon")]
    assert [(m["conversation"], m["text"]) for m in other.sync()] == [("Daily", "march at noon")]
    assert reader.sync() == []
    refused = reader("send", "News", "i am not an admin", check=False)
    assert refused.code == 1 and "only the admins" in refused.stderr
    history = reader("history", "News").data["messages"]
    assert [m["text"] for m in history] == ["march at noon"]


def test_replayed_post_is_rejected(trio: tuple[Payk, Payk, Payk], relay: Relay) -> None:
    admin, reader, _ = trio
    admin("channel", "create", "News")
    reader("channel", "subscribe", admin("channel", "link", "News").data["link"])
    admin("send", "News", "first")
    reader.sync()
    db = sqlite3.connect(relay.data / "relay.db")
    try:
        feed_id, body = db.execute("SELECT feed_id, body FROM feed_entries").fetchone()
        db.execute("INSERT INTO feed_entries VALUES (?, 1, ?, 0)", (feed_id, body))
        db.execute("UPDATE feeds SET next_pos = 2 WHERE feed_id = ?", (feed_id,))
        db.commit()
    finally:
        db.close()
    result = reader("sync", "--save", str(reader.downloads))
    assert result.data["messages"] == []
    assert "rejected a post (a replayed or reordered post" in result.stderr
