"""Path status: which relays answer now, over which routes, what waits, recent warnings.

Strategy: ``relay_states`` asks the client's relay pool for a connection to every relay of the
profile, all at once (one dead relay costs only its timeout and never delays the others). A
relay is up while the pool holds a connection with at least one open route (direct, SOCKS5,
obfs4 bridge or a forwarding relay); a connection found dead is dropped and opened again, so a
relay that came back shows as up. The routes' last outcomes come from
``payk.client.paths.path_report``. The dialog runs the probe in a ``@work`` coroutine when it
opens and on request; the main screen runs it every few seconds for its one-line summary.
When no relay can be reached, the same dialog writes our waiting envelopes to a bundle file
for a device that can, or takes one in (``payk.client.bundles``), with a progress bar
running while it works.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static

from payk.client import bundles
from payk.client.config import Config
from payk.client.facade import Client
from payk.client.paths import PathOutcome, path_report
from payk.errors import PaykError
from payk.tui.render import human_size, printable

__all__ = [
    "PathsScreen",
    "RelayState",
    "relay_states",
    "render_arrival",
    "render_routes",
    "render_states",
    "short_relay",
    "summary",
    "transport_line",
]

WARNINGS_SHOWN = 3
LAN_HINT = "Files carried by hand: type a bundle's path below. Nearby devices: payk lan sync."


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayState:
    """One relay of the profile and whether it answers."""

    relay: str
    up: bool
    error: str | None = None


async def relay_states(client: Client) -> list[RelayState]:
    """Probe every relay of the profile concurrently."""
    return list(await asyncio.gather(*(_probe(client, relay) for relay in client.relays)))


async def _probe(client: Client, relay: str) -> RelayState:
    link = await client.pool.link(relay)
    if link is not None and not _alive(link):
        await client.pool.drop(relay)  # dead: the next call connects again
        link = await client.pool.link(relay)
    if link is not None and _alive(link):
        return RelayState(relay=relay, up=True)
    error = client.pool.errors.get(relay)
    return RelayState(relay=relay, up=False, error=str(error) if error else "not connected")


def _alive(link: object) -> bool:
    """An open connection, or a bundle of routes (``MultiLink``) with one open route."""
    routes = getattr(link, "paths", None)
    if routes is not None:
        return any(route.link is not None and _alive(route.link) for route in routes)
    return not getattr(link, "closed", False)


def short_relay(address: str) -> str:
    """``payk://AbCdEfGh…@host:port``: enough of the fingerprint to tell relays apart."""
    head, sep, rest = address.partition("@")
    if not sep or not head.startswith("payk://"):
        return address
    return f"{head[:15]}…@{rest}"


def summary(states: list[RelayState], pending: int) -> str:
    """The line under the conversation list: relays up, and what waits to go out."""
    up = sum(state.up for state in states)
    line = f"● {up}/{len(states)} relays up"
    return line + (f" · {pending} waiting" if pending else "")


def transport_line(config: Config) -> str:
    """How this profile reaches relays (``config.toml`` or the command line)."""
    parts = ["through SOCKS5 " + config.proxy if config.proxy else "direct"]
    if config.bridge:
        parts.append("over an obfs4 bridge")
    if config.via:
        parts.append("also forwarded via " + short_relay(config.via))
    return "Routes: " + ", ".join(parts) + "."


def render_routes(outcomes: list[PathOutcome]) -> Text:
    """The last outcome of every route tried in this session."""
    out = Text()
    for outcome in outcomes:
        out.append("✓ " if outcome.ok else "✗ ", style="bold")
        out.append(f"{outcome.path} → {short_relay(outcome.relay)}")
        if outcome.error:
            out.append(f"  {printable(outcome.error)}", style="dim")
        out.append("\n")
    out.rstrip()
    return out


def render_arrival(arrival: bundles.Arrival, name: str) -> str:
    """What taking in a bundle did."""
    return (
        f"✓ {name}: {len(arrival.messages)} new message(s), {arrival.delivered} envelope(s) "
        f"for us, {arrival.carried} carried on for others, {arrival.known} already known."
    )


def render_states(states: list[RelayState]) -> Text:
    """One line per relay: a mark, its short address, and why it is down."""
    out = Text()
    for state in states:
        out.append("✓ " if state.up else "✗ ", style="bold")
        out.append(short_relay(state.relay))
        out.append("  up" if state.up else f"  down: {printable(state.error or '')}", style="dim")
        out.append("\n")
    out.rstrip()
    return out


class PathsScreen(ModalScreen[None]):
    """Which relays are up now, the outbox, and recent warnings."""

    DEFAULT_CLASSES = "dialog"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+r", "check", "Check again"),
    ]

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("Paths", classes="heading")
            yield Static("Checking every relay…", id="relay-states", classes="relay")
            yield Label(transport_line(self.client.config), id="transport", classes="hint")
            yield Static("", id="routes", classes="hint")
            yield Label("", id="outbox", classes="hint")
            yield Static("", id="warnings", classes="hint")
            yield Label(LAN_HINT, classes="hint")
            yield Input(placeholder="bundle file, e.g. /media/usb/payk.bundle", id="bundle-path")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="bundle-busy")
            with Horizontal(classes="buttons"):
                yield Button("Export", id="export")
                yield Button("Import", id="import")
                yield Button("Check again", id="check")
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#bundle-busy").display = False
        self.action_check()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "check":
            self.action_check()
        elif event.button.id in ("export", "import"):
            raw = self.query_one("#bundle-path", Input).value.strip()
            if raw:
                self.bundle(event.button.id, Path(raw).expanduser())
            else:
                self.query_one("#warnings", Static).update("Type the bundle file's path first.")
        else:
            self.action_close()

    @work(exclusive=True, group="bundle", exit_on_error=False)
    async def bundle(self, direction: str, path: Path) -> None:
        """Write our waiting envelopes to a bundle, or take one in."""
        busy, note = self.query_one("#bundle-busy"), self.query_one("#warnings", Static)
        busy.display = True
        try:
            if direction == "export":
                count, size = await bundles.export_bundle(self.client, path)
                said = f"✓ Wrote {count} envelope(s), {human_size(size)}, to {path.name}."
            else:
                arrival = await bundles.import_bundle(self.client, path)
                said = render_arrival(arrival, path.name)
        except PaykError as exc:
            said = f"✗ {path.name}: {exc}"
        finally:
            busy.display = False
        note.update(Text(printable(said)))

    def action_check(self) -> None:
        """Probe the relays again."""
        self.query_one("#relay-states", Static).update("Checking every relay…")
        self.check()

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)

    @work(exclusive=True, group="paths", exit_on_error=False)
    async def check(self) -> None:
        """Probe every relay and show the outcome."""
        self.client.pool.forget_errors()
        states = await relay_states(self.client)
        self.query_one("#relay-states", Static).update(render_states(states))
        self.query_one("#routes", Static).update(render_routes(path_report(self.client)))
        pending = self.client.pending()
        self.query_one("#outbox", Label).update(
            f"Outbox: {pending} envelope cop{'y' if pending == 1 else 'ies'} waiting for a relay."
        )
        warnings = [printable(w) for w in self.client.warnings[-WARNINGS_SHOWN:]]
        self.query_one("#warnings", Static).update(Text("\n".join(warnings)))
