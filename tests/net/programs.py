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
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

__all__ = ["Microsocks", "free_port", "require"]


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
