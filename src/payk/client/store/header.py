"""The profile key header: how a passphrase finds and unwraps the key of one of two stores.

Strategy: ``profile.key`` holds only what key derivation needs and nothing about the person:
a magic, a format version, the Argon2id parameters, a random salt and always **two key
slots** of equal size. Argon2id turns a passphrase into a 32-byte master key; HKDF turns that
into one key-encryption key per slot (``payk/v1/store/slot-0``, ``-1``). A used slot is a
random 32-byte store secret sealed with ChaCha20-Poly1305 under its slot's key (the header
before the slots and the slot number are the associated data); an unused slot is random bytes
of the same length, which no one can tell from a used one. Opening tries both slots, always
both, with one Argon2id run: the slot that authenticates says which of the two store files
belongs to this passphrase (the real profile, or a decoy, see ``payk.client.duress``); none
is the one opaque ``AuthenticationError``. The store secret is split by HKDF into the
SQLCipher key, the key that wraps pickled sessions and the key that signs "I opened" notes for
running processes (``payk.client.safety``), so none can be used for another's purpose.
Parameters come from a named profile: ``default`` (t=3, 64 MiB) for people, ``fast`` for
throwaway demo profiles and tests (``PAYK_KDF_PROFILE=fast``; the alias ``test`` is accepted).
An existing header is rewritten in place (same inode, same length); ``erase_header`` overwrites
it with random bytes, which turns both stores into noise.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw

from payk.errors import (
    AuthenticationError,
    DecryptionError,
    IntegrityError,
    StorageError,
    UsageError,
)
from payk.protocol import primitives

__all__ = [
    "HEADER_LEN",
    "KDF_PROFILES",
    "MAGIC",
    "SLOTS",
    "Header",
    "KdfParams",
    "StoreKeys",
    "derive_keys",
    "erase_header",
    "kdf_params_from_env",
    "keys_for",
    "master_key",
    "new_secret",
    "open_slot",
    "read_header",
    "seal_slot",
    "write_header",
]

MAGIC = b"PAYKPRF\x00"
VERSION = 2
SALT_LEN = 16
SECRET_LEN = 32
NONCE_LEN = 12
SLOT_LEN = NONCE_LEN + SECRET_LEN + 16
SLOTS = 2
_PREFIX = struct.Struct(">8sBIIB16s")
HEADER_LEN = _PREFIX.size + SLOTS * SLOT_LEN
_SLOT_LABELS = (b"payk/v1/store/slot-0", b"payk/v1/store/slot-1")
_DB_LABEL = b"payk/v1/store/sqlcipher"
_PICKLE_LABEL = b"payk/v1/store/pickle"
_SIGNAL_LABEL = b"payk/v1/store/signal"


@dataclass(frozen=True, slots=True, kw_only=True)
class KdfParams:
    """Argon2id cost: iterations, memory in KiB, lanes."""

    time_cost: int
    memory_kib: int
    parallelism: int


KDF_PROFILES = {
    "default": KdfParams(time_cost=3, memory_kib=64 * 1024, parallelism=4),
    "fast": KdfParams(time_cost=1, memory_kib=64, parallelism=1),
}
KDF_PROFILES["test"] = KDF_PROFILES["fast"]


def kdf_params_from_env(env: dict[str, str] | None = None) -> KdfParams:
    """The parameters named by ``$PAYK_KDF_PROFILE`` (default: ``default``).

    Raises:
        UsageError: the variable names no known profile.
    """
    name = (os.environ if env is None else env).get("PAYK_KDF_PROFILE") or "default"
    try:
        return KDF_PROFILES[name]
    except KeyError:
        raise UsageError(f"PAYK_KDF_PROFILE must be one of {sorted(KDF_PROFILES)}") from None


def _random_slots() -> tuple[bytes, ...]:
    return tuple(primitives.random_bytes(SLOT_LEN) for _ in range(SLOTS))


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The contents of ``profile.key``: KDF parameters, salt and two key slots."""

    params: KdfParams
    salt: bytes
    slots: tuple[bytes, ...] = ()

    @classmethod
    def new(cls, params: KdfParams) -> Header:
        """A header with a fresh random salt and two slots of random bytes (both unused)."""
        return cls(params=params, salt=primitives.random_bytes(SALT_LEN), slots=_random_slots())

    def prefix(self) -> bytes:
        """Everything before the slots (bound into every slot's seal)."""
        p = self.params
        return _PREFIX.pack(MAGIC, VERSION, p.time_cost, p.memory_kib, p.parallelism, self.salt)

    def to_bytes(self) -> bytes:
        """The file form (always ``HEADER_LEN`` bytes)."""
        slots = self.slots or _random_slots()
        return self.prefix() + b"".join(slots)

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        """Parse the file form.

        Raises:
            IntegrityError: the file is not a payk profile header or was altered.
        """
        if len(data) != HEADER_LEN:
            raise IntegrityError("the profile key file is damaged (wrong length)")
        magic, version, t, m, p, salt = _PREFIX.unpack(data[: _PREFIX.size])
        if magic != MAGIC or version != VERSION:
            raise IntegrityError("the profile key file is not a payk profile header")
        if not (1 <= t <= 100 and 8 * p <= m <= 16 * 1024 * 1024 and 1 <= p <= 64):
            raise IntegrityError("the profile key file has impossible parameters")
        rest = data[_PREFIX.size :]
        slots = tuple(rest[i * SLOT_LEN : (i + 1) * SLOT_LEN] for i in range(SLOTS))
        params = KdfParams(time_cost=t, memory_kib=m, parallelism=p)
        return cls(params=params, salt=salt, slots=slots)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreKeys:
    """The keys a passphrase unlocks, and which of the two stores they open."""

    database: bytes
    pickle: bytes
    signal: bytes = b""
    slot: int = 0
    secret: bytes = b""


