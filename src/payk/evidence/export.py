"""Exporting the vault to a bundle file, and reading one back for ``verify``.

Strategy: gather the items, the log and its latest signed head from the vault, hand them to
the pure ``bundle.build`` with the profile's identity key as signer, and write the result
atomically (a temporary file renamed into place), so an interrupted export never leaves a
half-written bundle that could be mistaken for a tampered one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from payk.client.profile import Profile
from payk.errors import UsageError
from payk.evidence import c2pa_copy, vault
from payk.evidence.bundle import Built, Export, build

__all__ = ["MAX_BUNDLE", "export_bundle", "read_bundle", "write_bundle"]

MAX_BUNDLE = 4 * 1024 * 1024 * 1024


def export_bundle(
    profile: Profile, *, now: int, ids: Sequence[str] = (), strip: bool = False, c2pa: bool = True
) -> Built:
    """A bundle of the whole vault (or of the items whose ids start with ``ids``).

    With ``c2pa`` (the default) and ``c2pa-python`` installed, JPEG copies are also included
    with a C2PA manifest embedded.

    Raises:
        UsageError: the vault is empty, or an id matches no item or several.
    """
    db = profile.db
    records = [vault.find(db, i) for i in ids] if ids else vault.records(db)
    if not records:
        raise UsageError("the vault is empty; add evidence first: payk evidence add FILE")
    identity = profile.identity()
    export = Export(
        records=records,
        log=vault.leaves(db),
        head=vault.head(db),
        strip=strip,
        created_at=now,
        c2pa=c2pa_copy.embedder(identity, now=now) if c2pa else None,
    )
    return build(export, key=identity.public.ed25519, sign=identity.sign)


def write_bundle(data: bytes, out: Path) -> None:
    """Write a bundle to ``out`` atomically.

    Raises:
        UsageError: the folder cannot be written.
    """
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from exc


def read_bundle(path: Path) -> bytes:
    """The bytes of a bundle file.

    Raises:
        UsageError: it cannot be read or is too large.
    """
    try:
        if path.stat().st_size > MAX_BUNDLE:
            raise UsageError(f"{path} is too large to be an evidence bundle")
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
