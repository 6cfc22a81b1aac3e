"""Paths: the cost of a SOCKS5 proxy and of an obfs4 bridge against a direct connection, and
bundle files of many envelopes.

Strategy: one real relay process on loopback (rate limits lifted); for each transport
(direct, ``microsocks``, ``obfs4proxy`` on both sides) one pinned connection sends 4 KiB
envelopes after 30 unmeasured ones. Latency is the time of one durable ``send`` (p50/p99
over sequential sends); throughput is a pipelined burst (envelopes/s and MB/s from the first
send to the last answer). A transport whose program is missing is recorded as skipped.
Bundles: a profile carries N envelopes (10,000; 300 quick), exports them to a file, and a
second profile imports it; the container alone (seal and open, no store) is timed too.
Nothing is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from payk.client import carry
from payk.client.bundles import export_bundle, import_bundle
from payk.client.facade import Client
from payk.client.store.header import KDF_PROFILES
from payk.net.obfs4 import ManagedClient, ManagedServer
from payk.net.relay import RelayConnection
from payk.net.socks import SocksRoute
from payk.protocol import bundle, primitives
from payk.protocol.address import RelayAddress
from payk.protocol.bundle import BundleItem

__all__ = ["run"]

ENVELOPE = 4096
WARMUP = 30


@contextlib.asynccontextmanager
async def _relay(data: Path) -> AsyncIterator[RelayAddress]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "payk", "--json", "relay", "serve"),
        *("--listen", "127.0.0.1:0", "--data", str(data)),
        *("--rate", "1000000", "--burst", "1000000", "--mailbox-max-count", "1000000"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        if process.stdout is None:
            raise RuntimeError("the relay has no stdout")
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        yield RelayAddress.parse(json.loads(line)["address"])
    finally:
        process.terminate()
        await process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _microsocks() -> AsyncIterator[str]:
    program = shutil.which("microsocks")
    if program is None:
        raise FileNotFoundError("microsocks is not installed")
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *(program, "-i", "127.0.0.1", "-p", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            await asyncio.sleep(0.025)
        yield f"socks5://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def _obfs4(relay: RelayAddress) -> AsyncIterator[SocksRoute]:
    if shutil.which("obfs4proxy") is None:
        raise FileNotFoundError("obfs4proxy is not installed")
    server = await ManagedServer.start(relay_host="127.0.0.1", relay_port=relay.port)
    client = await ManagedClient.start()
    try:
        yield client.route(server.bridge)
    finally:
        await client.close()
        await server.close()


async def _measure(relay: RelayAddress, proxy: str | SocksRoute | None, n: int) -> dict[str, Any]:
    async with await RelayConnection.connect(relay, proxy=proxy) as conn:
        box = await conn.create_mailbox()
        body = primitives.random_bytes(ENVELOPE)
        for _ in range(WARMUP):
            await conn.send(box.send_id, body)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            await conn.send(box.send_id, body)
            times.append(time.perf_counter() - started)
        burst = n * 4
        started = time.perf_counter()
        await asyncio.gather(*(conn.send(box.send_id, body) for _ in range(burst)))
        elapsed = time.perf_counter() - started
    ordered = sorted(times)
    return {
        "latency_p50_ms": statistics.median(ordered) * 1000,
        "latency_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "throughput_envelopes_per_s": burst / elapsed,
        "throughput_mb_per_s": burst * ENVELOPE / elapsed / 1e6,
    }


async def _transports(quick: bool, workdir: Path) -> dict[str, Any]:
    n = 50 if quick else 500
    out: dict[str, Any] = {}
    async with _relay(workdir / "relay") as relay:
        out["direct"] = await _measure(relay, None, n)
        try:
            async with _microsocks() as proxy:
                out["socks5_microsocks"] = await _measure(relay, proxy, n)
        except FileNotFoundError as exc:
            out["socks5_microsocks"] = {"skipped": str(exc)}
        try:
            async with _obfs4(relay) as route:
                out["obfs4"] = await _measure(relay, route, n)
        except FileNotFoundError as exc:
            out["obfs4"] = {"skipped": str(exc)}
    direct = out["direct"]
    for name in ("socks5_microsocks", "obfs4"):
        if "skipped" not in out[name]:
            out[name]["latency_vs_direct"] = out[name]["latency_p50_ms"] / direct["latency_p50_ms"]
            out[name]["throughput_vs_direct"] = (
                out[name]["throughput_envelopes_per_s"] / direct["throughput_envelopes_per_s"]
            )
    return out


def _items(n: int, now: int) -> list[BundleItem]:
    relay = "payk://" + "A" * 43 + "@192.0.2.1:443"
    return [
        BundleItem(
            relay=relay,
            send_id=primitives.random_bytes(16),
            envelope=primitives.random_bytes(ENVELOPE),
            created_at=now,
        )
        for _ in range(n)
    ]


async def _bundles(quick: bool, workdir: Path) -> dict[str, Any]:
    n = 300 if quick else 10_000
    kdf = KDF_PROFILES["fast"]
    relay = [RelayAddress.parse("payk://" + "A" * 43 + "@192.0.2.1:443")]
    sender = Client.create(workdir / "carrier", "p", name="Carrier", relays=relay, kdf=kdf)
    receiver = Client.create(workdir / "next", "p", name="Next", relays=relay, kdf=kdf)
    try:
        items = _items(n, sender.clock())
        started = time.perf_counter()
        sealed = bundle.seal(items)
        seal_s = time.perf_counter() - started
        started = time.perf_counter()
        bundle.open_bundle(sealed)
        open_s = time.perf_counter() - started
        db = sender.profile.db
        with db.transaction():
            carry.carry(db, items, now=sender.clock(), limits=carry.CarryLimits())
        path = workdir / "bench.bundle"
        started = time.perf_counter()
        count, size = await export_bundle(sender, path)
        export_s = time.perf_counter() - started
        started = time.perf_counter()
        arrival = await import_bundle(receiver, path)
        import_s = time.perf_counter() - started
    finally:
        await sender.close()
        await receiver.close()
    return {
        "envelopes": count,
        "envelope_bytes": ENVELOPE,
        "file_bytes": size,
        "container_seal_s": seal_s,
        "container_open_s": open_s,
        "export_s": export_s,
        "import_s": import_s,
        "import_envelopes_per_s": arrival.carried / import_s if import_s else 0.0,
        "export_envelopes_per_s": count / export_s if export_s else 0.0,
    }


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Transport and bundle figures (see the module docstring)."""
    os.environ.setdefault("PAYK_KDF_PROFILE", "fast")
    return {
        "transports": await _transports(quick, workdir),
        "bundles": await _bundles(quick, workdir),
    }
