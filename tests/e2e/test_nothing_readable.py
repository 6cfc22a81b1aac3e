"""What a seized relay or a seized laptop shows: no plaintexts, names or safety codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Payk, Relay

pytestmark = pytest.mark.e2e

SECRETS = [
    "Parvaneh-Azadi",
    "Kourosh-Tehrani",
    "meet at the north gate at 17:00",
    "tavakoli-evidence",
]


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_relay_and_profiles_hold_nothing_readable(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, bob = people
    alice.init(SECRETS[0], [relay.address])
    bob.init(SECRETS[1], [relay.address])
    connect_as = alice("invite").data["link"]
    bob("accept", connect_as, "--as", "Parvaneh-Alias")
    alice.sync()
    (tmp_path / "note.txt").write_text(SECRETS[3] * 10)
    bob("send", "Parvaneh-Alias", SECRETS[2])
    bob("send", "Parvaneh-Alias", "--file", str(tmp_path / "note.txt"))
    # Leave the messages on the relay (no sync yet), then deliver and keep the profiles.
    code = bob("verify", "Parvaneh-Alias").data["code"]
    needles = [s.encode() for s in [*SECRETS, "Parvaneh-Alias", code, code.replace(" ", "")]]
    needles += [s.encode("utf-16-le") for s in SECRETS]
    stored = _files(relay.data)
    assert stored, "the relay stored nothing at all"
    _assert_absent(stored, needles)
    got = alice.sync()
    assert {m["text"] for m in got} >= {SECRETS[2]}
    _assert_absent(_files(alice.home) + _files(bob.home) + _files(relay.data), needles)


def test_the_scan_would_see_a_plaintext(tmp_path: Path) -> None:
    """Negative control: the scan finds a secret that is there."""
    (tmp_path / "leak").write_bytes(b"xx" + SECRETS[2].encode() + b"yy")
    with pytest.raises(AssertionError):
        _assert_absent(_files(tmp_path), [SECRETS[2].encode()])


def _assert_absent(files: list[Path], needles: list[bytes]) -> None:
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path}"
