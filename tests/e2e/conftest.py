"""End-to-end helpers: real relay processes and real ``payk`` commands on loopback.

``relay_factory`` starts ``python -m payk relay serve`` on 127.0.0.1 (port 0, or a given port
to restart a relay where it was) and waits for its address line; every relay is stopped at
teardown. ``Payk`` runs ``python -m payk --home H --json ...`` with the passphrase in the
environment and parses its one JSON object.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
RELAY_ARGV = (sys.executable, "-m", "payk", "--json", "relay", "serve")


@dataclass
class Relay:
    """A running relay process."""

    address: str
    data: Path
    process: subprocess.Popen[str]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None and self.process.pid not in _readers:
            self.process.stdout.close()


@dataclass
class RelayFactory:
    tmp: Path
    started: list[Relay] = field(default_factory=list)

    def start(self, name: str = "relay", *, port: int = 0) -> Relay:
        data = self.tmp / name
        data.mkdir(exist_ok=True)
        process = subprocess.Popen(
            [*RELAY_ARGV, "--listen", f"127.0.0.1:{port}", "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = _first_line(process)
        relay = Relay(address=json.loads(line)["address"], data=data, process=process)
        self.started.append(relay)
        return relay

    def stop_all(self) -> None:
        for relay in self.started:
            relay.stop()


_readers: dict[int, queue.Queue[str]] = {}


def read_line(process: subprocess.Popen[str], timeout: float = STARTUP_TIMEOUT) -> str:
    """The next line a process prints, or a failure if it does not come in time.

    A thread per process moves lines into a queue, so lines already buffered are never
    missed (a select() on the pipe would not see them).
    """
    lines = _readers.get(process.pid)
    if lines is None:
        lines = _readers[process.pid] = queue.Queue()
        threading.Thread(target=_pump, args=(process, lines), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        pytest.fail("the process printed nothing in time")
    if not line:
        pytest.fail(f"the process exited with {process.wait()}")
    return line


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            lines.put(line)
    lines.put("")


def _first_line(process: subprocess.Popen[str]) -> str:
    return read_line(process)


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[RelayFactory]:
    factory = RelayFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def relay(relays: RelayFactory) -> Relay:
    return relays.start()


@dataclass
class Result:
    code: int
    data: Any
    stderr: str


@dataclass
class Payk:
    """One person's ``payk`` command line (their own profile folder and passphrase)."""

    home: Path
    passphrase: str
    downloads: Path

    def env(self, passphrase: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PAYK_PASSPHRASE=passphrase if passphrase is not None else self.passphrase,
            PAYK_KDF_PROFILE="fast",
            PAYK_HOME=str(self.home),
        )
        env.pop("PAYK_DEBUG", None)
        return env

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """Start a long-running command (``listen``) with JSON output."""
        return subprocess.Popen(
            [sys.executable, "-m", "payk", "--home", str(self.home), "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(),
        )

    def __call__(
        self, *args: str, passphrase: str | None = None, check: bool = True, json_mode: bool = True
    ) -> Result:
        env = self.env(passphrase)
        argv = [sys.executable, "-m", "payk", "--home", str(self.home)]
        argv += ["--json"] if json_mode else []
        done = subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        data = json.loads(done.stdout) if json_mode and done.stdout.strip() else done.stdout
        if check and done.returncode != 0:
            pytest.fail(f"payk {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return Result(done.returncode, data, done.stderr)

    def init(self, name: str, relays: Sequence[str]) -> Result:
        flags = [part for r in relays for part in ("--relay", r)]
        return self("init", "--name", name, *flags)

    def sync(self, *extra: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self("sync", "--save", str(self.downloads), *extra).data[
            "messages"
        ]
        return messages


@pytest.fixture
def people(tmp_path: Path) -> tuple[Payk, Payk]:
    return (
        Payk(tmp_path / "alice", "alice passphrase", tmp_path / "alice-downloads"),
        Payk(tmp_path / "bob", "bob passphrase", tmp_path / "bob-downloads"),
    )


def connect(alice: Payk, bob: Payk) -> None:
    """Alice invites Bob; Bob accepts as "Alice"; Alice's sync creates Bob on her side."""
    link = alice("invite").data["link"]
    assert bob("accept", link, "--as", "Alice").data == {"contact": "Alice"}
    alice.sync()
    assert alice("contacts").data == {"contacts": [{"name": "Bob", "verified": False}]}


def contacts_on(relay: Relay, people: tuple[Payk, Payk]) -> tuple[Payk, Payk]:
    """Alice and Bob, each with a profile on ``relay``, made contacts of each other."""
    alice, bob = people
    alice.init("Alice", [relay.address])
    bob.init("Bob", [relay.address])
    connect(alice, bob)
    return alice, bob
