"""Matrix Synapse against payk: one room, one sender, one receiver, the same message count.

Strategy: Synapse is the established Python messaging server, so it is the peer for payk's
end-to-end figures. The harness installs it into its own virtualenv (``bench/.venv-peers``,
created on first use, never the project's), writes a loopback-only config (SQLite, no
federation, no TLS, registration with no verification, every rate limit lifted) and starts it
as its own process so its CPU time can be read from ``/proc/<pid>/stat``. Two users register,
one creates a room and the other joins; the sender then PUTs N ``m.room.message`` events
while the receiver long-polls ``/sync``, in two modes: one after another, each awaited, as a
chat client's send queue does (``synapse``), and up to ``WINDOW`` PUTs in flight on as many
keep-alive connections (``synapse_pipelined``). Throughput is messages received over the time
from the first send to the last arrival; latency is send start to the receiving ``/sync``
returning it. The clients are plain keep-alive HTTP in threads, so Synapse is measured with no
client crypto at all.

payk runs the same pattern between two profiles through its durable relay with client crypto
on both sides (``bench.client``'s relay and pairing helpers), also in two modes: ``send_text``
awaited until the relay holds each message (``payk_one_by_one``), and ``send_text(wait=False)``,
which returns once the message is sealed and written on the device (in a group commit that the
next flush makes, see ``Client.send_text``) while the background flush keeps up to ``WINDOW``
envelopes in flight (``payk``, what an app's send button wants). The receiver is
``payk listen`` in its own process, as on another device. The relay's CPU is read the same way,
and so is the clients' (this process's, which for payk also reads the listener's lines, plus
the listener's): with the server's it gives the CPU one message costs in all, and so the most
messages per second the machine's cores could carry (``payk_cpu_ceiling_msgs_per_s``).
Every repeat runs all four modes back to back. The headline is the median over repeats of
payk's pipelined messages/s over the better of Synapse's two modes in the same repeat; the
one-by-one ratio is reported beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import client as payk_client
from bench.mosquitto_peer import cpu_ns

__all__ = ["PEERS_VENV", "peer_python", "run"]

ROOT = Path(__file__).resolve().parent.parent
PEERS_VENV = ROOT / "bench" / ".venv-peers"
PEER_PACKAGES = ("matrix-synapse", "py-spy")
START_TIMEOUT = 120.0
_UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}
WINDOW = 32  # messages in flight in the pipelined modes (payk's outbox window is the same)
MODES = ("synapse", "synapse_pipelined", "payk_one_by_one", "payk")


def peer_python() -> Path:
    """The peers' interpreter, installing the peers into their own virtualenv on first use."""
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
        subprocess.run([*pip, *PEER_PACKAGES], check=True)
        marker.write_text("\n".join(PEER_PACKAGES) + "\n")
    return python


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process's threads have used so far, to the nanosecond (``/proc/<pid>/stat``
    counts in 10 ms ticks, too coarse for the relay's share of a few hundred messages)."""
    return cpu_ns(pid) / 1e9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(workdir: Path, port: int) -> Path:
    """A loopback-only homeserver config: SQLite, no federation, no rate limits."""
    log_config = workdir / "log.yaml"
    log_config.write_text(
        "version: 1\nhandlers:\n  null: {class: logging.NullHandler}\n"
        "root: {level: ERROR, handlers: [null]}\ndisable_existing_loggers: false\n"
    )
    limits = {
        name: _UNLIMITED
        for name in ("rc_message", "rc_registration", "rc_joins_per_room", "rc_invites")
    }
    limits["rc_login"] = {"address": _UNLIMITED, "account": _UNLIMITED}  # type: ignore[dict-item]
    limits["rc_joins"] = {"local": _UNLIMITED, "remote": _UNLIMITED}  # type: ignore[dict-item]
    config = {
        "server_name": "bench.localhost",
        "pid_file": str(workdir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(workdir / "media"),
        "signing_key_path": str(workdir / "signing.key"),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "registration_shared_secret": secrets.token_hex(16),
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "federation_domain_whitelist": [],
        "send_federation": False,
        "presence": {"enabled": False},
        **limits,
    }
    path = workdir / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


@contextlib.contextmanager
def synapse(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, float]]:
    """A running homeserver: (process, port, seconds it took to answer)."""
    workdir.mkdir(parents=True, exist_ok=True)
    python, port = str(peer_python()), _free_port()
    config = _config(workdir, port)
    base = [python, "-m", "synapse.app.homeserver", "-c", str(config)]
    subprocess.run([*base, "--generate-keys"], check=True, capture_output=True)
    started = time.perf_counter()
    proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(proc, port)
        yield proc, port, time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"synapse exited during startup (exit {proc.returncode})")
        probe = _Http(port)
        try:
            probe.call("GET", "/_matrix/client/versions")
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
        finally:
            probe.close()
    raise TimeoutError("synapse did not answer in time")


