"""Safety on a seized device, with real relay processes and real ``payk`` commands:
disappearing messages, lock, panic (lock down and wipe), and the duress passphrase."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from payk.client.profile import DB_FILES, KEY_FILE, LOCK_FILE, unlock_profile
from payk.client.store import layout
from payk.client.store.header import HEADER_LEN, derive_keys, read_header
from tests.e2e.conftest import Payk, Relay, contacts_on

pytestmark = pytest.mark.e2e

WAIT = 30.0
PAGE, RESERVE = 4096, 80  # SQLCipher 4: each page ends with a 16-byte IV and a 64-byte MAC


def _until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir())}


def _decrypted_pages(path: Path, key: bytes) -> bytes:
    """Every page of a store file decrypted with its raw key: live rows and free pages alike."""
    data = path.read_bytes()
    pages = range(0, len(data) - PAGE + 1, PAGE)
    return b"".join(_decrypt(data[i : i + PAGE], key, first=i == 0) for i in pages)


def _decrypt(page: bytes, key: bytes, *, first: bool) -> bytes:
    body = page[16 : PAGE - RESERVE] if first else page[: PAGE - RESERVE]
    iv = page[PAGE - RESERVE : PAGE - RESERVE + 16]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(body) + decryptor.finalize()


def _wal_pages(path: Path, key: bytes) -> bytes:
    """Every frame of a write-ahead log decrypted, old page versions included."""
    data = path.read_bytes() if path.exists() else b""
    out, frame = [], 24 + PAGE
    for start in range(32, len(data) - frame + 1, frame):
        number = int.from_bytes(data[start : start + 4], "big")
        out.append(_decrypt(data[start + 24 : start + frame], key, first=number == 1))
    return b"".join(out)


def _store_plaintext(person: Payk, passphrase: str | None = None) -> bytes:
    """The person's store file and its write-ahead log, decrypted page by page."""
    keys = derive_keys(passphrase or person.passphrase, read_header(person.home / KEY_FILE))
    store = person.home / DB_FILES[keys.slot]
    wal = store.with_name(store.name + "-wal")
    return _decrypted_pages(store, keys.database) + _wal_pages(wal, keys.database)


