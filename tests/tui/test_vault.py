"""The evidence vault dialog: add, list, export and verify, and a tampered bundle named."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input

from payk.tui.main_screen import MainScreen
from payk.tui.vault import VaultScreen
from tests.tui.conftest import Payk, Relay, running, until
from tests.tui.test_dialogs import _text


async def test_vault_add_export_verify(
    relay: Relay, people: tuple[Payk, Payk], tmp_path: Path
) -> None:
    alice, _ = people
    alice.init("Alice", [relay.address])
    photo = tmp_path / "checkpoint.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 not really a photo " * 100)
    bundle = tmp_path / "evidence.zip"
    async with running(alice) as (app, pilot):
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, VaultScreen)
        assert "The vault is empty" in _text(app, "#vault-items")
        path, note = app.screen.query_one("#path", Input), app.screen.query_one("#note", Input)

        async def do(button: str, value: Path, expect: str) -> str:
            path.value = str(value)
            widget = app.screen.query_one(f"#{button}", Button)
            await until(pilot, lambda: not widget.disabled, f"{button} to be ready")
            widget.press()
            await until(pilot, lambda: expect in _text(app, "#vault-status"), expect)
            return _text(app, "#vault-status")

        await do("add", tmp_path / "missing.jpg", "missing.jpg")
        note.value = "north gate, 17:05"
        assert "✓ Added checkpoint.jpg" in await do("add", photo, "Added")
        items = _text(app, "#vault-items")
        assert "checkpoint.jpg  2.4 kB" in items and "north gate, 17:05" in items
        assert "log of 1" in await do("export", bundle, "Wrote")
        assert bundle.is_file()
        assert "1 item(s) intact" in await do("verify", bundle, "intact")
        data = bytearray(bundle.read_bytes())
        data[len(data) // 3] ^= 1
        tampered = tmp_path / "tampered.zip"
        tampered.write_bytes(bytes(data))
        shown = await do("verify", tampered, "tampered.zip")
        assert shown.startswith("✗ tampered.zip") and "intact" not in shown
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
