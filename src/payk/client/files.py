"""Files: read and seal an outgoing file; collect, verify and save an incoming one.

Strategy: the sender reads the whole file once (so a file that changes or vanishes while
being sent cannot produce an inconsistent offer), seals the ``FileOffer`` through the ratchet
and each chunk with ``payk.protocol.attachment`` into equal-sized ``FILE_CHUNK`` envelopes.
The receiver stores chunks as they come (in any order, even before the offer), and when the
offer and all chunks are present, opens and verifies them in the same transaction that marks
the message received. The verified content stays in the encrypted store; a copy is written to
the downloads folder, never into the profile folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from payk.client.store.sqlcipher import Database
from payk.errors import DecryptionError, IntegrityError, PaykError, StorageError, UsageError
from payk.protocol import attachment, content, envelope, primitives
from payk.protocol.content import FileChunk, FileOffer

__all__ = [
    "MAX_FILE",
    "OutgoingFile",
    "chunk_received",
    "offer_received",
    "on_file_received",
    "prepare_file",
    "read_file",
    "safe_name",
    "save_copy",
]

MAX_FILE = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingFile:
    """A file ready to send: the offer for the ratchet and the sealed chunk envelopes."""

    offer: FileOffer
    chunks: list[bytes]


def read_file(path: Path) -> bytes:
    """The bytes of a file to send.

    Raises:
        UsageError: it does not exist, vanished, is not a regular file or is too large.
    """
    try:
        if not path.is_file():
            raise UsageError(f"{path} is not a file")
        if path.stat().st_size > MAX_FILE:
            raise UsageError(f"{path} is larger than {MAX_FILE // (1024 * 1024)} MB")
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def prepare_file(data: bytes, name: str, *, message_id: bytes, now: int) -> OutgoingFile:
    """Seal ``data`` into chunk envelopes and describe it in an offer."""
    key, file_id = attachment.new_file_secrets()
    sealed = list(attachment.seal_file(data, key, file_id))
    chunks = [
        envelope.pack(
            envelope.Kind.FILE_CHUNK,
            content.encode_chunk(FileChunk(file_id=file_id, index=i, sealed=s)),
            envelope_id=primitives.random_bytes(envelope.ID_LEN),
        )
        for i, s in enumerate(sealed)
    ]
    offer = FileOffer(
        id=message_id,
        file_id=file_id,
        name=Path(name).name[: content.MAX_NAME] or "file",
        size=len(data),
        sha256=primitives.sha256(data),
        chunks=len(chunks),
        key=key,
        sent_at=now,
    )
    return OutgoingFile(offer=offer, chunks=chunks)


def offer_received(db: Database, contact_id: int, offer: FileOffer, *, now: int) -> int | None:
    """Record an offer (inside the receiving transaction); returns the message row if complete."""
    rowid = db.execute(
        "INSERT OR IGNORE INTO messages (contact_id, msg_id, outgoing, file_name, file_size, "
        "sent_at, stored_at, status) VALUES (?, ?, 0, ?, ?, ?, ?, 'partial')",
        (contact_id, offer.id, offer.name, offer.size, offer.sent_at, now),
    )
    if not rowid or db.one("SELECT 1 FROM files_in WHERE file_id = ?", (offer.file_id,)):
        return None
    db.execute(
        "INSERT INTO files_in (file_id, contact_id, message, size, sha256, chunks, key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (offer.file_id, contact_id, rowid, offer.size, offer.sha256, offer.chunks, offer.key),
    )
    return _try_complete(db, offer.file_id)


def chunk_received(db: Database, body: bytes) -> int | None:
    """Store one chunk (inside the receiving transaction); returns the message row if complete.

    Raises:
        RemoteProtocolError: the chunk body is malformed.
    """
    chunk = content.decode_chunk(body)
    db.execute(
        "INSERT OR IGNORE INTO chunks_in (file_id, idx, sealed) VALUES (?, ?, ?)",
        (chunk.file_id, chunk.index, chunk.sealed),
    )
    return _try_complete(db, chunk.file_id)


def _try_complete(db: Database, file_id: bytes) -> int | None:
    offer = db.one(
        "SELECT message, size, sha256, chunks, key FROM files_in WHERE file_id = ?", (file_id,)
    )
    if offer is None:
        return None
    rows = db.query(
        "SELECT sealed FROM chunks_in WHERE file_id = ? AND idx < ? ORDER BY idx",
        (file_id, offer["chunks"]),
    )
    if len(rows) < offer["chunks"]:
        return None
    message = int(offer["message"])
    try:
        data = attachment.reassemble(
            bytes(offer["key"]),
            file_id,
            [bytes(r[0]) for r in rows],
            size=int(offer["size"]),
            sha256=bytes(offer["sha256"]),
        )
    except (DecryptionError, IntegrityError):
        db.execute("UPDATE messages SET status = 'failed' WHERE rowid_ = ?", (message,))
        data = None
    else:
        db.execute("INSERT INTO file_data (message, data) VALUES (?, ?)", (message, data))
        db.execute("UPDATE messages SET status = 'received' WHERE rowid_ = ?", (message,))
    if data is not None:
        _run_received_hooks(db, message, data)
    db.execute("DELETE FROM chunks_in WHERE file_id = ?", (file_id,))
    db.execute("DELETE FROM files_in WHERE file_id = ?", (file_id,))
    return message if data is not None else None


ReceivedFileHook = Callable[[Database, int, bytes], None]
_received_hooks: list[ReceivedFileHook] = []


def on_file_received(hook: ReceivedFileHook) -> None:
    """Call ``hook(db, message, data)`` for every file that arrives complete and verified.

    It runs inside the receiving transaction; a ``PaykError`` it raises is ignored and the
    file stays an ordinary file. ``payk.evidence`` files evidence items in the vault this way
    (the layers let it import the client, not the other way round).
    """
    if hook not in _received_hooks:
        _received_hooks.append(hook)


def _run_received_hooks(db: Database, message: int, data: bytes) -> None:
    for hook in _received_hooks:
        try:
            hook(db, message, data)
        except PaykError:
            pass


def save_copy(db: Database, message: int, folder: Path) -> Path:
    """Write a received file to ``folder`` (never overwriting) and remember where.

    Raises:
        StorageError: the folder cannot be written (the file stays in the store).
    """
    row = db.one(
        "SELECT m.file_name, d.data FROM messages m JOIN file_data d ON d.message = m.rowid_ "
        "WHERE m.rowid_ = ?",
        (message,),
    )
    if row is None:
        raise StorageError("the received file is not in the store")
    name = safe_name(str(row[0]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = _free_name(folder / name)
        with open(path, "xb") as fh:
            fh.write(bytes(row[1]))
    except OSError as exc:
        raise StorageError(
            f"cannot save {name} to {folder}: {exc.strerror or exc}; it stays in the profile"
        ) from exc
    db.execute("UPDATE messages SET file_path = ? WHERE rowid_ = ?", (str(path), message))
    return path


def safe_name(name: str) -> str:
    """A file name from a peer made harmless: no folders, no control characters, no dot-files."""
    cleaned = "".join(ch for ch in Path(name.replace("\\", "/")).name if ch.isprintable())
    cleaned = cleaned.strip().lstrip(".")
    return cleaned[:200] or "file"


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate
