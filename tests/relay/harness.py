"""Real relay processes for end-to-end tests: start, read the address line, stop or kill.

Each relay is ``python -m payk --json relay serve --listen 127.0.0.1:0`` in its own process;
its first stdout line is ``{"address": ...}``; stderr goes to a file in its data folder so a
failing test can show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from payk.protocol import mailbox as mb
from payk.protocol.address import RelayAddress

START_TIMEOUT = 30.0


@dataclass
class RelayProcess:
    proc: asyncio.subprocess.Process
    address: RelayAddress
    data: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return (self.data / "stderr.log").read_text(errors="replace")

    async def terminate(self, seconds: float = 20.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), seconds)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def start_relay(data: Path, *extra: str, listen: str = "127.0.0.1:0") -> RelayProcess:
    """Start a relay process on ``data`` and wait for its address line."""
    data.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test setup
    stderr = (data / "stderr.log").open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payk",
        "--json",
        "relay",
        "serve",
        "--listen",
        listen,
        "--data",
        str(data),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=env,
    )
    stderr.close()
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if not line:
        await proc.wait()
        log = (data / "stderr.log").read_text(errors="replace")
        raise RuntimeError(f"the relay did not start (exit {proc.returncode}):\n{log}")
    address = RelayAddress.parse(json.loads(line)["address"])
    return RelayProcess(proc=proc, address=address, data=data)


def unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def raw_websocket(relay: RelayProcess) -> tuple[ClientConnection, mb.Challenge]:
    """A WebSocket to the relay with no client library on top, and the relay's challenge."""
    ws = await connect(
        f"wss://127.0.0.1:{relay.address.port}/ws",
        ssl=unverified_context(),
        server_hostname=None,
        compression=None,
        proxy=None,
        max_size=mb.MAX_RESPONSE,
    )
    challenge = mb.response_codec().decode(await ws.recv())  # type: ignore[arg-type]
    assert isinstance(challenge, mb.Challenge)
    return ws, challenge


def flat_pushes(frames: list[mb.Push | mb.Pushes]) -> list[mb.Push]:
    """The pushes in ``frames``, in order, as a client reads them."""
    pushes: list[mb.Push] = []
    for frame in frames:
        if isinstance(frame, mb.Pushes):
            pushes += [mb.Push(recv_id=p.recv_id, item=p.item) for p in frame.items]
        else:
            pushes.append(frame)
    return pushes


async def http_get(address: RelayAddress, path: str) -> tuple[int, dict[str, str], bytes, bytes]:
    """A plain HTTPS GET; returns status, headers, body and the server's DER certificate."""
    reader, writer = await asyncio.open_connection(
        address.connect_host, address.port, ssl=unverified_context()
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, body, der


PG_ENV = "PAYK_TEST_POSTGRES"


@contextlib.asynccontextmanager
async def postgres_schema_url(needed_by: str, *, prefix: str = "payk_t") -> AsyncIterator[str]:
    """A relay ``--db`` URL on a fresh PostgreSQL schema, dropped afterwards.

    Skips the test, naming ``needed_by``, when PAYK_TEST_POSTGRES is not set.
    """
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(f"{PG_ENV} is not set; {needed_by} needs a PostgreSQL DSN")
    import asyncpg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
