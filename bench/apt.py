"""Debian packages for the peers the harness runs as programs (nginx, Mosquitto).

Strategy: a peer that is a program, not a Python package, comes from Debian. When its binary
is missing and the harness runs as root with apt-get, ``ensure`` installs the package
(non-interactive, output discarded, a time limit; one ``apt-get update`` and a second try when
the first install fails, since a stale package list is the usual cause). The harness only
ever starts the binary itself, with its own config and port: whatever service the package
sets up on the system is neither used, stopped nor reconfigured here.
"""

from __future__ import annotations

import asyncio
import os
import shutil

__all__ = ["ensure", "find_binary"]

INSTALL_TIMEOUT = 600.0
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_binary(name: str) -> str | None:
    """The program's path from PATH or the sbin folders (often not on a user's PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


async def _apt(*args: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        "apt-get",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    try:
        return await asyncio.wait_for(proc.wait(), INSTALL_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1


async def ensure(binary: str, package: str) -> tuple[str | None, str]:
    """The binary's path, installing Debian's ``package`` when it may; else None and why not."""
    found = find_binary(binary)
    if found:
        return found, ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, f"{binary} is not installed (and no root apt-get to install {package})"
    if await _apt("install", "-y", package) != 0:
        await _apt("update")  # a stale package list is the usual cause
        await _apt("install", "-y", package)
    found = find_binary(binary)
    return (found, "") if found else (None, f"apt-get could not install {package}")