class _Http:
    """One keep-alive HTTP/1.1 connection speaking JSON, with an optional access token."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None if body is None else json.dumps(body)
        self._conn.request(method, path, body=payload, headers=headers)
        response = self._conn.getresponse()
        data = json.loads(response.read() or b"{}")
        if response.status >= 400:
            raise RuntimeError(f"synapse {method} {path.split('?')[0]}: {response.status} {data}")
        return data

    def close(self) -> None:
        self._conn.close()


def _register(port: int, name: str) -> _Http:
    body = {"username": name, "password": secrets.token_hex(12), "auth": {"type": "m.login.dummy"}}
    token = _Http(port).call("POST", "/_matrix/client/v3/register", body)["access_token"]
    return _Http(port, token)


def _room(sender: _Http, receiver: _Http) -> str:
    room: str = sender.call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"})[
        "room_id"
    ]
    receiver.call("POST", f"/_matrix/client/v3/join/{room}", {})
    return room


_SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 1000}}, "presence": {"types": []}})


def _receive(
    receiver: _Http, room: str, since: str, expected: set[str], out: dict[str, float]
) -> None:
    """Long-poll /sync until every expected body arrived; record arrival times."""
    while len(out) < len(expected):
        query = f"?since={since}&timeout=30000&filter={quote(_SYNC_FILTER, safe='')}"
        data = receiver.call("GET", f"/_matrix/client/v3/sync{query}")
        now = time.perf_counter()
        since = data["next_batch"]
        joined = data.get("rooms", {}).get("join", {}).get(room, {})
        for event in joined.get("timeline", {}).get("events", []):
            body = event.get("content", {}).get("body")
            if body in expected and body not in out:
                out[body] = now


def _synapse_burst(port: int, pid: int, count: int, window: int = 1) -> dict[str, Any]:
    """``count`` messages, one PUT after another (``window`` 1) or ``window`` at once."""
    sender, receiver = _register(port, _name("s")), _register(port, _name("r"))
    room = _room(sender, receiver)
    since = receiver.call("GET", "/_matrix/client/v3/sync?timeout=0")["next_batch"]
    bodies = [f"message {i} {secrets.token_hex(4)}" for i in range(count)]
    arrived: dict[str, float] = {}
    thread = threading.Thread(target=_receive, args=(receiver, room, since, set(bodies), arrived))
    cpu_before, clients_before = cpu_seconds(pid), time.process_time()
    thread.start()
    sent_at: dict[str, float] = {}
    local = threading.local()

    def put(i: int) -> None:
        if window == 1:
            http = sender
        elif not hasattr(local, "http"):
            http = local.http = _Http(port, sender.token)
        else:
            http = local.http
        body = bodies[i]
        sent_at[body] = time.perf_counter()
        path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{i}"
        http.call("PUT", path, {"msgtype": "m.text", "body": body})

    started = time.perf_counter()
    if window == 1:
        for i in range(count):
            put(i)
    else:
        with ThreadPoolExecutor(window) as pool:
            list(pool.map(put, range(count)))
    thread.join(300)
    if thread.is_alive():
        raise TimeoutError("synapse did not deliver every message in time")
    cpu = cpu_seconds(pid) - cpu_before
    clients = time.process_time() - clients_before
    sender.close()
    receiver.close()
    latencies = [(arrived[b] - sent_at[b]) * 1000 for b in bodies]
    return _figures(count, max(arrived.values()) - started, cpu, clients, latencies)


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(6)}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _figures(
    count: int,
    seconds: float,
    cpu: float,
    clients: float,
    latencies: list[float],
    sender: float | None = None,
) -> dict[str, Any]:
    """``cpu`` is the server's CPU seconds, ``clients`` the sender's and receiver's together;
    ``sender`` the sender's alone where it can be told apart (payk's sender is this process)."""
    figures = {
        "messages": count,
        "msgs_per_s": count / seconds,
        "server_cpu_ms_per_msg": cpu / count * 1000,
        "clients_cpu_ms_per_msg": clients / count * 1000,
        "total_cpu_ms_per_msg": (cpu + clients) / count * 1000,
        "latency_p50_ms": statistics.median(latencies),
        "latency_p99_ms": _percentile(latencies, 0.99),
    }
    if sender is not None:
        figures["sender_cpu_ms_per_msg"] = sender / count * 1000
        figures["receiver_cpu_ms_per_msg"] = (clients - sender) / count * 1000
    return figures


async def _payk_burst(workdir: Path, count: int, *, wait: bool) -> dict[str, Any]:
    """The same pattern between two payk profiles, each in its own process, through one relay.

    The sender runs in this process (``Client.send_text``, each awaited until the relay holds
    the message with ``wait``, else until it is sealed and written on the device while the
    background flush sends); the receiver is ``payk listen`` in its own process, as on another
    device, and each line it prints is timed on arrival here (``perf_counter`` is the
    system-wide monotonic clock).
    """
    async with _payk_relay(workdir) as (pid, relay):
        sender, receiver = await payk_client._pair(workdir, relay)
        await receiver.close()
        try:
            async with _listener(workdir / "r") as (lines, listener):
                await _deliver(sender, lines, ["warm-up"], wait=True)
                bodies = [f"message {i}" for i in range(count)]
                cpu_before = cpu_seconds(pid)
                sender_before, listener_before = time.process_time(), cpu_seconds(listener)
                started = time.perf_counter()
                sent_at, arrived = await _deliver(sender, lines, bodies, wait=wait)
                cpu = cpu_seconds(pid) - cpu_before
                sending = time.process_time() - sender_before
                clients = sending + cpu_seconds(listener) - listener_before
        finally:
            await sender.close()
    latencies = [(arrived[b] - sent_at[b]) * 1000 for b in bodies]
    seconds = max(arrived.values()) - started
    return _figures(count, seconds, cpu, clients, latencies, sender=sending)


async def _deliver(
    sender: Any, lines: asyncio.StreamReader, bodies: list[str], *, wait: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Send each body in turn while the listener's lines are read; both sides' times."""
    arrived: dict[str, float] = {}
    expected = set(bodies)

    async def collect() -> None:
        while len(arrived) < len(expected):
            line = await lines.readline()
            if not line:
                raise RuntimeError("payk listen stopped")
            text = json.loads(line).get("text")
            if text in expected:
                arrived.setdefault(text, time.perf_counter())

    collector = asyncio.ensure_future(collect())
    sent_at = {}
    for body in bodies:
        sent_at[body] = time.perf_counter()
        await sender.send_text("Receiver", body, wait=wait)
    await asyncio.wait_for(collector, timeout=300)
    return sent_at, arrived


