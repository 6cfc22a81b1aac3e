"""Lock and panic: make running payk processes drop their keys; wipe the key material.

Strategy: running processes learn about a lock through ``profile.lock`` in the profile
folder, which needs no key to write, so ``payk lock`` and ``payk panic`` work in a hurry,
without the passphrase, on a profile another process holds. The file always holds 48 bytes:

* every time a profile is opened, the opener writes a *note*: 16 random bytes and a 32-byte
  MAC over them with its profile's signal key (``header.StoreKeys.signal``);
* ``payk lock`` and ``payk panic`` write 48 random bytes.

A running process (``listen``, the TUI) checks the file every ``WATCH_INTERVAL`` seconds.
Unchanged, or a note its own profile's key verifies (a sibling process opened the same
profile): carry on. Anything else (random bytes, a note made with another key, a missing
file): the profile is locked, so the process stops, closes the store (SQLCipher wipes its key)
and drops its keys; it needs the passphrase again. Opening the decoy therefore locks the real
profile's processes as a side effect, and the file looks the same after an open as after a
lock: without the key a note and random bytes cannot be told apart.

``panic`` locks; ``panic(wipe=True)`` then overwrites the header with random bytes and syncs
it (the store secrets can no longer be unwrapped, so both stores are noise for good) and
removes the profile's files. See docs/safety.md for what each mode does and does not do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from payk.client import files
from payk.client.store.header import erase_header
from payk.client.store.layout import KEY_FILE, LOCK_FILE, payk_files
from payk.client.store.sqlcipher import Database
from payk.errors import AuthenticationError, StorageError, UsageError
from payk.protocol import primitives

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = [
    "LOCKED",
    "NOTE_LEN",
    "WATCH_INTERVAL",
    "LockWatch",
    "Panic",
    "lock",
    "next_unless_locked",
    "panic",
    "save_attachment",
    "until_locked",
    "write_note",
]

NOTE_LEN = 48
WATCH_INTERVAL = 0.25
_NONCE = 16
_NOTE_LABEL = b"payk/v1/store/open-note"
T = TypeVar("T")
LOCKED = "the profile was locked; give the passphrase again to open it"


def _mac(key: bytes, nonce: bytes) -> bytes:
    return primitives.hkdf(key, salt=nonce, info=_NOTE_LABEL)


def _put(home: Path, data: bytes) -> None:
    """Replace ``profile.lock`` atomically (a reader never sees half a note)."""
    tmp = home / f".lock-{primitives.random_bytes(8).hex()}"
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, home / LOCK_FILE)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StorageError(f"cannot write {home / LOCK_FILE}: {exc.strerror}") from exc


def _read(home: Path) -> bytes | None:
    try:
        return (home / LOCK_FILE).read_bytes()
    except OSError:
        return None


def write_note(home: Path, signal_key: bytes) -> bytes:
    """Tell running processes that this profile was opened (called on every unlock).

    Returns the note, the baseline for this process's own ``LockWatch``.
    """
    _let_a_lock_be_seen(home, signal_key)
    nonce = primitives.random_bytes(_NONCE)
    note = nonce + _mac(signal_key, nonce)
    _put(home, note)
    return note


def _valid(data: bytes | None, key: bytes) -> bool:
    if data is None or len(data) != NOTE_LEN or not key:
        return False
    return primitives.constant_time_equal(data[_NONCE:], _mac(key, data[:_NONCE]))


def _let_a_lock_be_seen(home: Path, key: bytes) -> None:
    """Wait until running processes have polled a lock written a moment ago.

    Without this, a note written right after ``payk lock`` could replace the lock before a
    running process of the same profile read it. A fresh note of our own profile needs no
    wait; anything else younger than two polls does (at most half a second).
    """
    try:
        age = time.time() - (home / LOCK_FILE).stat().st_mtime
    except OSError:
        return
    if 0 <= age < 2 * WATCH_INTERVAL and not _valid(_read(home), key):
        time.sleep(2 * WATCH_INTERVAL - age)


def lock(home: Path) -> None:
    """Make every running payk process on the profile in ``home`` drop its keys.

    Raises:
        UsageError: ``home`` holds no profile.
        StorageError: the lock file cannot be written.
    """
    if not (home / KEY_FILE).exists():
        raise UsageError(f"no profile in {home}")
    _put(home, primitives.random_bytes(NOTE_LEN))


class LockWatch:
    """Notices a lock of the profile a running process holds."""

    def __init__(self, home: Path, signal_key: bytes, seen: bytes | None = None) -> None:
        """Watch ``home``; ``seen`` is the note this process left when it opened the profile
        (default: whatever the file holds now), so a lock in between is not missed."""
        self.home = home
        self.tripped = False
        self._key = signal_key
        self._seen = _read(home) if seen is None else seen

    def locked(self) -> bool:
        """Whether the profile was locked since the last check (or since the start)."""
        self.tripped = self.tripped or self._check()
        return self.tripped

    def _check(self) -> bool:
        data = _read(self.home)
        if data == self._seen:
            return data is None and not (self.home / KEY_FILE).exists()
        if not _valid(data, self._key):
            return True
        self._seen = data
        return False

    async def wait(self) -> None:
        """Return once the profile is locked."""
        while True:  # a file, not an event: poll it
            if self.locked():
                return
            await asyncio.sleep(WATCH_INTERVAL)


async def next_unless_locked(queue: asyncio.Queue[T], watch: LockWatch) -> T:
    """The next item of ``queue``, unless the profile is locked first.

    Raises:
        AuthenticationError: the profile was locked (``watch.tripped`` is then set).
    """
    getter = asyncio.ensure_future(queue.get())
    locker = asyncio.ensure_future(watch.wait())
    done, pending = await asyncio.wait({getter, locker}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if getter in done:
        return getter.result()
    raise AuthenticationError(LOCKED)


async def until_locked(client: Client, work: Awaitable[T]) -> T:
    """Run ``work`` until it ends or the profile is locked; a lock drops the keys.

    Raises:
        AuthenticationError: the profile was locked (the keys are gone from this process).
    """
    watch = LockWatch(client.profile.home, client.profile.signal_key, client.profile.note)
    main = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(watch.wait())
    done, _ = await asyncio.wait({main, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if main in done:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        return main.result()
    main.cancel()
    await asyncio.gather(main, return_exceptions=True)
    await client.pool.close()
    client.profile.forget_keys()
    raise AuthenticationError(LOCKED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Panic:
    """What ``panic`` did."""

    locked: bool
    wiped: bool
    removed: list[str]

    def as_json(self) -> dict[str, object]:
        """The ``--json`` shape of ``payk panic``."""
        return {"locked": self.locked, "wiped": self.wiped, "removed": self.removed}


def panic(home: Path, *, wipe: bool = False) -> Panic:
    """Lock down the profile in ``home``; with ``wipe``, destroy its key material and files.

    Works without the passphrase and while other processes hold the profile.

    Raises:
        UsageError: ``home`` holds no profile.
        StorageError: the header cannot be overwritten (nothing was removed then).
    """
    lock(home)
    if not wipe:
        return Panic(locked=True, wiped=False, removed=[])
    erase_header(home / KEY_FILE)
    removed = []
    for path in payk_files(home):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    with contextlib.suppress(OSError):
        home.rmdir()  # only if nothing else is in it
    return Panic(locked=True, wiped=True, removed=removed)


def save_attachment(db: Database, message_id: str, folder: Path) -> Path:
    """Write a decrypted copy of a received file to ``folder``, the place the person chose.

    Received files stay only in the encrypted store unless ``--save DIR`` or the
    ``downloads`` setting asks for copies; this is the way to take one out later.

    Raises:
        UsageError: no received file has an id starting with ``message_id``, or several do.
        StorageError: the folder cannot be written.
    """
    prefix = message_id.strip().lower()
    if len(prefix) < 4 or any(ch not in "0123456789abcdef" for ch in prefix):
        raise UsageError("give at least the first 4 hex digits of the message id")
    rows = db.query(
        "SELECT m.rowid_ FROM messages m JOIN file_data d ON d.message = m.rowid_ "
        "WHERE lower(hex(m.msg_id)) LIKE ?",
        (prefix + "%",),
    )
    if len(rows) != 1:
        found = "no received file" if not rows else "several received files"
        raise UsageError(f"{found} with an id starting {prefix}")
    return files.save_copy(db, int(rows[0][0]), folder)
