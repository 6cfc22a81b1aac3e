"""The profile key header: how to turn the passphrase into the store's keys.

Strategy: ``profile.key`` holds only what the key derivation needs and nothing about the
person: a magic, a format version, the Argon2id parameters and a random salt. Argon2id turns
the passphrase into a 32-byte master key; the SQLCipher key and the key that wraps pickled
sessions are derived from it with distinct labels (``payk/v1/store/...``), so neither can be
used for the other's purpose. Parameters come from a named profile: ``default`` (t=3, 64 MiB)
for people, ``fast`` for throwaway demo profiles and tests (``PAYK_KDF_PROFILE=fast``; the
alias ``test`` is accepted).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw

from payk.errors import IntegrityError, StorageError, UsageError
from payk.protocol import primitives

__all__ = [
    "KDF_PROFILES",
    "MAGIC",
    "Header",
    "KdfParams",
    "StoreKeys",
    "derive_keys",
    "kdf_params_from_env",
    "read_header",
    "write_header",
]

MAGIC = b"PAYKPRF\x00"
VERSION = 1
SALT_LEN = 16
_LAYOUT = struct.Struct(">8sBIIB16s")
_DB_LABEL = b"payk/v1/store/sqlcipher"
_PICKLE_LABEL = b"payk/v1/store/pickle"


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The contents of ``profile.key``."""

    params: KdfParams
    salt: bytes

    @classmethod
    def new(cls, params: KdfParams) -> Header:
        """A header with a fresh random salt."""
        return cls(params=params, salt=primitives.random_bytes(SALT_LEN))

    def to_bytes(self) -> bytes:
        """The file form."""
        p = self.params
        return _LAYOUT.pack(MAGIC, VERSION, p.time_cost, p.memory_kib, p.parallelism, self.salt)

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        """Parse the file form.

        Raises:
            IntegrityError: the file is not a payk profile header or was altered.
        """
        if len(data) != _LAYOUT.size:
            raise IntegrityError("the profile key file is damaged (wrong length)")
        magic, version, t, m, p, salt = _LAYOUT.unpack(data)
        if magic != MAGIC or version != VERSION:
            raise IntegrityError("the profile key file is not a payk profile header")
        if not (1 <= t <= 100 and 8 * p <= m <= 16 * 1024 * 1024 and 1 <= p <= 64):
            raise IntegrityError("the profile key file has impossible parameters")
        return cls(params=KdfParams(time_cost=t, memory_kib=m, parallelism=p), salt=salt)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreKeys:
    """The keys a passphrase unlocks."""

    database: bytes
    pickle: bytes


def derive_keys(passphrase: str, header: Header) -> StoreKeys:
    """Run Argon2id over the passphrase and split the result by purpose."""
    p = header.params
    master = hash_secret_raw(
        passphrase.encode("utf-8"),
        header.salt,
        time_cost=p.time_cost,
        memory_cost=p.memory_kib,
        parallelism=p.parallelism,
        hash_len=32,
        type=Type.ID,
    )
    return StoreKeys(
        database=primitives.hkdf(master, salt=header.salt, info=_DB_LABEL),
        pickle=primitives.hkdf(master, salt=header.salt, info=_PICKLE_LABEL),
    )


def write_header(path: Path, header: Header) -> None:
    """Write ``profile.key`` atomically (never leaves half a header).

    Raises:
        StorageError: the file cannot be written.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(header.to_bytes())
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
