"""The encrypted store: the right passphrase opens it, a wrong one is a clear error, and the
files on disk hold nothing readable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _keys(db: Database) -> list[str]:
    return sorted(row[0] for row in db.query("SELECT key FROM meta WHERE key IN ('a', 'b')"))


def _put(db: Database, key: str, **options: bool) -> None:
    with db.transaction(**options):
        db.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))


def test_deferred_blocks_share_one_commit_that_no_other_reader_sees_before_it(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    other = Database.open(tmp_path / "x.db", b"\x09" * 32)  # another process, say
    _put(db, "a", defer=True)
    _put(db, "b", defer=True)
    assert _keys(db) == ["a", "b"] and _keys(other) == []
    db.commit()
    assert _keys(other) == ["a", "b"]
    db.commit()  # nothing open: nothing happens
    db.close()
    other.close()


@pytest.mark.parametrize(
    "end",
    [
        lambda db: _put(db, "b"),  # a durable block joins and commits both
        lambda db: _put(db, "b", durable=False),
        lambda db: db.execute("INSERT INTO meta (key, value) VALUES ('b', 'v')"),
        lambda db: (db.sync(), _put(db, "b", defer=True), db.sync()),
        lambda db: (_put(db, "b", defer=True), db.close()),
    ],
    ids=["durable block", "lazy block", "write outside", "sync", "close"],
)
def test_the_deferred_transaction_ends_with_whatever_comes_next(tmp_path: Path, end: Any) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    _put(db, "a", defer=True)
    end(db)
    other = Database.open(tmp_path / "x.db", b"\x09" * 32)
    assert _keys(other) == ["a", "b"]
    other.close()
    db.close()


@pytest.mark.parametrize("defer", [True, False])
def test_a_failed_block_inside_the_deferred_transaction_undoes_only_itself(
    tmp_path: Path, defer: bool
) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    _put(db, "a", defer=True)
    with pytest.raises(RuntimeError), db.transaction(defer=defer):
        db.execute("INSERT INTO meta (key, value) VALUES ('b', 'v')")
        raise RuntimeError("the seal failed")
    assert _keys(db) == ["a"]
    db.commit()
    other = Database.open(tmp_path / "x.db", b"\x09" * 32)
    assert _keys(other) == ["a"]
    other.close()
    db.close()


def test_a_process_killed_before_the_commit_loses_the_deferred_blocks_and_nothing_else(
    tmp_path: Path,
) -> None:
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from payk.client.store.sqlcipher import Database\n"
        "db = Database.open(Path(sys.argv[1]), b'\\x09' * 32)\n"
        "with db.transaction():\n"
        "    db.execute(\"INSERT INTO meta (key, value) VALUES ('a', 'v')\")\n"
        "with db.transaction(defer=True):\n"
        "    db.execute(\"INSERT INTO meta (key, value) VALUES ('b', 'v')\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "x.db")], check=True)
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    assert _keys(db) == ["a"]
    db.close()


def test_a_staged_write_runs_once_just_before_the_commit_and_never_after_a_rollback(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    written: list[str] = []

    def stage(value: str) -> None:
        def write() -> None:
            written.append(value)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('a', ?)", (value,))

        db.stage("a", value, write)

    for value in ("first", "second"):  # two deferred blocks, one staged state
        with db.transaction(defer=True):
            stage(value)
            assert db.staged("a") == value
    assert written == [] and db.one("SELECT 1 FROM meta WHERE key = 'a'") is None
    db.commit()
    assert written == ["second"] and db.staged("a") is None
    assert db.one("SELECT value FROM meta WHERE key = 'a'")[0] == "second"
    with pytest.raises(RuntimeError), db.transaction():
        stage("rolled back")
        raise RuntimeError("the seal failed")
    db.commit()
    assert written == ["second"] and db.staged("a") is None
    stage("outside a transaction")  # nothing to wait for: written at once
    assert written == ["second", "outside a transaction"]
    db.close()


def test_a_durable_block_that_joins_the_deferred_transaction_is_durable_when_it_ends(
    tmp_path: Path,
) -> None:
    db = Database.open(tmp_path / "x.db", b"\x09" * 32)
    _put(db, "a", defer=True)
    _put(db, "b")  # e.g. received messages, acked to the relay right after
    assert db.one("SELECT 1 FROM meta WHERE key = 'synced'") is not None  # the fsync'd write
    db.close()
