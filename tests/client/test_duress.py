"""The duress passphrase: a decoy that opens instead, locks the real profile's processes,
and leaves no trace on disk that a second profile exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from payk.client import safety
from payk.client.duress import set_duress
from payk.client.facade import Client
from payk.client.profile import DB_FILES, KEY_FILE, create_profile, unlock_profile
from payk.client.store import layout
from payk.client.store.header import read_header
from payk.errors import AuthenticationError, UsageError
from payk.net.memory import MemoryNetwork
from payk.protocol.address import RelayAddress

RELAY = RelayAddress(fingerprint=b"\x04" * 32, host="127.0.0.1", port=4433)
DECOY_RELAY = RelayAddress(fingerprint=b"\x05" * 32, host="127.0.0.1", port=4434)


def _real(home: Path) -> None:
    profile = create_profile(home, "real pass", name="Nasrin", relays=[RELAY], now=1)
    with profile.db.transaction():
        profile.db.execute("INSERT INTO meta (key, value) VALUES ('note', 'the real one')")
    profile.close()


def _with_duress(home: Path, **kwargs: object) -> None:
    _real(home)
    profile = unlock_profile(home, "real pass")
    result = set_duress(profile, "real pass", "decoy pass", now=2, **kwargs)  # type: ignore[arg-type]
    assert result.created
    profile.close()


def test_the_duress_passphrase_opens_the_decoy_and_the_real_one_still_opens(
    tmp_path: Path,
) -> None:
    _with_duress(tmp_path, name="Sara", relays=[DECOY_RELAY])
    decoy = unlock_profile(tmp_path, "decoy pass")
    assert (decoy.name, decoy.relays()) == ("Sara", [DECOY_RELAY])
    assert decoy.db.one("SELECT value FROM meta WHERE key = 'note'") is None
    assert decoy.db.one("SELECT value FROM meta WHERE key = 'decoy'") is None
    decoy.close()
    real = unlock_profile(tmp_path, "real pass")
    assert real.name == "Nasrin"
    assert real.db.one("SELECT value FROM meta WHERE key = 'note'")[0] == "the real one"
    assert real.slot != decoy.slot
    real.close()
    with pytest.raises(AuthenticationError):
        unlock_profile(tmp_path, "neither")


def test_a_decoy_takes_the_real_name_and_relays_by_default(tmp_path: Path) -> None:
    _with_duress(tmp_path)
    decoy = unlock_profile(tmp_path, "decoy pass")
    assert (decoy.name, decoy.relays()) == ("Nasrin", [RELAY])
    created = decoy.db.one("SELECT value FROM meta WHERE key = 'created_at'")[0]
    assert created == 1, "as old as the real profile (created at 1), not set_duress's 2"
    assert decoy.identity().public != unlock_profile(tmp_path, "real pass").identity().public
    decoy.close()


def test_a_duress_passphrase_equal_to_the_real_one_is_refused(tmp_path: Path) -> None:
    _real(tmp_path)
    profile = unlock_profile(tmp_path, "real pass")
    before = {name: (tmp_path / name).read_bytes() for name in (KEY_FILE, *DB_FILES)}
    with pytest.raises(UsageError, match="differ"):
        set_duress(profile, "real pass", "real pass", now=2)
    with pytest.raises(UsageError, match="passphrase"):
        set_duress(profile, "real pass", "", now=2)
    profile.close()
    after = {name: (tmp_path / name).read_bytes() for name in (KEY_FILE, *DB_FILES)}
    assert after[KEY_FILE] == before[KEY_FILE]


def test_setting_it_again_keeps_the_decoy_and_retires_the_old_passphrase(tmp_path: Path) -> None:
    _with_duress(tmp_path)
    decoy = unlock_profile(tmp_path, "decoy pass")
    with decoy.db.transaction():
        decoy.db.execute("INSERT INTO meta (key, value) VALUES ('note', 'harmless')")
    decoy.close()
    real = unlock_profile(tmp_path, "real pass")
    assert not set_duress(real, "real pass", "new decoy pass", now=3).created
    real.close()
    with pytest.raises(AuthenticationError):
        unlock_profile(tmp_path, "decoy pass")
    again = unlock_profile(tmp_path, "new decoy pass")
    assert again.db.one("SELECT value FROM meta WHERE key = 'note'")[0] == "harmless"
    again.close()


def test_opening_the_decoy_quietly_locks_the_real_profiles_processes(tmp_path: Path) -> None:
    _with_duress(tmp_path)
    real = unlock_profile(tmp_path, "real pass")
    watch = safety.LockWatch(tmp_path, real.signal_key)
    unlock_profile(tmp_path, "real pass").close()
    assert not watch.locked()
    unlock_profile(tmp_path, "decoy pass").close()
    assert watch.locked()
    real.forget_keys()
    assert unlock_profile(tmp_path, "real pass").name == "Nasrin"


def test_the_folder_shows_no_trace_of_a_second_profile(tmp_path: Path) -> None:
    plain, hiding = tmp_path / "plain", tmp_path / "hiding"
    _real(plain)
    _with_duress(hiding)
    for home, passphrase in ((plain, "real pass"), (hiding, "real pass"), (hiding, "decoy pass")):
        unlock_profile(home, passphrase).close()
    names = {p.name for p in plain.iterdir()}
    assert names == {p.name for p in hiding.iterdir()}
    for name in names:
        a, b = (plain / name).stat().st_size, (hiding / name).stat().st_size
        assert layout.size_class(a) == layout.size_class(b), name
    assert (plain / KEY_FILE).stat().st_size == (hiding / KEY_FILE).stat().st_size
    for home in (plain, hiding):
        header = read_header(home / KEY_FILE)
        assert len(header.slots) == 2 and len(set(map(len, header.slots))) == 1
        sizes = {layout.size_class(layout.store_size(home / name)) for name in DB_FILES}
        assert len(sizes) == 1
        assert len({p.stat().st_mtime for p in home.iterdir()}) == 1


def test_the_decoy_keeps_its_file_identity(tmp_path: Path) -> None:
    _real(tmp_path)
    inodes = {name: (tmp_path / name).stat().st_ino for name in (KEY_FILE, *DB_FILES)}
    profile = unlock_profile(tmp_path, "real pass")
    set_duress(profile, "real pass", "decoy pass", now=2)
    profile.close()
    assert {name: (tmp_path / name).stat().st_ino for name in inodes} == inodes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [KEY_FILE, "profile.lock", *DB_FILES]
    )


async def test_the_decoy_is_a_working_profile(tmp_path: Path) -> None:
    net = MemoryNetwork()
    relay = net.add_relay(4400)
    real = Client.create(tmp_path / "me", "real pass", name="Me", relays=[relay], network=net)
    set_duress(real.profile, "real pass", "decoy pass", now=2)
    await real.close()
    friend = Client.create(tmp_path / "f", "pf", name="Cousin", relays=[relay], network=net)
    decoy = Client.open(tmp_path / "me", "decoy pass", network=net)
    await decoy.accept(await friend.invite(), alias="Cousin")
    await decoy.send_text("Cousin", "the weather is nice")
    assert [m.text for m in await friend.sync()] == ["the weather is nice"]
    await decoy.close()
    await friend.close()
    real = Client.open(tmp_path / "me", "real pass", network=net)
    assert real.contacts() == []
    await real.close()
    decoy = Client.open(tmp_path / "me", "decoy pass", network=net)
    assert [c.alias for c in decoy.contacts()] == ["Cousin"]
    await decoy.close()
