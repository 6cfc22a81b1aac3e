"""Signed evidence statements and signed tree heads: canonical JSON and its checks.

Strategy: a statement is a JSON object written once in canonical form (sorted keys, no
spaces, UTF-8) and signed as exactly those bytes, so anyone can check it with
``openssl pkeyutl -verify -rawin`` and never needs to re-serialise it. Each signed object
names its kind in ``"type"`` (``payk/v1/evidence/...``), so a signature over one kind can never
pass for another. What could reveal a place or a person (GPS, device serial numbers) is not in
the statement but in a separate ``private`` object with a random salt; the statement commits
to it by its SHA-256, so a copy shared without it still proves the statement covers it. For
JPEG files the statement also commits to every segment of the original, metadata segments
with the private salt (a guessed location cannot be confirmed from their hash), so a copy
without those segments is provably the original minus its metadata. Pure: time is an argument.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from payk.errors import IntegrityError
from payk.evidence import jpeg
from payk.protocol.primitives import random_bytes, sha256

__all__ = [
    "HEAD_TYPE",
    "PRIVATE_TYPE",
    "STATEMENT_TYPE",
    "Capture",
    "Signed",
    "canonical",
    "make_head",
    "make_statement",
    "parse_json",
    "segment_hashes",
]

STATEMENT_TYPE = "payk/v1/evidence/statement"
PRIVATE_TYPE = "payk/v1/evidence/private"
HEAD_TYPE = "payk/v1/evidence/tree-head"
SALT_LEN = 32

Signer = Callable[[bytes], bytes]


def canonical(value: dict[str, Any]) -> bytes:
    """The one byte form of a JSON object that payk signs and hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object read back from a bundle or the vault.

    Raises:
        IntegrityError: the bytes are not a JSON object (``what`` names them).
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(f"{what} is damaged: it is not valid JSON") from exc
    if not isinstance(value, dict):
        raise IntegrityError(f"{what} is damaged: it is not a JSON object")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """What is known about a file when it is added: read by ``payk.evidence.capture``."""

    name: str
    data: bytes
    media_type: str
    modified_at: int | None
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Signed:
    """A canonical JSON object and its Ed25519 signature."""

    body: bytes
    signature: bytes


def segment_hashes(data: bytes, salt: bytes) -> list[list[Any]] | None:
    """``[marker, hash, removable]`` per JPEG segment; removable ones hashed with the salt."""
    segments = jpeg.split(data)
    if segments is None:
        return None
    return [
        [s.marker, sha256(salt + s.data if s.removable else s.data).hex(), s.removable]
        for s in segments
    ]


def make_statement(
    capture: Capture, *, item_id: bytes, signer_key: bytes, sign: Signer, now: int
) -> tuple[Signed, bytes]:
    """The signed statement over a captured file, and the private object it commits to."""
    return _make_statement_from_parts(
        capture,
        item_id=item_id,
        signer_key=signer_key,
        sign=sign,
        now=now,
        salt=random_bytes(SALT_LEN),
    )


def _make_statement_from_parts(
    capture: Capture, *, item_id: bytes, signer_key: bytes, sign: Signer, now: int, salt: bytes
) -> tuple[Signed, bytes]:
    exif = jpeg.parse_exif(capture.data)
    private = canonical(
        {
            "type": PRIVATE_TYPE,
            "salt": salt.hex(),
            "gps": exif.gps if exif else None,
            "device": exif.device if exif else {},
        }
    )
    hashes = segment_hashes(capture.data, salt)
    body = canonical(
        {
            "type": STATEMENT_TYPE,
            "id": item_id.hex(),
            "signer": signer_key.hex(),
            "file": {
                "name": capture.name,
                "size": len(capture.data),
                "sha256": sha256(capture.data).hex(),
                "media_type": capture.media_type,
                "modified_at": capture.modified_at,
            },
            "taken_at": exif.taken_at if exif else None,
            "segments": {"format": "jpeg", "hashes": hashes} if hashes is not None else None,
            "private_sha256": sha256(private).hex(),
            "note": capture.note,
            "added_at": now,
        }
    )
    return Signed(body=body, signature=sign(body)), private


def make_head(size: int, tree_root: bytes, *, signer_key: bytes, sign: Signer, now: int) -> Signed:
    """A signed tree head: the log's size and root at time ``now``."""
    body = canonical(
        {
            "type": HEAD_TYPE,
            "signer": signer_key.hex(),
            "size": size,
            "root": tree_root.hex(),
            "timestamp": now,
        }
    )
    return Signed(body=body, signature=sign(body))