def _rows(person: Payk) -> bytes:
    """Every row of every table of the person's store, as one blob to search."""
    profile = unlock_profile(person.home, person.passphrase)
    try:
        tables = [
            r[0] for r in profile.db.query("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        parts = [repr(list(map(tuple, profile.db.query(f"SELECT * FROM {t}")))) for t in tables]
    finally:
        profile.close()
    return "\n".join(parts).encode()


def _listening(person: Payk) -> subprocess.Popen[str]:
    """Start ``payk listen`` and return once it has opened the profile."""
    before = (person.home / LOCK_FILE).read_bytes()
    process = person.spawn("listen")
    _until(lambda: (person.home / LOCK_FILE).read_bytes() != before, "listen to open the profile")
    return process


def _exit_of(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("listen kept running after the lock")
    return process.returncode, err


# --- disappearing messages ----------------------------------------------------------------------


def test_a_two_second_message_disappears_from_both_profiles(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = contacts_on(relay, people)
    secret, kept = "the safe house is on Vali-Asr street", "see you tomorrow"
    alice("send", "Bob", secret, "--expire", "2s")
    alice("send", "Bob", kept)
    got = bob.sync()
    assert [m["text"] for m in got] == [secret, kept]
    assert got[0]["expires_at"] is not None and got[1]["expires_at"] is None
    assert secret.encode() in _store_plaintext(bob), "the page scan sees a stored message"

    def gone(person: Payk, alias: str) -> bool:
        return [m["text"] for m in person("history", alias).data["messages"]] == [kept]

    _until(lambda: gone(alice, "Bob") and gone(bob, "Alice"), "the message to disappear")
    for person in (alice, bob):
        rows, pages = _rows(person), _store_plaintext(person)
        assert kept.encode() in rows and kept.encode() in pages, "the scans see what is kept"
        assert secret.encode() not in rows
        assert secret.encode() not in pages, "deleted, and its pages overwritten"
        for path in _files(person.home):
            assert secret.encode() not in path.read_bytes()


def test_a_running_listen_deletes_a_message_when_its_time_is_up(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = contacts_on(relay, people)
    listen = _listening(bob)
    secret, kept = "leave by the back door", "kept while listening"
    alice("send", "Bob", secret, "--expire", "2s")
    alice("send", "Bob", kept)
    assert listen.stdout is not None
    assert [json.loads(listen.stdout.readline())["text"] for _ in range(2)] == [secret, kept]

    def purged() -> bool:
        pages = _store_plaintext(bob)  # read from outside: this opens no payk process
        return kept.encode() in pages and secret.encode() not in pages

    _until(purged, "the running listen to delete the message")
    assert listen.poll() is None, "deleted by the running listen, not by a new process"
    listen.terminate()
    listen.communicate(timeout=WAIT)


def test_a_conversation_timer_is_shown_to_both(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = contacts_on(relay, people)
    assert bob("disappear", "Alice").data["seconds"] == 0
    set_now = alice("disappear", "Bob", "1h").data
    assert (set_now["seconds"], set_now["set_by"]) == (3600, "me")
    bob.sync()
    shown = bob("disappear", "Alice").data
    assert (shown["seconds"], shown["set_by"], shown["set_at"]) == (3600, "them", set_now["set_at"])
    bad = bob("disappear", "Alice", "soon", check=False)
    assert bad.code == 1 and "not a duration" in bad.stderr


# --- lock and panic ----------------------------------------------------------------------------


def test_lock_makes_a_running_listen_drop_its_keys(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = contacts_on(relay, people)
    listen = _listening(alice)
    assert alice("lock", passphrase="").data == {"locked": True}
    code, err = _exit_of(listen)
    assert code == 2 and "locked" in err and "Traceback" not in err
    bob("send", "Alice", "after the lock")
    assert [m["text"] for m in alice.sync()] == ["after the lock"], "the passphrase opens it"


def test_a_sibling_command_does_not_lock_listen(relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = contacts_on(relay, people)
    listen = _listening(alice)
    alice("contacts")  # another process opening the same profile with the passphrase
    bob("send", "Alice", "still listening")
    line = listen.stdout.readline() if listen.stdout else ""
    assert "still listening" in line
    listen.terminate()
    listen.communicate(timeout=WAIT)


def test_panic_locks_down_a_profile_in_use_and_destroys_nothing(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, bob = contacts_on(relay, people)
    bob("send", "Alice", "before the checkpoint")
    alice.sync()
    listen = _listening(alice)
    done = alice("panic", passphrase="").data
    assert done == {"locked": True, "wiped": False, "removed": []}
    code, _ = _exit_of(listen)
    assert code == 2
    assert sorted(p.name for p in alice.home.iterdir()) == sorted([KEY_FILE, LOCK_FILE, *DB_FILES])
    history = alice("history", "Bob").data["messages"]
    assert [m["text"] for m in history] == ["before the checkpoint"]


def test_panic_wipe_leaves_no_key_and_no_plaintext(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # every payk process of the test uses this
    alice, bob = contacts_on(relay, people)
    secrets = ["the list of names is with Kaveh", "Parvaneh-Azadi-7"]
    bob("send", "Alice", secrets[0])
    alice("send", "Bob", secrets[1])
    alice.sync()
    keys = derive_keys(alice.passphrase, read_header(alice.home / KEY_FILE))
    needles = [s.encode() for s in secrets] + [alice.passphrase.encode()]
    for key in (keys.database, keys.pickle, keys.signal, keys.secret):
        needles += [key, key.hex().encode()]
    assert secrets[0].encode() in _store_plaintext(alice), "the scan would see the message"
    listen = _listening(alice)
    done = alice("panic", "--wipe", passphrase="").data
    assert done["wiped"] and set(done["removed"]) >= {KEY_FILE, LOCK_FILE, *DB_FILES}
    code, _ = _exit_of(listen)
    assert code == 2
    assert not alice.home.exists() or _files(alice.home) == []
    for path in _files(alice.home) + _files(temp):
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path}"
    gone = alice("contacts", check=False)
    assert gone.code == 1 and "no profile" in gone.stderr


def test_many_wrong_passphrases_are_refused_and_change_nothing(
    relay: Relay, people: tuple[Payk, Payk]
) -> None:
    alice, _ = people
    alice.init("Alice", [relay.address])
    before = _snapshot(alice.home)
    for n in range(5):
        wrong = alice("contacts", passphrase=f"guess {n}", check=False)
        assert wrong.code == 2 and wrong.stderr.strip() == "payk: wrong passphrase."
    assert _snapshot(alice.home) == before
    assert alice("contacts").data == {"contacts": []}


# --- duress ------------------------------------------------------------------------------------


def _set_duress(person: Payk, duress: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict:  # type: ignore[type-arg]
    monkeypatch.setenv("PAYK_DURESS_PASSPHRASE", duress)
    result = person("duress", "set", *extra, check=False)
    monkeypatch.delenv("PAYK_DURESS_PASSPHRASE")
    return {"code": result.code, "data": result.data, "stderr": result.stderr}


def test_the_duress_passphrase_opens_the_decoy_and_quietly_locks_the_real_one(
    relay: Relay, people: tuple[Payk, Payk], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = contacts_on(relay, people)
    bob("send", "Alice", "the real conversation")
    alice.sync()
    same = _set_duress(alice, alice.passphrase, monkeypatch)
    assert same["code"] == 1 and "differ" in same["stderr"]
    made = _set_duress(alice, "weather is nice", monkeypatch, "--name", "Ali")
    assert made["data"] == {"duress": True, "decoy": "created"}
    listen = _listening(alice)
    decoy = alice("contacts", passphrase="weather is nice").data
    assert decoy == {"contacts": []}
    code, _ = _exit_of(listen)
    assert code == 2, "opening the decoy locked the real profile's listen"
    link = alice("invite", passphrase="weather is nice").data["link"]
    assert link.startswith("payk:")
    assert alice("contacts").data == {"contacts": [{"name": "Bob", "verified": False}]}
    history = alice("history", "Bob").data["messages"]
    assert [m["text"] for m in history] == ["the real conversation"]


def test_the_folder_shows_no_trace_of_the_second_profile(
    relay: Relay, people: tuple[Payk, Payk], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = contacts_on(relay, people)  # Alice will have a decoy, Bob will not
    assert _set_duress(alice, "decoy words", monkeypatch)["code"] == 0
    alice("invite", passphrase="decoy words")  # the decoy is used, too
    for person in (alice, bob):
        person("send", (person is alice and "Bob") or "Alice", "hello")
    names = sorted(p.name for p in alice.home.iterdir())
    assert names == sorted(p.name for p in bob.home.iterdir())
    assert names == sorted([KEY_FILE, LOCK_FILE, *DB_FILES])
    for name in names:
        sizes = [(person.home / name).stat().st_size for person in (alice, bob)]
        assert layout.size_class(sizes[0]) == layout.size_class(sizes[1]), name
    assert (alice.home / KEY_FILE).stat().st_size == (bob.home / KEY_FILE).stat().st_size
    assert (alice.home / KEY_FILE).stat().st_size == HEADER_LEN
    for person in (alice, bob):
        assert len({(person.home / n).stat().st_mtime for n in names}) == 1
        classes = {layout.size_class((person.home / n).stat().st_size) for n in DB_FILES}
        assert len(classes) == 1
