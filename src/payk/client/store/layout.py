"""The files of a profile folder, kept alike whether it holds one profile or two.

Strategy: a folder always holds ``profile.key`` (two key slots, see ``header``), two store
files ``profile.0.db`` and ``profile.1.db`` and ``profile.lock`` (see ``payk.client.safety``).
One store belongs to the real profile, chosen at random at creation; the other is random
noise until a decoy is created in it, and a SQLCipher file (a random salt, then encrypted
pages) cannot be told from noise. What could still tell them apart is size and time, so:

* Sizes are compared by class: a power of two, at least 1 MiB (``size_class``). Whenever a
  profile opens or closes, its store is padded from inside (rows of ``padding``) up to the
  other file's class, and if it is the bigger one, whole pages of random bytes are appended
  to the other file up to its own size. A session never knows whether the other file is
  noise or a profile, and need not: bytes past a SQLite file's last page are ignored by
  SQLite and later overwritten by it, so appending is harmless to a store (tested).
* Times: after each open and close, every file's access and modification times are set to
  the same moment, so no file shows that it alone was used.

Nothing here needs a key except the padding of one's own store.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from payk.client.store.sqlcipher import Database
from payk.protocol import primitives

__all__ = [
    "CLASS_MIN",
    "DB_FILES",
    "KEY_FILE",
    "LOCK_FILE",
    "PAGE",
    "append_noise",
    "balance_other",
    "checkpoint",
    "pad_own",
    "payk_files",
    "same_times",
    "size_class",
    "store_size",
    "write_noise",
    "write_over",
]

KEY_FILE = "profile.key"
DB_FILES = ("profile.0.db", "profile.1.db")
LOCK_FILE = "profile.lock"
PAGE = 4096
CLASS_MIN = 1024 * 1024
_CHUNK = 4 * 1024 * 1024
_SIDE_FILES = ("-wal", "-shm", "-journal")


def size_class(size: int) -> int:
    """The class of a file of ``size`` bytes: the next power of two, at least ``CLASS_MIN``."""
    cls = CLASS_MIN
    while cls < size:
        cls *= 2
    return cls


def store_size(path: Path) -> int:
    """The size of a file, 0 when it is missing."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def payk_files(home: Path) -> list[Path]:
    """Every file payk keeps in a profile folder (those that exist)."""
    names = [KEY_FILE, KEY_FILE + ".tmp", LOCK_FILE, "config.toml"]
    for db in DB_FILES:
        names += [db, *(db + side for side in _SIDE_FILES)]
    found = [home / name for name in names if (home / name).exists()]
    return found + sorted(home.glob(".lock-*"))


def write_noise(path: Path, size: int) -> None:
    """Create ``path`` holding ``size`` random bytes (a multiple of ``PAGE``), synced."""
    with open(path, "xb") as fh:
        _random_into(fh.fileno(), _pages(size))


def append_noise(path: Path, size: int) -> None:
    """Grow an existing file with random pages until it is at least ``size`` bytes.

    Never creates the file (a wiped folder stays empty); missing files are skipped.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    try:
        missing = _pages(size) - os.fstat(fd).st_size
        if missing > 0:
            _random_into(fd, missing - missing % PAGE)
    finally:
        os.close(fd)


def write_over(path: Path, source: Path) -> None:
    """Copy ``source`` into the existing file ``path`` in place (same inode), synced."""
    fd = os.open(path, os.O_WRONLY)
    try:
        with open(source, "rb") as src:
            while chunk := src.read(_CHUNK):
                os.write(fd, chunk)
        os.ftruncate(fd, store_size(source))
        os.fsync(fd)
    finally:
        os.close(fd)


def _pages(size: int) -> int:
    return -(-size // PAGE) * PAGE


def _random_into(fd: int, size: int) -> None:
    while size > 0:
        chunk = min(size, _CHUNK)
        os.write(fd, primitives.random_bytes(chunk))
        size -= chunk
    os.fsync(fd)


def checkpoint(db: Database) -> None:
    """Commit what a send left deferred, then fold the write-ahead log into the store file so
    its size is current."""
    db.commit()
    db.query("PRAGMA wal_checkpoint(TRUNCATE)")


def pad_own(db: Database, own: Path, other: Path) -> None:
    """Pad our store from inside until it is in the other file's size class."""
    checkpoint(db)
    target = size_class(store_size(other))
    for _ in range(64):
        size = store_size(own)
        if size_class(size) >= target:
            return
        need = target // 2 - size + 4 * PAGE
        with db.transaction():
            for start in range(0, need, _CHUNK):
                db.execute(
                    "INSERT INTO padding (data) VALUES (zeroblob(?))", (min(_CHUNK, need - start),)
                )
        checkpoint(db)


def balance_other(own: Path, other: Path) -> None:
    """If our store is in a bigger class than the other file, grow that file to our size."""
    size = store_size(own)
    if size_class(size) > size_class(store_size(other)):
        append_noise(other, size)


def same_times(home: Path) -> None:
    """Give every payk file in ``home`` the same access and modification time."""
    now = time.time()
    for path in payk_files(home):
        with contextlib.suppress(OSError):
            os.utime(path, (now, now))
