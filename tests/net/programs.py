"""Real helper programs for path tests: ``microsocks`` (SOCKS5) and ``obfs4proxy`` (bridges).

Each is looked up on PATH; without it the test skips with the reason, except when ``CI`` is
set, where a missing program fails the test (CI installs both with apt-get).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from payk.net.obfs4 import ManagedServer

__all__ = ["Microsocks", "free_port", "microsocks_process", "obfs4_bridge", "require"]


def require(program: str) -> str:
    """The program's path, or skip (fail in CI) when it is not installed."""
    path = shutil.which(program)
    if path is None:
        reason = f"{program} is not installed (Debian: apt-get install {program})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Microsocks:
    """A running ``microsocks`` on loopback."""

    port: int
    process: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls) -> AsyncIterator[Microsocks]:
        program = require("microsocks")
        for _ in range(5):
            port = free_port()
            process = await asyncio.create_subprocess_exec(
                program,
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if await _listening(port, process):
                break
        else:
            pytest.fail("microsocks did not start")
        try:
            yield cls(port, process)
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()


async def _listening(port: int, process: asyncio.subprocess.Process) -> bool:
    for _ in range(200):
        if process.returncode is not None:
            return False
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return True
        await asyncio.sleep(0.025)
    process.kill()
    await process.wait()
    return False


@contextlib.contextmanager
def microsocks_process() -> Iterator[str]:
    """``microsocks`` on a free loopback port for synchronous tests; yields its URL."""
    program = require("microsocks")
    port = free_port()
    process = subprocess.Popen(
        [program, "-i", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        yield f"socks5://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.025)
    pytest.fail("microsocks did not start listening")


@contextlib.contextmanager
def obfs4_bridge(relay_port: int) -> Iterator[str]:
    """``obfs4proxy`` in server mode in front of a relay port; yields the bridge line.

    The transport is managed from an event loop in a thread of its own, so synchronous
    end-to-end tests can use it.
    """
    require("obfs4proxy")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    start = ManagedServer.start(relay_host="127.0.0.1", relay_port=relay_port)
    server = asyncio.run_coroutine_threadsafe(start, loop).result(60)
    try:
        yield str(server.bridge)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
