"""Reading a file to be added to the vault: its bytes, times and type.

Strategy: the file is read once (a file that changes while it is added cannot produce a
statement about bytes that were never stored), with the same size limit and errors as files
sent to contacts. The type comes from the file's first bytes, then from its name; the name is
made harmless (no folders, no control characters) because it travels in bundles.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from payk.client.files import read_file, safe_name
from payk.errors import UsageError
from payk.evidence.statement import Capture

__all__ = ["MAX_NOTE", "capture_file", "media_type"]

MAX_NOTE = 10_000

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF8", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (4, b"ftypqt", "video/quicktime"),
    (4, b"ftyp", "video/mp4"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (8, b"WEBP", "image/webp"),
    (8, b"WAVE", "audio/wav"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"PK\x03\x04", "application/zip"),
)


def media_type(data: bytes, name: str) -> str:
    """The media type of a file, from its first bytes, else its name."""
    for offset, magic, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return kind
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def capture_file(path: Path, note: str = "") -> Capture:
    """Everything the statement records about ``path``, read once.

    Raises:
        UsageError: the file cannot be read or is too large, or the note is too long.
    """
    if len(note) > MAX_NOTE:
        raise UsageError(f"the note is too long (at most {MAX_NOTE} characters)")
    data = read_file(path)
    try:
        modified: int | None = int(path.stat().st_mtime)
    except OSError:
        modified = None
    name = safe_name(path.name)
    return Capture(
        name=name, data=data, media_type=media_type(data, name), modified_at=modified, note=note
    )
