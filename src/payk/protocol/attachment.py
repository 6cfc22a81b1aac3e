"""Files as sealed, equal-sized chunks: split, seal, open and reassemble with verification.

Strategy: every file gets a fresh 32-byte key (sent inside the ratchet in a ``FileOffer``)
and a random 16-byte file id. The chunk key is derived from the file key under the label
``payk/v1/attachment/chunk``; each chunk's nonce is its index, and the file id, the index and
the chunk count are bound as associated data, so chunks cannot be reordered, moved between
files or dropped from the end unnoticed. Every chunk is padded inside the AEAD to
``CHUNK_SIZE`` (a length prefix, the data, zeros), so all chunks of all files look alike.
Reassembly checks the length and the SHA-256 announced in the offer. Pure: no I/O, and the
only randomness is the key and id drawn by ``new_file_secrets``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from payk.errors import DecryptionError, IntegrityError, LocalProtocolError
from payk.protocol import primitives

__all__ = [
    "CHUNK_SIZE",
    "chunk_count",
    "new_file_secrets",
    "open_chunk",
    "reassemble",
    "seal_chunk",
    "seal_file",
]

CHUNK_SIZE = 65_000
_LABEL = b"payk/v1/attachment/chunk"
_LENGTH = struct.Struct(">I")
_AD = struct.Struct(">II")
_KEY_LEN = 32
_ID_LEN = 16


def new_file_secrets() -> tuple[bytes, bytes]:
    """A fresh ``(file_key, file_id)`` for one file."""
    return primitives.random_bytes(_KEY_LEN), primitives.random_bytes(_ID_LEN)


def chunk_count(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """How many chunks a file of ``size`` bytes needs (an empty file still has one)."""
    return max(1, -(-size // chunk_size))


def _chunk_key(file_key: bytes, file_id: bytes) -> bytes:
    if len(file_key) != _KEY_LEN or len(file_id) != _ID_LEN:
        raise LocalProtocolError("a file key is 32 bytes and a file id 16 bytes")
    return primitives.hkdf(file_key, salt=file_id, info=_LABEL)


def _nonce(index: int) -> bytes:
    return bytes(4) + index.to_bytes(8, "big")


def _associated(file_id: bytes, index: int, count: int) -> bytes:
    return _LABEL + file_id + _AD.pack(index, count)


def seal_chunk(
    file_key: bytes,
    file_id: bytes,
    index: int,
    count: int,
    piece: bytes,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> bytes:
    """Seal chunk ``index`` of ``count``; ``piece`` is at most ``chunk_size`` bytes.

    Raises:
        LocalProtocolError: the piece is too large or the index out of range (a caller bug).
    """
    if len(piece) > chunk_size or not 0 <= index < count:
        raise LocalProtocolError("a chunk is too large or its index is out of range")
    padded = _LENGTH.pack(len(piece)) + piece + bytes(chunk_size - len(piece))
    key = _chunk_key(file_key, file_id)
    return primitives.aead_seal(key, _nonce(index), padded, _associated(file_id, index, count))


def open_chunk(file_key: bytes, file_id: bytes, index: int, count: int, sealed: bytes) -> bytes:
    """Open one chunk and strip its padding.

    Raises:
        DecryptionError: the chunk was altered, belongs elsewhere, or its padding is wrong.
    """
    key = _chunk_key(file_key, file_id)
    padded = primitives.aead_open(key, _nonce(index), sealed, _associated(file_id, index, count))
    if len(padded) < _LENGTH.size:
        raise DecryptionError()
    (length,) = _LENGTH.unpack_from(padded)
    end = _LENGTH.size + length
    if end > len(padded) or any(padded[end:]):
        raise DecryptionError()
    return padded[_LENGTH.size : end]


def seal_file(
    data: bytes, file_key: bytes, file_id: bytes, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Seal a whole file, chunk by chunk, in order."""
    count = chunk_count(len(data), chunk_size)
    for index in range(count):
        piece = data[index * chunk_size : (index + 1) * chunk_size]
        yield seal_chunk(file_key, file_id, index, count, piece, chunk_size=chunk_size)


def reassemble(
    file_key: bytes, file_id: bytes, sealed: Sequence[bytes], *, size: int, sha256: bytes
) -> bytes:
    """Open every chunk in order and check the result against the offer.

    Raises:
        DecryptionError: a chunk does not open.
        IntegrityError: the pieces open but do not make the announced file.
    """
    count = len(sealed)
    data = b"".join(
        open_chunk(file_key, file_id, index, count, chunk) for index, chunk in enumerate(sealed)
    )
    if len(data) != size or not primitives.constant_time_equal(primitives.sha256(data), sha256):
        raise IntegrityError("the received file does not match what the sender announced")
    return data
