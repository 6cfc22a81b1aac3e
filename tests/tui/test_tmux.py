"""``payk tui`` in a real terminal: tmux runs it, we type, and read the screen back.

The tmux server is private to the test (its socket is in the test's folder), the window is
80x24, and the passphrase is typed on the unlock screen (``$PAYK_PASSPHRASE`` is not set).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.conftest import Payk, Relay, connect

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
WAIT = 40.0


class Tmux:
    """One private tmux server with one 80x24 session."""

    def __init__(self, socket: Path) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-S", str(socket)]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base, *args], capture_output=True, text=True, check=check, timeout=20
        )

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", "payk", "-x", "80", "-y", "24", command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "payk").stdout

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "payk", "-l", text)

    def key(self, name: str) -> None:
        self.run("send-keys", "-t", "payk", name)

    def alive(self) -> bool:
        return self.run("has-session", "-t", "payk", check=False).returncode == 0

    def wait_for(self, condition: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"payk tui exited while waiting for {what}")
            shown = self.screen()
            if condition(shown):
                return shown
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; the screen shows:\n{self.screen()}")

    def kill(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if TMUX is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required on CI")
        pytest.skip("tmux is not installed")
    server = Tmux(tmp_path / "tmux.sock")
    yield server
    server.kill()


def _command(person: Payk) -> str:
    env = person.env()
    env.pop("PAYK_PASSPHRASE")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.startswith("PAYK_"))
    argv = [sys.executable, "-m", "payk", "--home", str(person.home), "tui"]
    argv += ["--save", str(person.downloads)]
    return f"env -u PAYK_PASSPHRASE {exports} {shlex.join(argv)}; sleep 0.2"


def test_payk_tui_in_tmux(tmux: Tmux, relay: Relay, people: tuple[Payk, Payk]) -> None:
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    tmux.start(_command(alice))
    tmux.wait_for(lambda s: "Profile:" in s and "passphrase" in s, "the unlock screen")
    tmux.type("not it")
    tmux.key("Enter")
    tmux.wait_for(lambda s: "Wrong passphrase" in s, "the refusal")
    tmux.type(alice.passphrase)
    tmux.key("Enter")
    shown = tmux.wait_for(lambda s: "· Bob" in s and "Join" in s, "the main screen")
    assert len(shown.splitlines()) <= 24 and max(map(len, shown.splitlines())) <= 80
    assert "No messages with Bob yet" in shown and "Quit" in shown
    tmux.type("salam from tmux")
    tmux.key("Enter")
    tmux.wait_for(lambda s: "salam from tmux" in s and "✓" in s, "the sent message")
    assert [m["text"] for m in bob.sync()] == ["salam from tmux"]
    tmux.wait_for(lambda s: "✓✓ delivered" in s, "the receipt")
    bob("send", "Alice", "salam Alice")
    tmux.wait_for(lambda s: "salam Alice" in s, "Bob's answer, live")
    tmux.key("C-q")
    deadline = time.monotonic() + WAIT
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tmux.alive(), "payk tui did not quit on Ctrl+Q"
