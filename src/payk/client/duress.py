"""The duress passphrase: a decoy profile in the second store, indistinguishable on disk.

Strategy: every profile folder already has a second store file (noise) and a second key slot
(random bytes) from the moment it is created (``payk.client.store.layout``, ``header``), so
setting a duress passphrase changes what those hold, not what the folder looks like. From
the unlocked real profile, ``set_duress`` creates a fresh profile (its own identity, the
given name and relays) in a temporary store, pads it into the real store's size class, copies
it over the noise file *in place* (same inode and creation time, so no new file appears), and
seals its secret into the unused slot under the duress passphrase. The decoy records the real
profile's creation time as its own, so it looks as old as the folder. The real profile keeps
the decoy's secret (inside its own encrypted store), so setting the duress passphrase again
re-seals the same decoy under the new passphrase and keeps what the person put in it.

Opening with the duress passphrase is ordinary unlocking: the slot that authenticates picks
the decoy store, and the note it leaves in ``profile.lock`` locks every running process of
the real profile (``payk.client.safety``). Nothing is written to the real store, so the real
passphrase opens it afterwards exactly as before. The decoy cannot know it is one: this is
what makes it indistinguishable, and it means ``duress set`` run inside the decoy would
replace whatever is in the other store. See docs/safety.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from payk.client.profile import KEY_FILE, Profile, check_fields, fill_new_store
from payk.client.store import layout
from payk.client.store.header import (
    keys_for,
    master_key,
    new_secret,
    open_slot,
    read_header,
    seal_slot,
    write_header,
)
from payk.client.store.sqlcipher import Database
from payk.errors import UsageError
from payk.protocol.address import RelayAddress

__all__ = ["DuressResult", "set_duress"]

_SCRATCH = "profile.new.db"


@dataclass(frozen=True, slots=True, kw_only=True)
class DuressResult:
    """What ``set_duress`` did: created a new decoy, or re-sealed the existing one."""

    created: bool

    def as_json(self) -> dict[str, object]:
        """The ``--json`` shape of ``payk duress set``."""
        return {"duress": True, "decoy": "created" if self.created else "kept"}


def set_duress(
    profile: Profile,
    passphrase: str,
    duress_passphrase: str,
    *,
    name: str | None = None,
    relays: Sequence[RelayAddress] | None = None,
    now: int,
) -> DuressResult:
    """Make ``duress_passphrase`` open a decoy profile in the other store.

    ``passphrase`` is the one ``profile`` was opened with. ``name`` and ``relays`` of a new
    decoy default to the real profile's.

    Raises:
        UsageError: the duress passphrase is empty or equal to the real one.
        StorageError: the folder cannot be written (the real profile is untouched then).
    """
    if duress_passphrase == passphrase:
        raise UsageError("the duress passphrase must differ from your passphrase")
    header = read_header(profile.home / KEY_FILE)
    master = master_key(duress_passphrase, header)
    opened = open_slot(master, header)
    if opened is not None and opened[0] == profile.slot:
        raise UsageError("the duress passphrase must differ from your passphrase")
    known = profile.db.one("SELECT value FROM meta WHERE key = 'decoy'")
    secret = bytes(known[0]) if known is not None else new_secret()
    if known is None:
        _make_decoy(profile, duress_passphrase, secret, name, relays, now)
    write_header(profile.home / KEY_FILE, seal_slot(master, header, 1 - profile.slot, secret))
    if known is None:
        with profile.db.transaction():
            profile.db.execute("INSERT INTO meta (key, value) VALUES ('decoy', ?)", (secret,))
    layout.same_times(profile.home)
    return DuressResult(created=known is None)


def _make_decoy(
    profile: Profile,
    duress_passphrase: str,
    secret: bytes,
    name: str | None,
    relays: Sequence[RelayAddress] | None,
    now: int,
) -> None:
    name = profile.name if name is None else name
    relays = list(relays) if relays else profile.relays()
    check_fields(duress_passphrase, name, relays)
    scratch = profile.home / _SCRATCH
    _remove(scratch)
    keys = keys_for(secret, 1 - profile.slot)
    db = Database.open(scratch, keys.database)
    try:
        fill_new_store(db, keys.pickle, name=name, relays=relays, now=_created_at(profile, now))
        layout.pad_own(db, scratch, profile.store_path)
    finally:
        db.close()
    try:
        layout.write_over(profile.other_path, scratch)
    finally:
        _remove(scratch)


def _created_at(profile: Profile, now: int) -> int:
    """The real profile's creation time: a decoy must look as old as the folder's files."""
    row = profile.db.one("SELECT value FROM meta WHERE key = 'created_at'")
    return int(row[0]) if row is not None else now


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            path.with_name(path.name + suffix).unlink()
