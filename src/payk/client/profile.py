"""A profile on disk: create it, unlock it with the passphrase, read its identity and relays.

Strategy: a profile folder holds ``profile.key`` (the KDF header, nothing personal) and
``profile.db`` (SQLCipher). Creating writes the header first, then the database in one
transaction; a header without a database is a creation that never finished and may be
overwritten. Unlocking derives the keys and lets SQLCipher's first read decide whether the
passphrase was right (``AuthenticationError``), before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from payk.client.store.header import (
    Header,
    KdfParams,
    derive_keys,
    kdf_params_from_env,
    read_header,
    write_header,
)
from payk.client.store.sqlcipher import Database
from payk.errors import StorageError, UsageError
from payk.protocol.address import RelayAddress
from payk.protocol.identity import Identity

__all__ = ["DB_FILE", "KEY_FILE", "Profile", "create_profile", "profile_exists", "unlock_profile"]

DB_FILE = "profile.db"
KEY_FILE = "profile.key"
MAX_NAME = 200


class Profile:
    """An unlocked profile: the database and the key that wraps pickled keys."""

    def __init__(self, home: Path, db: Database, pickle_key: bytes) -> None:
        self.home = home
        self.db = db
        self.pickle_key = pickle_key

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

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def profile_exists(home: Path) -> bool:
    """Whether ``home`` holds a finished profile."""
    return (home / DB_FILE).exists() and (home / KEY_FILE).exists()


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
    _check_new(home, passphrase, name, relays)
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / DB_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the profile folder {home}: {exc.strerror}") from exc
    header = Header.new(params or kdf_params_from_env())
    write_header(home / KEY_FILE, header)
    keys = derive_keys(passphrase, header)
    profile = Profile(home, Database.open(home / DB_FILE, keys.database), keys.pickle)
    with profile.db.transaction() as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('name', ?)", (name,))
        db.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", (now,))
        db.execute_many(
            "INSERT INTO relays (address, position) VALUES (?, ?)",
            [(str(relay), i) for i, relay in enumerate(dict.fromkeys(relays))],
        )
        profile.save_identity(Identity.generate())
    return profile


def _check_new(home: Path, passphrase: str, name: str, relays: Sequence[RelayAddress]) -> None:
    if profile_exists(home):
        raise UsageError(f"a profile already exists in {home}")
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
    header = read_header(home / KEY_FILE)
    keys = derive_keys(passphrase, header)
    return Profile(home, Database.open(home / DB_FILE, keys.database), keys.pickle)
