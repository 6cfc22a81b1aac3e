"""Lock, panic and the files of a profile folder: the key header, sizes and times."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from payk.client import safety
from payk.client.facade import Client
from payk.client.profile import DB_FILES, KEY_FILE, LOCK_FILE, create_profile, unlock_profile
from payk.client.store import layout
from payk.client.store.header import (
    HEADER_LEN,
    KDF_PROFILES,
    Header,
    derive_keys,
    read_header,
)
from payk.client.store.sqlcipher import Database
from payk.errors import AuthenticationError, IntegrityError, UsageError
from payk.net.memory import MemoryNetwork
from payk.protocol.address import RelayAddress

RELAY = RelayAddress(fingerprint=b"\x03" * 32, host="127.0.0.1", port=4433)


def _create(home: Path, passphrase: str = "real one") -> None:
    create_profile(home, passphrase, name="Roya", relays=[RELAY], now=1).close()


def _snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir())}


# --- the header -----------------------------------------------------------------------------


def test_the_header_has_two_slots_and_a_fixed_length(tmp_path: Path) -> None:
    _create(tmp_path)
    data = (tmp_path / KEY_FILE).read_bytes()
    assert len(data) == HEADER_LEN
    header = read_header(tmp_path / KEY_FILE)
    assert len(header.slots) == 2 and header.slots[0] != header.slots[1]
    keys = derive_keys("real one", header)
    assert keys.slot in (0, 1)
    with pytest.raises(AuthenticationError):
        derive_keys("real onE", header)


def test_a_header_with_altered_parameters_opens_no_slot(tmp_path: Path) -> None:
    _create(tmp_path)
    header = read_header(tmp_path / KEY_FILE)
    tampered = Header(params=KDF_PROFILES["fast"], salt=bytes(16), slots=header.slots)
    with pytest.raises(AuthenticationError):
        derive_keys("real one", tampered)
    with pytest.raises(IntegrityError):
        Header.from_bytes(header.to_bytes()[:-1])


def test_many_wrong_passphrases_change_nothing(tmp_path: Path) -> None:
    _create(tmp_path)
    before = _snapshot(tmp_path)
    for n in range(25):
        with pytest.raises(AuthenticationError, match="wrong passphrase"):
            unlock_profile(tmp_path, f"guess {n}")
    assert _snapshot(tmp_path) == before
    unlock_profile(tmp_path, "real one").close()


# --- the folder -----------------------------------------------------------------------------


def test_a_new_folder_holds_two_stores_of_one_class(tmp_path: Path) -> None:
    _create(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([KEY_FILE, LOCK_FILE, *DB_FILES])
    sizes = [layout.store_size(tmp_path / name) for name in DB_FILES]
    assert sizes[0] == sizes[1] and sizes[0] % layout.PAGE == 0
    for name in DB_FILES:
        assert b"SQLite format" not in (tmp_path / name).read_bytes()[:100]


def test_open_and_close_give_every_file_the_same_times(tmp_path: Path) -> None:
    _create(tmp_path)
    for path in tmp_path.iterdir():
        os.utime(path, (1_000_000, 1_000_000 + hash(path.name) % 1000))
    unlock_profile(tmp_path, "real one").close()
    times = {p.stat().st_mtime for p in tmp_path.iterdir()}
    assert len(times) == 1 and times.pop() > 1_000_000_000


def test_a_store_grows_the_other_file_into_its_class(tmp_path: Path) -> None:
    _create(tmp_path)
    profile = unlock_profile(tmp_path, "real one")
    with profile.db.transaction():
        profile.db.execute("INSERT INTO padding (data) VALUES (zeroblob(?))", (3 * 1024 * 1024,))
    profile.close()
    sizes = [layout.store_size(tmp_path / name) for name in DB_FILES]
    assert layout.size_class(sizes[0]) == layout.size_class(sizes[1]) == 4 * 1024 * 1024
    assert sizes[0] != sizes[1] or sizes[0] > 3 * 1024 * 1024


def test_a_store_pads_itself_into_the_other_files_class(tmp_path: Path) -> None:
    _create(tmp_path)
    profile = unlock_profile(tmp_path, "real one")
    layout.append_noise(profile.other_path, 5 * 1024 * 1024)
    profile.close()
    own = layout.store_size(profile.store_path)
    assert layout.size_class(own) == 8 * 1024 * 1024
    unlock_profile(tmp_path, "real one").close()


def test_random_pages_appended_to_a_live_store_do_no_harm(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = Database.open(path, b"\x05" * 32)
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('a', zeroblob(100000))")
    layout.checkpoint(db)
    layout.append_noise(path, layout.store_size(path) + 40 * layout.PAGE)
    with db.transaction():
        for n in range(300):
            db.execute("INSERT INTO meta (key, value) VALUES (?, randomblob(3000))", (f"k{n}",))
    db.close()
    again = Database.open(path, b"\x05" * 32)
    assert again.one("PRAGMA integrity_check")[0] == "ok"
    assert again.one("SELECT count(*) FROM meta")[0] == 301
    again.close()


def test_appending_never_creates_a_file(tmp_path: Path) -> None:
    layout.append_noise(tmp_path / "gone.db", 8192)
    assert not (tmp_path / "gone.db").exists()


@pytest.mark.parametrize(
    ("size", "cls"),
    [(0, 1 << 20), (1 << 20, 1 << 20), ((1 << 20) + 1, 2 << 20), (5 << 20, 8 << 20)],
)
def test_size_classes(size: int, cls: int) -> None:
    assert layout.size_class(size) == cls


# --- lock -----------------------------------------------------------------------------------


def test_a_sibling_open_is_not_a_lock_but_payk_lock_is(tmp_path: Path) -> None:
    _create(tmp_path)
    first = unlock_profile(tmp_path, "real one")
    watch = safety.LockWatch(tmp_path, first.signal_key)
    assert not watch.locked()
    unlock_profile(tmp_path, "real one").close()
    assert not watch.locked(), "another process opening the same profile is no lock"
    safety.lock(tmp_path)
    assert watch.locked()
    first.close()


def test_a_missing_lock_file_is_a_lock(tmp_path: Path) -> None:
    _create(tmp_path)
    profile = unlock_profile(tmp_path, "real one")
    watch = safety.LockWatch(tmp_path, profile.signal_key)
    (tmp_path / LOCK_FILE).unlink()
    assert watch.locked()
    profile.close()


def test_locking_a_folder_without_a_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        safety.lock(tmp_path)


async def test_a_lock_stops_listen_and_drops_the_keys(tmp_path: Path) -> None:
    net = MemoryNetwork()
    client = Client.create(
        tmp_path / "a", "pa", name="A", relays=[net.add_relay(4300)], network=net
    )
    await client.invite()

    async def listen_forever() -> int:
        async for _ in client.listen():
            pass
        return 0

    task = asyncio.ensure_future(safety.until_locked(client, listen_forever()))
    await asyncio.sleep(0)
    safety.lock(tmp_path / "a")
    with pytest.raises(AuthenticationError, match="locked"):
        await asyncio.wait_for(task, timeout=10)
    assert client.profile.pickle_key == b"" and client.profile.signal_key == b""
    await client.close()
    again = Client.open(tmp_path / "a", "pa", network=net)
    assert again.name == "A"
    await again.close()


async def test_work_that_ends_before_a_lock_returns_its_result(tmp_path: Path) -> None:
    client = Client.create(tmp_path / "a", "pa", name="A", relays=[RELAY])

    async def quick() -> int:
        return 7

    assert await safety.until_locked(client, quick()) == 7
    assert client.profile.pickle_key != b""
    await client.close()


# --- panic ----------------------------------------------------------------------------------


def test_panic_locks_down_and_destroys_nothing(tmp_path: Path) -> None:
    _create(tmp_path)
    profile = unlock_profile(tmp_path, "real one")
    watch = safety.LockWatch(tmp_path, profile.signal_key)
    stores = {name: (tmp_path / name).read_bytes() for name in (KEY_FILE, *DB_FILES)}
    done = safety.panic(tmp_path)
    assert done.as_json() == {"locked": True, "wiped": False, "removed": []}
    assert watch.locked()
    profile.forget_keys()
    assert {name: (tmp_path / name).read_bytes() for name in stores} == stores
    assert unlock_profile(tmp_path, "real one").name == "Roya"


def test_panic_wipe_erases_the_keys_and_removes_the_files(tmp_path: Path) -> None:
    home = tmp_path / "p"
    _create(home)
    key_before = (home / KEY_FILE).read_bytes()
    opened = unlock_profile(home, "real one")  # in use by "another process"
    watch = safety.LockWatch(home, opened.signal_key)
    header_copy = tmp_path / "header-copy"
    os.link(home / KEY_FILE, header_copy)  # a second name for the header's inode
    done = safety.panic(home, wipe=True)
    assert done.wiped and set(done.removed) >= {KEY_FILE, LOCK_FILE, *DB_FILES}
    assert not home.exists()
    erased = header_copy.read_bytes()
    assert len(erased) == HEADER_LEN and erased != key_before
    assert erased[:8] != b"PAYKPRF\x00", "the header was overwritten, not only unlinked"
    assert watch.locked()
    opened.forget_keys()
    assert not home.exists(), "the process that held it left nothing behind"
    with pytest.raises(UsageError):
        unlock_profile(home, "real one")
    with pytest.raises(UsageError):
        safety.panic(home, wipe=True)


# --- plaintext only where the person asks ----------------------------------------------------


async def test_received_files_stay_encrypted_until_saved_where_asked(tmp_path: Path) -> None:
    net = MemoryNetwork()
    relays = [net.add_relay(4500)]
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=relays, network=net)
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=relays, network=net)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    leaflet = tmp_path / "leaflet.txt"
    leaflet.write_bytes(b"where and when")
    await bob.send_file("Alice", leaflet)
    assert alice.config.downloads is None
    [got] = await alice.sync()
    assert got.file == "leaflet.txt", "no decrypted copy was written anywhere"
    with pytest.raises(UsageError, match="no received file"):
        safety.save_attachment(alice.profile.db, "ffffffff", tmp_path / "out")
    with pytest.raises(UsageError, match="4 hex digits"):
        safety.save_attachment(alice.profile.db, "zz", tmp_path / "out")
    path = safety.save_attachment(alice.profile.db, got.id[:8], tmp_path / "out")
    assert path.parent == tmp_path / "out" and path.read_bytes() == b"where and when"
    assert alice.history("Bob")[-1].file == str(path)
    await alice.close()
    await bob.close()


def test_the_store_keeps_temporary_tables_in_memory(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "s.db", b"\x06" * 32)
    assert db.one("PRAGMA temp_store")[0] == 2
    assert db.one("PRAGMA secure_delete")[0] == 1
    db.close()


async def test_listen_alone_stops_on_a_lock_so_every_front_end_honours_it(tmp_path: Path) -> None:
    net = MemoryNetwork()
    client = Client.create(
        tmp_path / "a", "pa", name="A", relays=[net.add_relay(4600)], network=net
    )
    await client.invite()
    stream = client.listen()
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    safety.panic(tmp_path / "a")
    with pytest.raises(AuthenticationError, match="locked"):
        await asyncio.wait_for(pending, timeout=10)
    assert client.profile.pickle_key == b""
    await client.close()


async def test_an_open_right_after_a_lock_waits_until_the_lock_was_seen(tmp_path: Path) -> None:
    _create(tmp_path)
    running = unlock_profile(tmp_path, "real one")
    watch = safety.LockWatch(tmp_path, running.signal_key, running.note)
    waiting = asyncio.ensure_future(watch.wait())
    safety.lock(tmp_path)
    reopened = await asyncio.to_thread(unlock_profile, tmp_path, "real one")
    await asyncio.wait_for(waiting, timeout=5)
    assert watch.tripped
    reopened.close()
    running.forget_keys()
