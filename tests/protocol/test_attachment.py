"""Attachments: a file survives the round trip; any change to any chunk is caught."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payk.errors import DecryptionError, IntegrityError, LocalProtocolError
from payk.protocol import attachment

KEY = bytes(range(32))
FILE_ID = b"\x05" * 16


def _sealed(data: bytes, chunk_size: int = 100) -> list[bytes]:
    return list(attachment.seal_file(data, KEY, FILE_ID, chunk_size=chunk_size))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=1000))
def test_any_file_round_trips(data: bytes) -> None:
    sealed = _sealed(data)
    assert len(sealed) == attachment.chunk_count(len(data), 100)
    out = attachment.reassemble(
        KEY, FILE_ID, sealed, size=len(data), sha256=hashlib.sha256(data).digest()
    )
    assert out == data


def test_chunks_are_all_the_same_size() -> None:
    sizes = {len(chunk) for chunk in _sealed(b"x" * 250)}
    assert sizes == {100 + 4 + 16}


def test_a_flipped_bit_is_a_decryption_error() -> None:
    sealed = _sealed(b"y" * 250)
    sealed[1] = sealed[1][:5] + bytes([sealed[1][5] ^ 1]) + sealed[1][6:]
    with pytest.raises(DecryptionError):
        attachment.reassemble(KEY, FILE_ID, sealed, size=250, sha256=b"\0" * 32)


def test_reordered_or_truncated_chunks_are_refused() -> None:
    data = bytes(range(250))
    digest = hashlib.sha256(data).digest()
    sealed = _sealed(data)
    with pytest.raises(DecryptionError):
        attachment.reassemble(
            KEY, FILE_ID, [sealed[1], sealed[0], sealed[2]], size=250, sha256=digest
        )
    with pytest.raises(DecryptionError):
        attachment.reassemble(KEY, FILE_ID, sealed[:2], size=250, sha256=digest)


def test_a_chunk_from_another_file_is_refused() -> None:
    other = list(attachment.seal_file(b"z" * 50, KEY, b"\x06" * 16, chunk_size=100))
    with pytest.raises(DecryptionError):
        attachment.open_chunk(KEY, FILE_ID, 0, 1, other[0])


def test_a_wrong_digest_is_an_integrity_error() -> None:
    with pytest.raises(IntegrityError):
        attachment.reassemble(KEY, FILE_ID, _sealed(b"abc"), size=3, sha256=b"\0" * 32)


def test_an_oversized_piece_is_a_caller_bug() -> None:
    with pytest.raises(LocalProtocolError):
        attachment.seal_chunk(KEY, FILE_ID, 0, 1, b"x" * 101, chunk_size=100)


def test_fresh_secrets_differ() -> None:
    assert attachment.new_file_secrets() != attachment.new_file_secrets()
