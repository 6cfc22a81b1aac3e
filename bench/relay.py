"""Relay benchmark: the payk relay against a bare forwarder and Mosquitto, same load.

Strategy: each server runs as its own process and so does the load generator
(``bench.loadgen``), so the server's CPU time can be read from ``/proc/<pid>/task/*/schedstat``
before and after each load and divided by the messages delivered. Four servers:

* ``forwarder`` (``bench.forwarder``): WebSocket, no TLS, no storage, no auth: the floor;
* ``forwarder_tls`` (``bench.forwarder --tls``): the same forwarding over TLS with the relay's
  kind of certificate and context: the floor for a relay that encrypts its frames, so that
  what TLS costs and what the relay costs beyond TLS can be told apart;
* ``payk_sqlite``: ``payk relay serve`` on SQLite, TLS on, every envelope durable
  (synchronous=FULL) before the sender hears "accepted", deleted on ack, rate limits lifted;
* ``mosquitto``: QoS 1, no persistence, on a free loopback port, started from its own config
  file. When it is missing and the harness runs as root with apt-get, Debian's ``mosquitto``
  package is installed (``bench.apt``); the system service the package sets up is left
  alone. Skipped when it cannot be had or paho-mqtt is not installed.

Loads: 1 pair and 100 pairs of sender/receiver, 256-byte messages, a fixed count per pair.
Returned per server and load: messages/s, server CPU seconds per message (with and without
the cost of opening and closing the connections), p50/p99 latency, lost messages; plus ratios
against the forwarder (payk, Mosquitto and the TLS forwarder) and against the TLS forwarder
(payk). Nothing is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench import apt

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
SIZE = 256
START_TIMEOUT = 30.0


def _cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the server's threads, to the nanosecond.

    ``/proc/<pid>/stat`` counts in 10 ms ticks, coarser than a quick load of the forwarders
    spends, so this reads the threads' schedstat like the capacity area does.
    """
    from bench.mosquitto_peer import cpu_ns  # here: that module imports this one

    return cpu_ns(pid) / 1e9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def _forwarder_process(*options: str) -> AsyncIterator[tuple[int, str]]:
    """``bench.forwarder`` with ``options``; yields its pid and port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.forwarder", *options, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = (await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)).decode().strip()
        yield proc.pid, port
    finally:
        await _stop(proc)


def _forwarder(workdir: Path) -> contextlib.AbstractAsyncContextManager[tuple[int, str]]:
    """The bare forwarder, serving ws:// (the generator's ``forwarder`` kind)."""
    return _forwarder_process()


def _forwarder_tls(workdir: Path) -> contextlib.AbstractAsyncContextManager[tuple[int, str]]:
    """The forwarder serving wss:// (the generator's ``forwarder_tls`` kind)."""
    return _forwarder_process("--tls")


@contextlib.asynccontextmanager
async def _payk(
    workdir: Path, *extra: str, listen: str = "127.0.0.1:0"
) -> AsyncIterator[tuple[int, str]]:
    """``payk relay serve`` on SQLite in ``workdir/payk-relay``, rate limits lifted, with any
    ``extra`` options; yields its pid and the address it prints."""
    data = workdir / "payk-relay"
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
        "--rate",
        "1000000",
        "--burst",
        "1000000",
        "--log-level",
        "WARNING",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        yield proc.pid, json.loads(line)["address"]
    finally:
        await _stop(proc)


@contextlib.asynccontextmanager
async def _mosquitto(workdir: Path) -> AsyncIterator[tuple[int, str]]:
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_inflight_messages 0\nmax_queued_messages 0\nlog_type none\n"
    )
    binary = apt.find_binary("mosquitto") or "mosquitto"
    proc = await asyncio.create_subprocess_exec(binary, "-c", str(conf))
    try:
        await wait_port(port, proc, "mosquitto")
        yield proc.pid, str(port)
    finally:
        await _stop(proc)


