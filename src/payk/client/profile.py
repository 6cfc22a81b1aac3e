"""A profile on disk: create it, unlock it with the passphrase, read its identity and relays.

Strategy: a profile folder holds ``profile.key`` (the KDF header with two key slots, nothing
personal), two SQLCipher store files of which one is this profile's (picked at random at
creation) and the other noise or a decoy, and ``profile.lock`` (see ``payk.client.safety``
and ``payk.client.store.layout``). Creating writes the header first, then the store in one
transaction, then the noise file; a folder without all three is a creation that never
finished and may be overwritten. Unlocking runs Argon2id once and lets the key slots decide
whether the passphrase was right (``AuthenticationError``) before anything is written; then it
leaves a note for running processes and evens out the files' sizes and times. Closing evens
them out again; ``forget_keys`` closes without that (a lock must be quick).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from pathlib import Path

from payk.client import safety
from payk.client.store import layout
from payk.client.store.header import (
    Header,
    KdfParams,
    StoreKeys,
    derive_keys,
    kdf_params_from_env,
    keys_for,
    master_key,
    new_secret,
    read_header,
    seal_slot,
    write_header,
)
from payk.client.store.layout import DB_FILES, KEY_FILE, LOCK_FILE
from payk.client.store.sqlcipher import Database
from payk.errors import PaykError, StorageError, UsageError
from payk.protocol.address import RelayAddress
from payk.protocol.identity import Identity

__all__ = [
    "DB_FILES",
    "KEY_FILE",
    "LOCK_FILE",
    "Profile",
    "check_fields",
    "check_new",
    "create_profile",
    "fill_new_store",
    "profile_exists",
    "unlock_profile",
]

MAX_NAME = 200


class Profile:
    """An unlocked profile: the database and the keys that go with it."""

    def __init__(
        self,
        home: Path,
        db: Database,
        pickle_key: bytes,
        *,
        slot: int = 0,
        signal_key: bytes = b"",
    ) -> None:
        self.home = home
        self.db = db
        self.pickle_key = pickle_key
        self.slot = slot
        self.signal_key = signal_key
        self.note: bytes | None = None  # what this process wrote to profile.lock on opening
        self._open = True

    @classmethod
    def _unlocked(cls, home: Path, keys: StoreKeys) -> Profile:
        db = Database.open(home / DB_FILES[keys.slot], keys.database)
        return cls(home, db, keys.pickle, slot=keys.slot, signal_key=keys.signal)

    @property
    def name(self) -> str:
        """The name this person gives to new contacts."""
        row = self.db.one("SELECT value FROM meta WHERE key = 'name'")
        if row is None:
            raise StorageError("the profile has no name (damaged profile)")
        return str(row[0])

    def relays(self) -> list[RelayAddress]:
        """The relays of this profile, in the order given at creation."""
        rows = self.db.query("SELECT address FROM relays ORDER BY position")
        return [RelayAddress.parse(row[0]) for row in rows]

    def identity(self) -> Identity:
        """The profile's private keys."""
        row = self.db.one("SELECT value FROM meta WHERE key = 'identity'")
        if row is None:
            raise StorageError("the profile has no identity (damaged profile)")
        return Identity.from_bytes(bytes(row[0]), self.pickle_key)

    def save_identity(self, identity: Identity) -> None:
        """Store the identity (call inside the transaction that used it)."""
        self.db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('identity', ?)",
            (identity.to_bytes(self.pickle_key),),
        )

    @property
    def store_path(self) -> Path:
        """This profile's store file."""
        return self.home / DB_FILES[self.slot]

    @property
    def other_path(self) -> Path:
        """The other store file (noise, or another profile: this profile cannot tell)."""
        return self.home / DB_FILES[1 - self.slot]

    def even_out(self) -> None:
        """Bring both store files into one size class and give all files the same times."""
        with contextlib.suppress(PaykError, OSError):
            layout.pad_own(self.db, self.store_path, self.other_path)
            layout.balance_other(self.store_path, self.other_path)
        layout.same_times(self.home)

    def close(self) -> None:
        """Even out the files, then close the database (idempotent)."""
        if not self._open:
            return
        with contextlib.suppress(PaykError, OSError):
            layout.pad_own(self.db, self.store_path, self.other_path)
        self.forget_keys()
        with contextlib.suppress(OSError):
            layout.balance_other(self.store_path, self.other_path)
        layout.same_times(self.home)

    def forget_keys(self) -> None:
        """Close the database at once and drop the keys from this object."""
        self._open = False
        self.db.close()
        self.pickle_key = b""
        self.signal_key = b""


