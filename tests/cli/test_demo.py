"""``payk demo`` runs from nothing, shows a clean relay, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from payk.cli.demo_cmd import StoredEnvelope, find_in_folder, render_code, render_stored


@pytest.mark.e2e
def test_demo_runs_and_cleans_up(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("PAYK_KDF_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "payk", "--json", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is True and summary["codes_match"] is True
    assert summary["relay_envelopes"] >= 1
    assert list(tmp_path.iterdir()) == []
    assert tempfile.gettempdir() != str(tmp_path)  # the child, not this process, used it


def test_leak_search_finds_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "db").write_bytes(b"..Shirin..")
    assert find_in_folder(tmp_path, ["Shirin", "Dariush"]) == ["Shirin"]


def test_renderers() -> None:
    assert render_code(" ".join(["12345"] * 12)).count("\n") == 1
    from rich.console import Console

    console = Console(record=True, width=120, color_system=None)
    console.print(render_stored([StoredEnvelope(mailbox="ab", size=1024, head="01")], ["Shirin"]))
    text = console.export_text()
    assert "1,024" in text and "found in the relay's files: Shirin" in text