async def json_from(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args`` from the repository and parse the JSON it prints.

    Raises:
        RuntimeError: the module exited with an error.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(
            f"python -m {module} {' '.join(args[:1])} failed (exit {proc.returncode})"
        )
    result: dict[str, Any] = json.loads(out)
    return result


async def _load(kind: str, target: str, pairs: int, count: int) -> dict[str, Any]:
    return await json_from(
        "bench.loadgen",
        kind,
        target,
        "--pairs",
        str(pairs),
        "--count",
        str(count),
        "--size",
        str(SIZE),
    )


async def _spent(pid: int, kind: str, target: str, pairs: int, count: int) -> Any:
    """One load's figures and the server CPU seconds it cost."""
    before = _cpu_seconds(pid)
    result = await _load(kind, target, pairs, count)
    return result, _cpu_seconds(pid) - before


async def _measure(server: Any, kind: str, workdir: Path, loads: list[tuple[int, int]]) -> Any:
    """Each load, then the same pairs with no messages (after it, so it warms nothing).

    ``server_cpu_s_per_msg`` counts everything the load cost, connecting included;
    ``server_cpu_s_per_msg_no_setup`` takes away what opening and closing the same pairs
    costs alone (``server_cpu_s_setup``), since a TLS handshake per connection weighs on a
    short load but not on connections that live on.
    """
    figures: dict[str, Any] = {}
    async with server(workdir) as (pid, target):
        for pairs, count in loads:
            result, spent = await _spent(pid, kind, target, pairs, count)
            _, setup = await _spent(pid, kind, target, pairs, 0)
            received = max(1, result["received"])
            result["server_cpu_s_per_msg"] = spent / received
            result["server_cpu_s_setup"] = setup
            result["server_cpu_s_per_msg_no_setup"] = max(spent - setup, 0.0) / received
            figures[f"pairs_{pairs}"] = result
    return figures


def _ratios(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    ratios: dict[str, Any] = {}
    for load, figures in other.items():
        ref = base.get(load)
        if not isinstance(figures, dict) or not isinstance(ref, dict):
            continue
        ratios[load] = {
            key: figures[key] / ref[key] if ref[key] else None
            for key in (
                "msgs_per_s",
                "server_cpu_s_per_msg",
                "server_cpu_s_per_msg_no_setup",
                "latency_p50_ms",
                "latency_p99_ms",
            )
        }
    return ratios


async def wait_port(port: int, proc: asyncio.subprocess.Process, what: str) -> None:
    """Wait until ``proc`` (called ``what`` in errors) accepts connections on ``port``."""
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"{what} exited with status {proc.returncode} on start")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


async def _mosquitto_missing() -> str | None:
    """None when Mosquitto can run (installing Debian's package when it may), else why not."""
    if importlib.util.find_spec("paho") is None:
        return "paho-mqtt is not installed"
    _, why = await apt.ensure("mosquitto", "mosquitto")
    return why or None


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Relay figures; ``quick`` sends 100 messages with 1 pair and 5 per pair with 100."""
    loads = [(1, 100), (100, 5)] if quick else [(1, 2000), (100, 100)]
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any load
    results: dict[str, Any] = {
        "message_bytes": SIZE,
        "forwarder": await _measure(_forwarder, "forwarder", workdir, loads),
        "forwarder_tls": await _measure(_forwarder_tls, "forwarder_tls", workdir, loads),
        "payk_sqlite": await _measure(_payk, "payk", workdir, loads),
    }
    missing = await _mosquitto_missing()
    if missing is None:
        results["mosquitto"] = await _measure(_mosquitto, "mqtt", workdir, loads)
    else:
        results["mosquitto"] = {"skipped": missing}
    results["ratios_vs_forwarder"] = {
        name: _ratios(results["forwarder"], results[name])
        for name in ("payk_sqlite", "mosquitto", "forwarder_tls")
        if "skipped" not in results[name]
    }
    results["ratios_vs_forwarder_tls"] = {
        "payk_sqlite": _ratios(results["forwarder_tls"], results["payk_sqlite"])
    }
    return results