def profile_exists(home: Path) -> bool:
    """Whether ``home`` holds a finished profile."""
    return all((home / name).exists() for name in (KEY_FILE, *DB_FILES))


def fill_new_store(
    db: Database,
    pickle_key: bytes,
    *,
    name: str,
    relays: Sequence[RelayAddress],
    now: int,
) -> None:
    """Write a new profile's name, relays and fresh identity into an empty store."""
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('name', ?)", (name,))
        db.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", (now,))
        db.execute_many(
            "INSERT INTO relays (address, position) VALUES (?, ?)",
            [(str(relay), i) for i, relay in enumerate(dict.fromkeys(relays))],
        )
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('identity', ?)",
            (Identity.generate().to_bytes(pickle_key),),
        )


def create_profile(
    home: Path,
    passphrase: str,
    *,
    name: str,
    relays: Sequence[RelayAddress],
    now: int,
    params: KdfParams | None = None,
) -> Profile:
    """Create a new encrypted profile in ``home``.

    Raises:
        UsageError: a profile exists already, or the name, passphrase or relays are unusable.
        StorageError: the folder cannot be written.
    """
    check_new(home, passphrase, name, relays)
    _clear_unfinished(home)
    header = Header.new(params or kdf_params_from_env())
    slot = secrets.randbelow(2)
    secret = new_secret()
    header = seal_slot(master_key(passphrase, header), header, slot, secret)
    write_header(home / KEY_FILE, header)
    profile = Profile._unlocked(home, keys_for(secret, slot))
    fill_new_store(profile.db, profile.pickle_key, name=name, relays=relays, now=now)
    layout.checkpoint(profile.db)
    try:
        layout.write_noise(profile.other_path, layout.store_size(profile.store_path))
    except OSError as exc:
        profile.forget_keys()
        raise StorageError(f"cannot create the profile in {home}: {exc.strerror}") from exc
    profile.note = safety.write_note(home, profile.signal_key)
    layout.same_times(home)
    return profile


def _clear_unfinished(home: Path) -> None:
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in layout.payk_files(home):
            if path.name != "config.toml":
                path.unlink()
    except OSError as exc:
        raise StorageError(f"cannot create the profile folder {home}: {exc.strerror}") from exc


def check_new(home: Path, passphrase: str, name: str, relays: Sequence[RelayAddress]) -> None:
    """Refuse to create a profile over an existing one or from unusable input.

    Raises:
        UsageError: what is wrong, in one sentence.
    """
    if profile_exists(home):
        raise UsageError(f"a profile already exists in {home}")
    check_fields(passphrase, name, relays)


def check_fields(passphrase: str, name: str, relays: Sequence[RelayAddress]) -> None:
    """Refuse an empty passphrase, an unusable name or no relays.

    Raises:
        UsageError: what is wrong, in one sentence.
    """
    if not passphrase:
        raise UsageError("the passphrase must not be empty")
    if not name.strip() or len(name) > MAX_NAME:
        raise UsageError(f"a name is 1 to {MAX_NAME} characters")
    if not relays:
        raise UsageError("a profile needs at least one relay (--relay payk://...)")


def unlock_profile(home: Path, passphrase: str) -> Profile:
    """Open the profile in ``home`` with ``passphrase``.

    Raises:
        UsageError: there is no profile in ``home``.
        AuthenticationError: the passphrase is wrong.
        IntegrityError: the key file was altered.
    """
    if not profile_exists(home):
        raise UsageError(
            f"no profile in {home}; create one with: payk init --name NAME --relay ..."
        )
    keys = derive_keys(passphrase, read_header(home / KEY_FILE))
    profile = Profile._unlocked(home, keys)
    profile.note = safety.write_note(home, profile.signal_key)
    profile.even_out()
    return profile
