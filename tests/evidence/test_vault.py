"""The vault: add signs a statement, appends to the log and signs a head; list shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.errors import DecryptionError, StorageError, UsageError
from payk.evidence import capture, merkle, vault
from payk.evidence.statement import PRIVATE_TYPE, STATEMENT_TYPE
from payk.protocol.primitives import sha256, verify
from tests.evidence import samples


def _add(client: Client, path: Path, note: str = "") -> vault.Record:
    return vault.add(client.profile, capture.capture_file(path, note), now=client.clock())


def test_add_signs_a_statement_over_hash_and_metadata(client: Client, tmp_path: Path) -> None:
    photo = tmp_path / "protest.jpg"
    photo.write_bytes(samples.photo())
    record = _add(client, photo, "Azadi square, 14:03")
    key = client.profile.identity().public.ed25519
    verify(key, record.statement.body, record.statement.signature)
    fields = record.fields
    assert fields["type"] == STATEMENT_TYPE and fields["signer"] == key.hex()
    assert fields["file"]["sha256"] == sha256(samples.photo()).hex()
    assert fields["file"]["media_type"] == "image/jpeg"
    assert fields["file"]["size"] == len(samples.photo())
    assert fields["file"]["modified_at"] == int(photo.stat().st_mtime)
    assert fields["taken_at"] == samples.TAKEN_AT and fields["note"] == "Azadi square, 14:03"
    assert fields["added_at"] == client.clock()
    assert samples.SERIAL not in record.statement.body.decode()  # identifiers stay private
    assert record.private is not None
    private = json.loads(record.private)
    assert private["type"] == PRIVATE_TYPE and private["device"]["serial"] == samples.SERIAL
    assert private["gps"]["latitude"] == pytest.approx(samples.LATITUDE)
    assert fields["private_sha256"] == sha256(record.private).hex()
    with pytest.raises(DecryptionError):
        verify(key, record.statement.body + b" ", record.statement.signature)


def test_the_log_grows_with_a_signed_head_per_size(client: Client, tmp_path: Path) -> None:
    key = client.profile.identity().public.ed25519
    added = []
    for i in range(5):
        path = tmp_path / f"testimony-{i}.txt"
        path.write_text(f"what I saw, part {i}")
        added.append(_add(client, path))
    db = client.profile.db
    leaves = vault.leaves(db)
    assert leaves == [merkle.leaf_hash(r.statement.body) for r in added]
    assert [r.leaf_index for r in added] == list(range(5))
    for size in range(1, 6):
        head = vault.head(db, size)
        assert head is not None
        verify(key, head.body, head.signature)
        fields = json.loads(head.body)
        assert fields["size"] == size and fields["root"] == merkle.root(leaves[:size]).hex()
    assert vault.head(db) == vault.head(db, 5)
    listed = vault.items(db)
    assert [i.name for i in listed] == [f"testimony-{i}.txt" for i in range(5)]
    assert listed[0].media_type == "text/plain" and listed[0].size == len("what I saw, part 0")
    assert listed[0].sender is None and listed[0].as_json()["log_index"] == 0


def test_the_log_and_items_refuse_rewriting(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("a")
    _add(client, path)
    db = client.profile.db
    with pytest.raises(StorageError, match="append-only"):
        db.execute("UPDATE evidence_log SET leaf_hash = ?", (bytes(32),))
    with pytest.raises(StorageError, match="never changed"):
        db.execute("UPDATE evidence_items SET data = ?", (b"forged",))


def test_find_by_prefix(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("a")
    record = _add(client, path)
    assert vault.find(client.profile.db, record.id.hex()[:6]).id == record.id
    for bad in ("ab", "zzzz", "0000000000000000000000000000000000"):
        with pytest.raises(UsageError):
            vault.find(client.profile.db, bad if bad != "zzzz" else "zzzz")


def test_unreadable_files_and_long_notes_are_refused(client: Client, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        capture.capture_file(tmp_path / "missing.jpg")
    with pytest.raises(UsageError):
        capture.capture_file(tmp_path)
    path = tmp_path / "a.txt"
    path.write_text("a")
    with pytest.raises(UsageError, match="note"):
        capture.capture_file(path, "x" * (capture.MAX_NOTE + 1))
    assert vault.items(client.profile.db) == []
    assert vault.head(client.profile.db) is None


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (samples.photo(), "x.bin", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n....", "x", "image/png"),
        (b"\x00\x00\x00\x18ftypmp42", "clip", "video/mp4"),
        (b"hello", "notes.txt", "text/plain"),
        (b"\x00\x01", "unknown", "application/octet-stream"),
    ],
)
def test_media_type(data: bytes, name: str, kind: str) -> None:
    assert capture.media_type(data, name) == kind
