"""A bundle checks out with real sha256sum, openssl and python3, following its own README."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.evidence import layout
from payk.evidence.readme import SCRIPT_END, SCRIPT_START
from tests.evidence.bundles import export, fill, flip, members

pytestmark = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("sha256sum") and shutil.which("python3")),
    reason="needs openssl, sha256sum and python3 on the PATH",
)


def _script(folder: Path) -> str:
    readme = (folder / layout.README).read_text()
    start = readme.index(SCRIPT_START) + len(SCRIPT_START)
    return readme[start : readme.index(SCRIPT_END, start)]


def _run_readme(bundle: bytes, folder: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder.parent / f"{folder.name}.zip").write_bytes(bundle)
    with zipfile.ZipFile(folder.parent / f"{folder.name}.zip") as archive:
        archive.extractall(folder)
    return _rerun(folder)


def _rerun(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", _script(folder)], cwd=folder, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("strip", [False, True])
async def test_the_readme_commands_verify_an_intact_bundle(
    client: Client, tmp_path: Path, strip: bool
) -> None:
    records = fill(client, tmp_path)
    done = _run_readme(export(client, strip=strip), tmp_path / "bundle")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Signature Verified Successfully") == 3 + len(records)
    for n, record in enumerate(records):
        assert f"ok {record.id.hex()} {record.name} is entry {n} of 3" in done.stdout
    assert "ok the log of 3 entries leads to the signed tree head" in done.stdout


@pytest.mark.parametrize(
    "part", ["file", "statement.json", "statement.sig", "proof.json", layout.LOG, layout.HEAD_SIG]
)
async def test_the_readme_commands_catch_tampering(
    client: Client, tmp_path: Path, part: str
) -> None:
    records = fill(client, tmp_path)
    bundle = export(client)
    files = members(bundle)
    folder = layout.item_dir(records[1].id.hex())
    path = (
        part
        if "/" not in part and part in files
        else next(p for p in files if p.startswith(folder + part))
    )
    target = tmp_path / "bundle"
    done = _run_readme(bundle, target)
    assert done.returncode == 0
    (target / path).write_bytes(flip(files[path], len(files[path]) // 2))
    again = _rerun(target)
    assert again.returncode != 0
    assert path in again.stdout + again.stderr  # sha256sum names the altered file


async def test_the_readme_python_catches_a_resigned_lie(client: Client, tmp_path: Path) -> None:
    """With hashes and signatures redone by the key holder, the Merkle check still fails."""
    from tests.evidence.bundles import resign

    fill(client, tmp_path)
    files = members(export(client))
    lines = files[layout.LOG].decode().split()
    files[layout.LOG] = "\n".join([lines[1], lines[0], lines[2], ""]).encode()
    done = _run_readme(resign(files, client.profile.identity()), tmp_path / "bundle")
    assert done.returncode != 0
    assert "log.txt does not lead to the signed root" in done.stderr
