"""Safety on a seized device, with real relay processes and real ``payk`` commands."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from payk.client.profile import unlock_profile
from tests.e2e.conftest import Payk, Relay, connect

pytestmark = pytest.mark.e2e

WAIT = 30.0


def _until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _decrypted_dump(person: Payk) -> bytes:
    """Every row of every table of the person's store, decrypted, as one blob to search."""
    os.environ["PAYK_KDF_PROFILE"] = "fast"
    profile = unlock_profile(person.home, person.passphrase)
    try:
        tables = [
            r[0] for r in profile.db.query("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        parts = [repr(list(map(tuple, profile.db.query(f"SELECT * FROM {t}")))) for t in tables]
    finally:
        profile.close()
    return "\n".join(parts).encode()


def _two(relay: Relay, people: tuple[Payk, Payk]) -> tuple[Payk, Payk]:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    return alice, bob


def test_a_two_second_message_disappears_from_both_profiles(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = _two(relay, people)
    secret, kept = "the safe house is on Vali-Asr street", "see you tomorrow"
    alice("send", "Bob", secret, "--expire", "2s")
    alice("send", "Bob", kept)
    got = bob.sync()
    assert [m["text"] for m in got] == [secret, kept]
    assert got[0]["expires_at"] is not None and got[1]["expires_at"] is None

    def gone(person: Payk, alias: str) -> bool:
        return [m["text"] for m in person("history", alias).data["messages"]] == [kept]

    _until(lambda: gone(alice, "Bob") and gone(bob, "Alice"), "the message to disappear")
    for person in (alice, bob):
        dump = _decrypted_dump(person)
        assert kept.encode() in dump, "the scan sees what is still stored"
        assert secret.encode() not in dump
        for path in _files(person.home):
            assert secret.encode() not in path.read_bytes()


def test_a_conversation_timer_is_shown_to_both(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = _two(relay, people)
    assert bob("disappear", "Alice").data["seconds"] == 0
    assert alice("disappear", "Bob", "1h").data == {
        "contact": "Bob",
        "seconds": 3600,
        "set_by": "me",
        "set_at": alice("disappear", "Bob").data["set_at"],
    }
    bob.sync()
    shown = bob("disappear", "Alice").data
    assert (shown["seconds"], shown["set_by"]) == (3600, "them")
    bad = bob("disappear", "Alice", "soon", check=False)
    assert bad.code == 1 and "not a duration" in bad.stderr