def new_secret() -> bytes:
    """A fresh random store secret."""
    return primitives.random_bytes(SECRET_LEN)


def master_key(passphrase: str, header: Header) -> bytes:
    """Argon2id of the passphrase with the header's salt and cost (the slow step)."""
    p = header.params
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        header.salt,
        time_cost=p.time_cost,
        memory_cost=p.memory_kib,
        parallelism=p.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _slot_key(master: bytes, header: Header, index: int) -> bytes:
    return primitives.hkdf(master, salt=header.salt, info=_SLOT_LABELS[index])


def _associated(header: Header, index: int) -> bytes:
    return header.prefix() + bytes([index])


def seal_slot(master: bytes, header: Header, index: int, secret: bytes) -> Header:
    """``header`` with slot ``index`` holding ``secret`` sealed under ``master``."""
    nonce = primitives.random_bytes(NONCE_LEN)
    sealed = primitives.aead_seal(
        _slot_key(master, header, index), nonce, secret, _associated(header, index)
    )
    slots = list(header.slots or _random_slots())
    slots[index] = nonce + sealed
    return replace(header, slots=tuple(slots))


def open_slot(master: bytes, header: Header) -> tuple[int, bytes] | None:
    """The slot ``master`` opens and its secret, or None. Both slots are always tried."""
    found: tuple[int, bytes] | None = None
    for index, slot in enumerate(header.slots):
        try:
            secret = primitives.aead_open(
                _slot_key(master, header, index),
                slot[:NONCE_LEN],
                slot[NONCE_LEN:],
                _associated(header, index),
            )
        except DecryptionError:
            continue
        found = found or (index, secret)
    return found


def keys_for(secret: bytes, slot: int) -> StoreKeys:
    """Split a store secret into its purpose keys."""
    return StoreKeys(
        database=primitives.hkdf(secret, salt=b"", info=_DB_LABEL),
        pickle=primitives.hkdf(secret, salt=b"", info=_PICKLE_LABEL),
        signal=primitives.hkdf(secret, salt=b"", info=_SIGNAL_LABEL),
        slot=slot,
        secret=secret,
    )


def derive_keys(passphrase: str, header: Header) -> StoreKeys:
    """Run Argon2id over the passphrase and open the slot it belongs to.

    Raises:
        AuthenticationError: the passphrase opens neither slot.
    """
    opened = open_slot(master_key(passphrase, header), header)
    if opened is None:
        raise AuthenticationError("wrong passphrase")
    return keys_for(opened[1], opened[0])


def write_header(path: Path, header: Header) -> None:
    """Write ``profile.key``: a new file atomically, an existing one in place and synced.

    Rewriting in place keeps the file's identity (inode, creation time), so adding a decoy
    leaves no new file behind; the header fits in one disk sector.

    Raises:
        StorageError: the file cannot be written.
    """
    _write(path, header.to_bytes())


def erase_header(path: Path) -> None:
    """Overwrite ``profile.key`` with random bytes and sync: every store becomes noise.

    Raises:
        StorageError: the file cannot be written.
    """
    _write(path, primitives.random_bytes(HEADER_LEN), create=False)


def _write(path: Path, data: bytes, *, create: bool = True) -> None:
    try:
        if path.exists():
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, data)
                os.ftruncate(fd, len(data))
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        if not create:
            return
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from exc


def read_header(path: Path) -> Header:
    """Read ``profile.key``.

    Raises:
        StorageError: the file cannot be read.
        IntegrityError: it is not a valid header.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    return Header.from_bytes(data)
