"""Bad input and bad luck: expired links, a full disk, Ctrl-C mid-transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.client.files import safe_name
from payk.client.mailboxes import all_mailboxes
from payk.client.store.sqlcipher import Database
from payk.errors import InvitationError, StorageError
from payk.net.memory import MemoryNetwork

NOW = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


async def _people(tmp_path: Path, clock: Clock) -> tuple[Client, Client]:
    net = MemoryNetwork()
    relay = net.add_relay(6000)
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=[relay], network=net)
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=[relay], network=net)
    alice.clock = bob.clock = clock
    return alice, bob


async def test_an_expired_link_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    alice, bob = await _people(tmp_path, clock)
    link = await alice.invite(ttl=3600)
    clock.now += 3601
    with pytest.raises(InvitationError, match="expired"):
        await bob.accept(link)
    assert bob.contacts() == []
    await alice.close()
    await bob.close()


async def test_an_answer_after_expiry_makes_no_contact(tmp_path: Path) -> None:
    clock = Clock()
    alice, bob = await _people(tmp_path, clock)
    link = await alice.invite(ttl=3600)
    await bob.accept(link, alias="Alice")
    clock.now += 7200
    assert await alice.sync() == []
    assert alice.contacts() == []
    assert any("dropped" in w for w in alice.warnings)
    await alice.close()
    await bob.close()


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", b"\x01" * 32)
    db.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    db.execute("PRAGMA max_page_count = 40")  # a disk with room for 40 pages
    with pytest.raises(StorageError, match="disk is full"), db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('big', ?)", (b"x" * 1_000_000,))
    assert db.one("SELECT value FROM meta WHERE key = 'kept'")[0] == "yes"
    assert db.one("SELECT value FROM meta WHERE key = 'big'") is None
    db.close()


def test_ctrl_c_inside_a_transaction_rolls_it_back(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", b"\x01" * 32)
    with pytest.raises(KeyboardInterrupt), db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('half', 'done')")
        raise KeyboardInterrupt
    assert db.one("SELECT 1 FROM meta WHERE key = 'half'") is None
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('next', 'fine')")
    db.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("..", "file"),
        (".bashrc", "bashrc"),
        ("a\x1b[2Jb.txt", "a[2Jb.txt"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("", "file"),
    ],
)
def test_peer_file_names_are_made_harmless(given: str, expected: str) -> None:
    assert safe_name(given) == expected


async def test_peer_names_lose_control_characters(tmp_path: Path) -> None:
    alice, bob = await _people(tmp_path, Clock())
    bob.profile.db.execute("UPDATE meta SET value = 'Bob\x1b[31m' WHERE key = 'name'")
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    assert [c.alias for c in alice.contacts()] == ["Bob[31m"]
    await alice.close()
    await bob.close()


async def test_expired_unanswered_invitations_stop_costing_fetches(tmp_path: Path) -> None:
    clock = Clock()
    alice, bob = await _people(tmp_path, clock)
    await alice.invite(ttl=3600)
    answered = await alice.invite(ttl=3600)
    await bob.accept(answered, alias="Alice")
    await alice.sync()
    assert len(all_mailboxes(alice.profile.db)) == 2
    clock.now += 3601
    await alice.sync()
    remaining = all_mailboxes(alice.profile.db)
    assert len(remaining) == 1 and remaining[0].contact_id is not None
    await alice.close()
    await bob.close()
