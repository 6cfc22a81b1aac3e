"""The encrypted store: the right passphrase opens it, a wrong one is a clear error, and the
files on disk hold nothing readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from payk.client.config import Config, default_home, load_config
from payk.client.profile import KEY_FILE, create_profile, unlock_profile
from payk.client.store.header import KDF_PROFILES, Header, kdf_params_from_env
from payk.client.store.sqlcipher import Database
from payk.errors import AuthenticationError, IntegrityError, StorageError, UsageError
from payk.protocol.address import RelayAddress

RELAY = RelayAddress(fingerprint=b"\x02" * 32, host="127.0.0.1", port=4433)


def _create(home: Path, passphrase: str = "correct horse") -> None:
    create_profile(home, passphrase, name="Shirin Secretname", relays=[RELAY], now=1).close()


def test_a_profile_unlocks_with_its_passphrase(tmp_path: Path) -> None:
    _create(tmp_path)
    profile = unlock_profile(tmp_path, "correct horse")
    assert profile.name == "Shirin Secretname"
    assert profile.relays() == [RELAY]
    assert profile.identity().public == profile.identity().public
    profile.close()


def test_a_wrong_passphrase_is_an_authentication_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    _create(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(AuthenticationError, match="wrong passphrase"):
        unlock_profile(tmp_path, "wrong horse")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    unlock_profile(tmp_path, "correct horse").close()


def test_nothing_on_disk_is_readable(tmp_path: Path) -> None:
    _create(tmp_path)
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert b"Shirin" not in data and b"Secretname" not in data
        assert b"SQLite format" not in data
        assert str(RELAY).encode() not in data


def test_creating_twice_is_refused(tmp_path: Path) -> None:
    _create(tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        _create(tmp_path)


@pytest.mark.parametrize(
    ("name", "passphrase", "relays"),
    [("", "pw", [RELAY]), ("A", "", [RELAY]), ("A", "pw", []), ("x" * 201, "pw", [RELAY])],
)
def test_unusable_input_is_refused(
    tmp_path: Path, name: str, passphrase: str, relays: list[RelayAddress]
) -> None:
    with pytest.raises(UsageError):
        create_profile(tmp_path, passphrase, name=name, relays=relays, now=1)


def test_unlocking_an_empty_folder_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="payk init"):
        unlock_profile(tmp_path, "pw")


def test_a_damaged_header_is_an_integrity_error(tmp_path: Path) -> None:
    _create(tmp_path)
    (tmp_path / KEY_FILE).write_bytes(b"garbage")
    with pytest.raises(IntegrityError):
        unlock_profile(tmp_path, "correct horse")


def test_header_round_trips_and_refuses_other_magic() -> None:
    header = Header.new(KDF_PROFILES["fast"])
    assert Header.from_bytes(header.to_bytes()) == header
    with pytest.raises(IntegrityError):
        Header.from_bytes(b"X" + header.to_bytes()[1:])


def test_kdf_profile_comes_from_the_environment() -> None:
    assert kdf_params_from_env({}) == KDF_PROFILES["default"]
    assert kdf_params_from_env({"PAYK_KDF_PROFILE": "test"}) == KDF_PROFILES["fast"]
    with pytest.raises(UsageError):
        kdf_params_from_env({"PAYK_KDF_PROFILE": "nope"})


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
        raise RuntimeError("crash between the ratchet step and the commit")
    assert db.one("SELECT * FROM meta WHERE key = 'a'") is None
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
    assert db.one("SELECT value FROM meta WHERE key = 'a'")[0] == "b"
    db.close()


def test_sql_errors_become_storage_errors(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    with pytest.raises(StorageError):
        db.query("SELECT * FROM no_such_table")
    db.close()


def test_config_defaults_and_file(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config(home=tmp_path)
    (tmp_path / "config.toml").write_text(
        "network_timeout = 3\nmailboxes_per_contact = 1\ncarry_max_mb = 1024\ncarry_max_days = 0\n"
    )
    config = load_config(tmp_path)
    assert config.network_timeout == 3.0 and config.mailboxes_per_contact == 1
    assert (config.carry_max_mb, config.carry_max_days, config.carry_max_count) == (1024, 0, 10_000)


@pytest.mark.parametrize(
    "text",
    [
        "nonsense = 1",
        "network_timeout = 'x'",
        "home = '/'",
        "[[[",
        "carry_max_count = -1",
        "carry_max_days = 366",
        "carry_max_mb = true",
        "carry_max_mb = 1.5",
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(UsageError):
        load_config(tmp_path)


def test_home_comes_from_the_environment(tmp_path: Path) -> None:
    assert default_home({"PAYK_HOME": str(tmp_path)}) == tmp_path
    assert default_home({}).name == "payk"


def test_a_commit_that_does_not_wait_is_synced_before_anything_leaves(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    with db.transaction(durable=False):
        db.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
    assert db.one("SELECT value FROM meta WHERE key = 'a'")[0] == "b"
    assert db.one("SELECT 1 FROM meta WHERE key = 'synced'") is None
    db.sync()  # a durable commit: one fsync covers the lazy one before it
    assert db.one("SELECT 1 FROM meta WHERE key = 'synced'") is not None
    db.execute("DELETE FROM meta WHERE key = 'synced'")
    db.sync()  # nothing lazy since: no write at all
    assert db.one("SELECT 1 FROM meta WHERE key = 'synced'") is None
    db.close()


def _level(db: Database) -> int:
    return int(db.one("PRAGMA synchronous")[0])  # 1 NORMAL, 2 FULL


def test_every_commit_after_a_lazy_one_waits_for_the_disk_unless_it_is_lazy(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    with db.transaction(durable=False):
        assert _level(db) == 1
    with db.transaction(durable=False):  # a burst of lazy commits sets the level once
        assert _level(db) == 1
    with db.transaction():
        assert _level(db) == 2
    with db.transaction(durable=False):
        pass
    db.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")  # commits by itself
    assert _level(db) == 2
    for write in (db.changes, db.execute_many):
        with db.transaction(durable=False):
            pass
        write("DELETE FROM meta WHERE key = 'a'", [()] if write is db.execute_many else ())
        assert _level(db) == 2
    db.close()


def test_a_failed_lazy_transaction_leaves_nothing_and_the_next_commit_is_durable(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    with pytest.raises(RuntimeError), db.transaction(durable=False):
        db.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
        raise RuntimeError("crash before the commit")
    assert db.one("SELECT * FROM meta WHERE key = 'a'") is None
    with db.transaction():
        assert _level(db) == 2
    db.close()
