"""Evidence with real payk commands over a real relay: add, send, receive, export, verify."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import Payk, Relay, connect
from tests.evidence import samples

pytestmark = pytest.mark.e2e


def _flip_member(bundle: Path, member: str, out: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    data = files[member]
    files[member] = data[:10] + bytes([data[10] ^ 1]) + data[11:]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    out.write_bytes(buffer.getvalue())


def test_evidence_reaches_a_documenter_and_verifies_there(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    photo = tmp_path / "azadi.jpg"
    photo.write_bytes(samples.photo())
    added = alice("evidence", "add", str(photo), "--note", "Azadi square, 14:03").data
    assert added["log_index"] == 0 and added["tree_size"] == 1 and len(added["id"]) == 32
    sent = alice("evidence", "send", "Bob", added["id"][:8]).data
    assert sent == {"id": added["id"], "contact": "Bob", "paths": 1}
    got = bob.sync()
    assert [m["from"] for m in got] == ["Alice"]
    [item] = bob("evidence", "list").data["items"]
    assert (item["id"], item["from"], item["note"]) == (added["id"], "Alice", "Azadi square, 14:03")
    assert item["sha256"] == added["sha256"] and item["log_index"] is None
    out = tmp_path / "bob-bundle.zip"
    exported = bob("evidence", "export", "--out", str(out)).data
    assert exported["items"] == 1 and out.exists()
    report = bob("evidence", "verify", str(out)).data
    assert report["ok"] is True and report["problems"] == []
    assert [(i["id"], i["from"], i["log_index"]) for i in report["items"]] == [
        (added["id"], "Alice", 0)
    ]
    # What Bob received is byte for byte what Alice signed.
    with zipfile.ZipFile(out) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/file/azadi.jpg"))
        assert archive.read(name) == samples.photo()
    human = bob("evidence", "verify", str(out), json_mode=False)
    assert "is intact" in human.data and "from Alice" in human.data


def test_verify_names_tampering_and_proves_the_log_only_grows(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, _ = people
    alice.init("Alice", [relay.address])
    for n in range(2):
        path = tmp_path / f"testimony-{n}.txt"
        path.write_text(f"testimony {n}")
        alice("evidence", "add", str(path))
    first = tmp_path / "first.zip"
    alice("evidence", "export", "--out", str(first))
    extra = tmp_path / "photo.jpg"
    extra.write_bytes(samples.photo())
    item = alice("evidence", "add", str(extra)).data["id"]
    second = tmp_path / "second.zip"
    alice("evidence", "export", "--out", str(second))
    both = alice("evidence", "verify", str(second), "--previous", str(first)).data
    assert both["ok"] and both["consistency"]["from_size"] == 2
    assert both["consistency"]["to_size"] == 3
    backwards = alice("evidence", "verify", str(first), "--previous", str(second), check=False)
    assert backwards.code == 4 and "cannot extend" in backwards.stderr
    tampered = tmp_path / "tampered.zip"
    member = f"items/{item}/statement.sig"
    _flip_member(second, member, tampered)
    result = alice("evidence", "verify", str(tampered), check=False)
    assert result.code == 4
    assert result.stderr.startswith(f"payk: the evidence bundle was altered: {member}")
    assert "Traceback" not in result.stderr
    stripped = tmp_path / "public.zip"
    assert alice("evidence", "export", "--out", str(stripped), "--strip-location").data["stripped"]
    public = alice("evidence", "verify", str(stripped)).data
    assert public["ok"] and [i["stripped"] for i in public["items"]] == [False, False, True]
    with zipfile.ZipFile(stripped) as archive:
        assert all(samples.SERIAL.encode() not in archive.read(n) for n in archive.namelist())
