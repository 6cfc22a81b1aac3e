"""obfs4 bridges: Debian's ``obfs4proxy`` run as a managed pluggable transport.

Strategy: we speak the pluggable-transport spec (version 1) to the real program and never
reimplement obfs4. The parent sets the ``TOR_PT_*`` environment variables, keeps the child's
stdin open (``TOR_PT_EXIT_ON_STDIN_CLOSE=1`` ends it if we die) and reads its stdout until
``CMETHODS DONE`` (client) or ``SMETHODS DONE`` (server); any ``*-ERROR`` line, an early exit
or silence past the timeout is a ``NetworkError`` with the program's own words.

Client side: ``ManagedClient`` yields a local SOCKS5 port; a connection to the bridge asks that
port for the bridge's HOST:PORT and carries the bridge's arguments (``cert=...;iat-mode=N``)
as the SOCKS5 username, with a single NUL byte as the password, as the spec says. What
travels over the wire between client and bridge is obfs4; inside it runs the usual TLS with
the relay's pinned key, so a bridge cannot read or impersonate the relay.

Server side (operators and tests): ``ManagedServer`` runs ``obfs4proxy`` in front of a relay's
TLS port and reports the bridge line clients need.

A bridge line is ``obfs4 HOST:PORT [FINGERPRINT] cert=... iat-mode=N`` (the Tor form; a
FINGERPRINT token is accepted and ignored, the relay address pins the key).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from payk.errors import NetworkError, UsageError
from payk.net.socks import SocksRoute

__all__ = ["PROGRAM", "Bridge", "ManagedClient", "ManagedServer", "find_program"]

PROGRAM = "obfs4proxy"
TRANSPORT = "obfs4"
START_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Bridge:
    """A parsed bridge line."""

    host: str
    port: int
    args: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, line: str) -> Bridge:
        """Parse ``obfs4 HOST:PORT [FINGERPRINT] KEY=VALUE ...``.

        Raises:
            UsageError: not an obfs4 bridge line, or it has no ``cert=``.
        """
        words = line.split()
        if len(words) < 2 or words[0] != TRANSPORT:
            raise UsageError(f"a bridge line starts with 'obfs4 HOST:PORT', got {line!r}")
        host, sep, port = words[1].rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"the bridge needs HOST:PORT, got {words[1]!r}")
        args = tuple(tuple(w.split("=", 1)) for w in words[2:] if "=" in w)
        if not any(key == "cert" for key, _ in args):
            raise UsageError("the bridge line has no cert=... (copy the whole line)")
        return cls(host=host.strip("[]"), port=int(port), args=args)  # type: ignore[arg-type]

    def socks_credentials(self) -> tuple[str, str]:
        """The SOCKS5 username and password that carry the arguments (PT spec 3.5)."""
        joined = ";".join(f"{_escape(k)}={_escape(v)}" for k, v in self.args)
        data = joined.encode()
        if len(data) <= 255:
            return joined, "\x00"
        return data[:255].decode("latin-1"), data[255:510].decode("latin-1")

    def __str__(self) -> str:
        return " ".join(
            [TRANSPORT, f"{self.host}:{self.port}", *(f"{k}={v}" for k, v in self.args)]
        )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace("=", "\\=")


def find_program(program: str = PROGRAM) -> str:
    """The path of ``obfs4proxy``.

    Raises:
        NetworkError: it is not installed (``apt install obfs4proxy``).
    """
    path = shutil.which(program)
    if path is None:
        raise NetworkError(f"{program} is not installed (on Debian: apt install obfs4proxy)")
    return path


class _Managed:
    """A running transport process and the temporary state folder it owns."""

    def __init__(
        self, process: asyncio.subprocess.Process, state: tempfile.TemporaryDirectory[str]
    ):
        self._process = process
        self._state = state

    @staticmethod
    async def _spawn(
        env: dict[str, str], program: str
    ) -> tuple[asyncio.subprocess.Process, tempfile.TemporaryDirectory[str]]:
        state = tempfile.TemporaryDirectory(prefix="payk-pt-")
        base = {k: v for k, v in os.environ.items() if not k.startswith("TOR_PT_")}
        base.update(
            TOR_PT_MANAGED_TRANSPORT_VER="1",
            TOR_PT_STATE_LOCATION=str(Path(state.name) / "state"),
            TOR_PT_EXIT_ON_STDIN_CLOSE="1",
            **env,
        )
        process = await asyncio.create_subprocess_exec(
            find_program(program),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=base,
        )
        return process, state

    async def _methods(self, done: str, timeout: float) -> list[list[str]]:  # noqa: ASYNC109
        """The METHOD lines up to ``done``; errors become ``NetworkError``."""
        stdout = self._process.stdout
        if stdout is None:
            raise NetworkError(f"{PROGRAM} has no output")
        found: list[list[str]] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await stdout.readline()
                    if not raw:
                        raise NetworkError(f"{PROGRAM} exited before it was ready")
                    words = raw.decode(errors="replace").strip().split()
                    if not words:
                        continue
                    if words[0].endswith("-ERROR"):
                        raise NetworkError(f"{PROGRAM} refused: {' '.join(words)}")
                    if words[0] == done:
                        return found
                    if words[0] in ("CMETHOD", "SMETHOD"):
                        found.append(words[1:])
        except TimeoutError as exc:
            raise NetworkError(f"{PROGRAM} did not start in time") from exc

    async def close(self) -> None:
        """Stop the process (closing its stdin first, as the spec asks) and remove its state."""
        with contextlib.suppress(ProcessLookupError, OSError):
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._process.terminate()
        try:
            async with asyncio.timeout(5):
                await self._process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
        self._state.cleanup()


class ManagedClient(_Managed):
    """``obfs4proxy`` in client mode: a local SOCKS5 port that dials bridges."""

    socks_host: str
    socks_port: int

    @classmethod
    async def start(
        cls,
        *,
        upstream: SocksRoute | None = None,
        program: str = PROGRAM,
        timeout: float = START_TIMEOUT,  # noqa: ASYNC109
    ) -> ManagedClient:
        """Start the transport; ``upstream`` is a SOCKS5 proxy it must dial through.

        Raises:
            NetworkError: the program is missing, fails or does not offer obfs4.
        """
        env = {"TOR_PT_CLIENT_TRANSPORTS": TRANSPORT}
        if upstream is not None:
            env["TOR_PT_PROXY"] = upstream.describe()
        client = cls(*await cls._spawn(env, program))
        try:
            methods = await client._methods("CMETHODS", timeout)
            client.socks_host, client.socks_port = _socks_method(methods)
        except BaseException:
            await client.close()
            raise
        return client

    def route(self, bridge: Bridge) -> SocksRoute:
        """The SOCKS5 route that reaches ``bridge`` through this transport."""
        username, password = bridge.socks_credentials()
        return SocksRoute(
            host=self.socks_host,
            port=self.socks_port,
            username=username,
            password=password,
            dest_host=bridge.host,
            dest_port=bridge.port,
        )


def _socks_method(methods: list[list[str]]) -> tuple[str, int]:
    for words in methods:
        if len(words) >= 3 and words[0] == TRANSPORT and words[1] == "socks5":
            host, _, port = words[2].rpartition(":")
            if port.isdigit():
                return host.strip("[]"), int(port)
    raise NetworkError(f"{PROGRAM} offered no obfs4 SOCKS5 port")


class ManagedServer(_Managed):
    """``obfs4proxy`` in server mode in front of a relay's TLS port."""

    bridge: Bridge

    @classmethod
    async def start(
        cls,
        *,
        relay_host: str,
        relay_port: int,
        listen: str = "127.0.0.1:0",
        program: str = PROGRAM,
        timeout: float = START_TIMEOUT,  # noqa: ASYNC109
    ) -> ManagedServer:
        """Start a bridge on ``listen`` that carries clients to ``relay_host:relay_port``.

        Raises:
            NetworkError: the program is missing or fails.
        """
        env = {
            "TOR_PT_SERVER_TRANSPORTS": TRANSPORT,
            "TOR_PT_SERVER_BINDADDR": f"{TRANSPORT}-{listen}",
            "TOR_PT_ORPORT": f"{relay_host}:{relay_port}",
        }
        server = cls(*await cls._spawn(env, program))
        try:
            methods = await server._methods("SMETHODS", timeout)
            server.bridge = _bridge_of(methods)
        except BaseException:
            await server.close()
            raise
        return server


def _bridge_of(methods: list[list[str]]) -> Bridge:
    for words in methods:
        if len(words) >= 2 and words[0] == TRANSPORT:
            args = next((w[5:] for w in words[2:] if w.startswith("ARGS:")), "")
            fields = " ".join(a.replace("\\,", ",") for a in args.split(","))
            return Bridge.parse(f"{TRANSPORT} {words[1]} {fields}")
    raise NetworkError(f"{PROGRAM} offered no obfs4 listener")