@contextlib.asynccontextmanager
async def _listener(home: Path) -> AsyncIterator[tuple[asyncio.StreamReader, int]]:
    """``payk listen`` on the receiver's profile: its JSON lines as a stream, and its pid."""
    env = {**os.environ, "PAYK_PASSPHRASE": "r", "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "payk", "--home", str(home), "--json", "listen"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        if process.stdout is None:
            raise RuntimeError("payk listen has no output")
        yield process.stdout, process.pid
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def _payk_relay(workdir: Path) -> AsyncIterator[tuple[int, Any]]:
    """bench.client's relay process, with its pid for the CPU reading."""
    before = set(_children())
    async with payk_client._relay(workdir / "relay") as relay:
        pids = [pid for pid in _children() if pid not in before]
        if len(pids) != 1:
            raise RuntimeError("could not tell which process is the relay")
        yield pids[0], relay


def _children() -> list[int]:
    """The pids of this process's direct children, from /proc."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(stat[1]) == me:
                    found.append(int(entry.name))
    return found


def _median_with_spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"repeats": len(runs), "messages": runs[0]["messages"]}
    for key in (
        "msgs_per_s",
        "server_cpu_ms_per_msg",
        "clients_cpu_ms_per_msg",
        "total_cpu_ms_per_msg",
        "sender_cpu_ms_per_msg",
        "receiver_cpu_ms_per_msg",
        "latency_p50_ms",
        "latency_p99_ms",
    ):
        if key not in runs[0]:  # the sender's own share: payk's runs only
            continue
        values = [r[key] for r in runs]
        merged[key] = statistics.median(values)
        merged[f"{key}_min"], merged[f"{key}_max"] = min(values), max(values)
    return merged


def _paired(top: list[dict[str, Any]], bottom: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Median (and spread) of the per-repeat ratios: repeats ran back to back, in pairs."""
    ratios = [a[key] / b[key] for a, b in zip(top, bottom, strict=True) if b[key]]
    if not ratios:
        return {"median": None}
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Synapse and payk, the same message count; ``quick``: 100 per repeat x 2, else 500 x 5.

    The repeats alternate (Synapse, payk, Synapse, payk, ...) so that a change in the load of
    the shared machine falls on both, and the headline is the median of the per-pair ratios
    (with the quick run's 2 repeats, the mean of the two).
    """
    count, repeats = (100, 2) if quick else (500, 5)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in MODES}
    with synapse(workdir / "synapse") as (proc, port, startup):
        await asyncio.to_thread(_synapse_burst, port, proc.pid, 5 if quick else 10)  # warm-up
        for n in range(repeats):
            for window in (1, WINDOW):
                name = "synapse" if window == 1 else "synapse_pipelined"
                runs[name].append(
                    await asyncio.to_thread(_synapse_burst, port, proc.pid, count, window)
                )
            for wait in (True, False):
                folder = workdir / f"payk-{n}-{'wait' if wait else 'burst'}"
                folder.mkdir()
                name = "payk_one_by_one" if wait else "payk"
                runs[name].append(await _payk_burst(folder, count, wait=wait))
    best_matrix = [
        max(a, b, key=lambda r: float(r["msgs_per_s"]))
        for a, b in zip(runs["synapse"], runs["synapse_pipelined"], strict=True)
    ]
    speed = _paired(runs["payk"], best_matrix, "msgs_per_s")
    serial = _paired(runs["payk_one_by_one"], runs["synapse"], "msgs_per_s")
    cpu = _paired(runs["synapse"], runs["payk_one_by_one"], "server_cpu_ms_per_msg")
    # what the machine's cores could carry if nothing but payk's three processes ran
    total = statistics.median(r["total_cpu_ms_per_msg"] for r in runs["payk"])
    ceiling = (os.cpu_count() or 1) * 1000 / total if total else None
    best = statistics.median(r["msgs_per_s"] for r in best_matrix)
    # one sender is one process: its own CPU per message caps it on one core
    sending = statistics.median(r["sender_cpu_ms_per_msg"] for r in runs["payk"])
    sender_ceiling = 1000 / sending if sending else None
    return {
        "synapse_startup_s": startup,
        **{name: _median_with_spread(found) for name, found in runs.items()},
        "ratios": {
            "payk_over_synapse_msgs_per_s": speed["median"],
            "payk_over_synapse_msgs_per_s_min": speed.get("min"),
            "payk_over_synapse_msgs_per_s_max": speed.get("max"),
            "one_by_one_payk_over_synapse_msgs_per_s": serial["median"],
            "one_by_one_payk_over_synapse_msgs_per_s_min": serial.get("min"),
            "one_by_one_payk_over_synapse_msgs_per_s_max": serial.get("max"),
            "synapse_over_payk_server_cpu_per_msg": cpu["median"],
            "synapse_over_payk_server_cpu_per_msg_min": cpu.get("min"),
            "synapse_over_payk_server_cpu_per_msg_max": cpu.get("max"),
            "payk_cpu_ceiling_msgs_per_s": ceiling,
            "payk_cpu_ceiling_over_synapse": ceiling / best if ceiling else None,
            "payk_sender_ceiling_msgs_per_s": sender_ceiling,
            "payk_sender_ceiling_over_synapse": sender_ceiling / best if sender_ceiling else None,
        },
    }
