"""A junk generator for abuse tests: one source hammering a relay with what is not payk.

Usage: ``python -m tools.abuse --port PORT --seconds S [--connections N]``. It prints
``ready`` once it has started, then for S seconds keeps ``N`` tasks busy, each looping over
the kinds of junk an attacker or a scanner sends: random bytes on raw TCP, a TLS hello cut
off half-way, HTTP GETs and junk POSTs after TLS, and WebSocket frames of random bytes as
fast as the relay takes them (reconnecting when the relay cuts it off). At the end it prints
one JSON line with the counts. It runs in its own process so the attacker's CPU is not
charged to the clients whose latency a test measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import ssl
import sys
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

__all__ = ["main", "run"]


def _tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _raw(port: int, data: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    with contextlib.suppress(TimeoutError, OSError):
        await asyncio.wait_for(reader.read(1024), 0.2)
    writer.close()


async def _http(port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_tls())
    writer.write(request)
    await writer.drain()
    with contextlib.suppress(TimeoutError, OSError, ssl.SSLError):
        await asyncio.wait_for(reader.read(), 2)
    writer.close()


PACE = 0.0  # seconds between junk frames on one connection (0: as fast as answered)


async def _frames(port: int, rng: random.Random) -> None:
    async with connect(
        f"wss://127.0.0.1:{port}/ws",
        ssl=_tls(),
        server_hostname=None,
        proxy=None,
        compression=None,
        max_size=2**20,
    ) as ws:
        for _ in range(300):
            await ws.send(rng.randbytes(rng.randint(1, 600)))
            await ws.recv()
            await asyncio.sleep(PACE)


async def _one_kind(kind: int, port: int, rng: random.Random) -> None:
    if kind == 0:
        await _raw(port, os.urandom(rng.randint(1, 2048)))
    elif kind == 1:
        await _raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
    elif kind == 2:
        await _http(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    elif kind == 3:
        junk = os.urandom(512)
        head = b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 512\r\nConnection: close\r\n\r\n"
        await _http(port, head + junk)
    else:
        await _frames(port, rng)


async def _worker(n: int, port: int, until: float, counts: Counter[str]) -> None:
    rng = random.Random(n)  # noqa: S311 - junk, not secrets
    while time.monotonic() < until:
        kind = rng.choice((0, 1, 2, 3, 4, 4, 4))
        try:
            await asyncio.wait_for(_one_kind(kind, port, rng), max(0.1, until - time.monotonic()))
            counts[f"kind{kind}"] += 1
        except (OSError, TimeoutError, ssl.SSLError, WebSocketException, EOFError):
            counts["cut_off"] += 1


async def run(port: int, seconds: float, connections: int) -> Counter[str]:
    """Send junk to ``port`` for ``seconds`` over ``connections`` concurrent tasks."""
    counts: Counter[str] = Counter()
    until = time.monotonic() + seconds
    await asyncio.gather(*(_worker(n, port, until, counts) for n in range(connections)))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.abuse", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between frames")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority")
    args = parser.parse_args(argv)
    global PACE
    PACE = args.pace
    if args.nice:
        os.nice(args.nice)  # the attacker's own CPU is not the relay's to defend
    print("ready", flush=True)
    counts = asyncio.run(run(args.port, args.seconds, args.connections))
    print(json.dumps(dict(counts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
