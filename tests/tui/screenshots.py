"""Screenshots of the terminal app for the README: ``python -m tests.tui.screenshots``.

Starts a real relay on loopback, makes two profiles that talk (a message each way, a file, a
group), drives Alice's app at 80x24 through its main screens with Pilot and writes textual's
SVG export of each into ``docs/screenshots/``. ``--png`` converts the SVGs to PNG with
``cairosvg`` (it needs the cairo library; run it from any environment that has cairosvg: this
step imports neither textual nor payk) using a monospace font installed on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PNG_FONT = "DejaVu Sans Mono, DejaVu Sans"
PNG_WIDTH = 1280


async def _shoot(out: Path) -> list[Path]:
    from textual.widgets import Input, TextArea

    from payk.tui import PaykApp
    from payk.tui.main_screen import MainScreen
    from tests.e2e.conftest import Payk, RelayFactory, connect
    from tests.tui.conftest import press_button, type_text, until

    tmp = Path(tempfile.mkdtemp(prefix="payk-shots-"))
    relays = RelayFactory(tmp)
    written: list[Path] = []
    try:
        relay = relays.start()
        alice = Payk(tmp / "alice", "alice passphrase", tmp / "alice-downloads")
        bob = Payk(tmp / "bob", "bob passphrase", tmp / "bob-downloads")
        alice.init("Alice", [relay.address])
        bob.init("Bob", [relay.address])
        connect(alice, bob)
        bob("send", "Alice", "Salam! Are you coming to the meeting tomorrow?")
        leaflet = tmp / "leaflet.pdf"
        leaflet.write_bytes(b"%PDF-1.4 meeting points and times " * 400)
        bob("send", "Alice", "--file", str(leaflet))
        app = PaykApp(alice.home, downloads=alice.downloads)
        async with app.run_test(size=(80, 24)) as pilot:

            def save(name: str) -> None:
                path = out / f"{name}.svg"
                path.write_text(app.export_screenshot(title=f"payk tui: {name}"))
                written.append(path)

            save("unlock")
            await type_text(pilot, alice.passphrase)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            await until(pilot, lambda: "leaflet" in _thread(app), "Bob's file")
            await type_text(pilot, "Yes, at five by the north gate. I will bring water.")
            await pilot.press("enter")
            await until(pilot, lambda: "bring water" in _thread(app), "the sent message")
            await pilot.pause(1.5)
            save("conversation")
            app.theme = "textual-light"
            await pilot.pause(0.3)
            save("conversation-light")
            app.theme = "textual-dark"
            for key, name, ready in (
                ("ctrl+s", "safety-code", "#safety-code"),
                ("ctrl+r", "paths", "#relay-states"),
                ("ctrl+f", "vault", "#vault-items"),
                ("ctrl+o", "files", "#received"),
            ):
                await pilot.press(key)
                await until(pilot, lambda sel=ready: bool(app.screen.query(sel)), name)  # type: ignore[misc]
                await pilot.pause(1.0)
                save(name)
                await pilot.press("escape")
            await pilot.press("ctrl+n")
            await pilot.click("#invite")
            await until(pilot, lambda: getattr(app.screen, "link", None) is not None, "the link")
            await pilot.pause(0.3)
            save("invitation")
            await pilot.press("escape")
            await pilot.press("ctrl+n")
            app.screen.query_one("#new-name", Input).value = "Neighbours"
            await press_button(pilot, "group")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "the group")
            await pilot.press("ctrl+b")
            await press_button(pilot, "share")
            await until(pilot, lambda: app.screen.query_one("#link", TextArea).text != "", "link")
            save("group")
            await pilot.press("escape")
        await app.close_client()
    finally:
        relays.stop_all()
    return written


def _thread(app: Any) -> str:
    return "\n".join(str(child.render()) for child in app.screen.query_one("#thread").children)


def to_png(svgs: list[Path]) -> list[Path]:
    """PNG copies of the SVGs (cairosvg), with a local monospace font."""
    import cairosvg  # type: ignore[import-not-found]

    written = []
    for svg in svgs:
        text = svg.read_text().replace("font-family: Fira Code", f"font-family: {PNG_FONT}")
        png = svg.with_suffix(".png")
        cairosvg.svg2png(bytestring=text.encode(), write_to=str(png), output_width=PNG_WIDTH)
        written.append(png)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", action="store_true", help="only convert existing SVGs to PNG")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.png:
        written = to_png(sorted(OUT.glob("*.svg")))
    else:
        os.environ.setdefault("PAYK_KDF_PROFILE", "fast")
        written = asyncio.run(_shoot(OUT))
    for path in written:
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
