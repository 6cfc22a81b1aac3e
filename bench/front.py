"""The relay behind an nginx TLS front, and channel reads served from an nginx cache.

Strategy: nginx (Debian's ``nginx-light``, installed by ``bench.apt`` when missing and the
harness runs as root with apt-get; else the area is skipped) runs as a child process with its
own config in the work folder (``nginx -p DIR -e error.log -c nginx.conf -g 'daemon off;'``),
on loopback ports only, error log, pid file, temp files and cache in the work folder, no
access log. It terminates TLS with a self-signed P-256 certificate made here
(``self_signed_certificate``) and passes ``/ws`` to a relay started with
``--tls-terminated-by`` (plain HTTP/WebSocket on 127.0.0.1; ``--public-port`` makes its
printed address carry nginx's port, and the address pins the front's key, so the load
generator checks it as any client would). A second relay serves TLS itself, as
``bench.mosquitto_peer`` measures it. Two measurements:

* ``tls_front``: after a warm-up, rounds that load each relay in turn with
  ``bench.loadgen`` (quick: 10 pairs x 60 messages x 2 rounds, full: 50 x 200 x 5); per
  round the messages/s and the CPU nanoseconds per delivered message of the relay and of
  every nginx process (master and workers, from ``/proc/<pid>/task/*/schedstat``). Per-core
  capacity is 1 / CPU per message, for the relay alone and for relay plus nginx; figures are
  medians over the rounds with the spread.
* ``cached_reads``: one feed of full pages (100 sealed 256-byte posts each) on each relay;
  N readers (a separate process, ``python -m bench.front readers``, on uvloop) each GET full
  pages one after another over a new pinned TLS connection per GET (as ``get_feed`` does),
  starting on different pages, straight from the TLS relay and through nginx's
  ``proxy_cache`` (which honours the relay's ``Cache-Control: immutable``; ``proxy_cache_lock``
  lets one miss per page through). Figures: GETs/s, relay and nginx CPU per GET, and the hit
  ratio counted from nginx's ``X-Cache-Status`` header. The cache starts empty, so the first
  point's ratio shows the misses.

Nothing is printed by ``run``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench import apt
from bench import relay as relay_bench
from bench.mosquitto_peer import cpu_ns

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 100  # entries per feed page: a full page is what the relay marks immutable


# --- nginx ----------------------------------------------------------------------------------


def _nginx_conf(folder: Path, port: int, upstream: int, cert: Path, key: Path) -> str:
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must reach this folder
    backend = f"http://127.0.0.1:{upstream}"
    return f"""{user}worker_processes auto;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder / "client_body"};
    proxy_temp_path {folder / "proxy_temp"};
    proxy_cache_path {folder / "cache"} levels=1:2 keys_zone=payk_feeds:10m max_size=100m
                     inactive=60m use_temp_path=off;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /ws {{
            proxy_pass {backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_buffering off;
        }}
        location /feed/ {{
            proxy_pass {backend};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache payk_feeds;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
        location / {{ return 404; }}
    }}
}}
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _nginx_cpu_ns(master: int) -> int:
    """CPU nanoseconds of nginx's master and all its workers."""
    return sum(cpu_ns(pid) for pid in (master, *_children(master)))


@contextlib.asynccontextmanager
async def _nginx(binary: str, folder: Path, port: int, upstream: int) -> AsyncIterator[int]:
    conf = folder / "nginx.conf"
    conf.write_text(_nginx_conf(folder, port, upstream, folder / "front.crt", folder / "front.key"))
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-p",
        f"{folder}/",
        "-e",
        str(folder / "error.log"),
        "-c",
        str(conf),
        "-g",
        "daemon off;",
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        await relay_bench.wait_port(port, proc, "nginx")
        yield proc.pid
    finally:
        await relay_bench._stop(proc)


# --- relays ---------------------------------------------------------------------------------


def _front_relay(
    folder: Path, port: int, public_port: int
) -> contextlib.AbstractAsyncContextManager[tuple[int, str]]:
    """A relay on plain 127.0.0.1:port whose address pins the front's key and port."""
    return relay_bench._payk(
        folder,
        "--tls-terminated-by",
        str(folder / "front.crt"),
        "--public-port",
        str(public_port),
        listen=f"127.0.0.1:{port}",
    )


def _write_front_certificate(folder: Path) -> None:
    from payk.protocol.primitives import self_signed_certificate

    cert, key = self_signed_certificate(now=datetime.datetime.now(datetime.UTC))
    (folder / "front.crt").write_bytes(cert)
    (folder / "front.key").write_bytes(key)
    (folder / "front.key").chmod(0o600)


# --- measurement 1: relay messages through the front -----------------------------------------


async def _one_load(
    target: str, relay_pid: int, nginx_pid: int | None, pairs: int, count: int
) -> Any:
    relay_before = cpu_ns(relay_pid)
    nginx_before = _nginx_cpu_ns(nginx_pid) if nginx_pid else 0
    load = await relay_bench._load("payk", target, pairs, count)
    received = max(1, load["received"])
    load["relay_cpu_us_per_msg"] = (cpu_ns(relay_pid) - relay_before) / 1000 / received
    if nginx_pid:
        load["nginx_cpu_us_per_msg"] = (_nginx_cpu_ns(nginx_pid) - nginx_before) / 1000 / received
    return load


def _median(runs: list[dict[str, Any]], key: str, figures: dict[str, Any]) -> None:
    values = [r[key] for r in runs]
    figures[key] = statistics.median(values)
    figures[f"{key}_min"], figures[f"{key}_max"] = min(values), max(values)


def _load_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians and spreads over the rounds (adds relay+nginx CPU to each fronted round)."""
    fronted = "nginx_cpu_us_per_msg" in runs[0]
    for r in runs:
        if fronted:
            r["relay_nginx_cpu_us_per_msg"] = r["relay_cpu_us_per_msg"] + r["nginx_cpu_us_per_msg"]
    figures: dict[str, Any] = {"lost": sum(r["lost"] for r in runs)}
    keys = ("msgs_per_s", "relay_cpu_us_per_msg", "nginx_cpu_us_per_msg")
    for key in (*keys, "relay_nginx_cpu_us_per_msg", "latency_p50_ms", "latency_p99_ms"):
        if key in runs[0]:
            _median(runs, key, figures)
    figures["relay_msgs_per_core_s"] = 1e6 / figures["relay_cpu_us_per_msg"]
    if fronted:
        figures["relay_nginx_msgs_per_core_s"] = 1e6 / figures["relay_nginx_cpu_us_per_msg"]
    return figures


def _paired(
    ratios: dict[str, Any],
    name: str,
    top: list[dict[str, Any]],
    bottom: list[dict[str, Any]],
    keys: tuple[str, str],
) -> None:
    """Median and spread of the per-round ratios (the rounds ran back to back)."""
    values = [a[keys[0]] / b[keys[1]] for a, b in zip(top, bottom, strict=True) if b[keys[1]]]
    if values:
        ratios[name] = statistics.median(values)
        ratios[f"{name}_min"], ratios[f"{name}_max"] = min(values), max(values)


async def _tls_front(
    quick: bool, direct: tuple[int, str], front: tuple[int, str], nginx_pid: int
) -> dict[str, Any]:
    pairs, count, repeats = (10, 60, 2) if quick else (50, 200, 5)
    servers = {"direct_tls": (direct, None), "nginx_front": (front, nginx_pid)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for (_, target), _ in servers.values():
        await relay_bench._load("payk", target, pairs, max(count // 10, 1))  # warm-up
    for _ in range(repeats):
        for name, ((pid, target), ngx) in servers.items():
            runs[name].append(await _one_load(target, pid, ngx, pairs, count))
    summaries = {name: _load_summary(measured) for name, measured in runs.items()}
    fronted, straight = runs["nginx_front"], runs["direct_tls"]
    ratios: dict[str, Any] = {}
    # per-core capacity is 1 / CPU per message, so those ratios are inverse CPU ratios
    _paired(ratios, "front_over_direct_msgs_per_s", fronted, straight, ("msgs_per_s",) * 2)
    relay_cpu = "relay_cpu_us_per_msg"
    _paired(ratios, "relay_alone_front_over_direct_per_core", straight, fronted, (relay_cpu,) * 2)
    both = (relay_cpu, "relay_nginx_cpu_us_per_msg")
    _paired(ratios, "relay_nginx_front_over_direct_per_core", straight, fronted, both)
    return {
        "load": f"{pairs} pairs x {count} messages of {relay_bench.SIZE} B, {repeats} rounds",
        "tls_front": summaries,
        "ratios_tls_front": ratios,
    }


# --- measurement 2: channel reads through the cache ------------------------------------------


async def _make_feed(address: str, pages: int) -> str:
    from payk.net.relay import RelayConnection
    from payk.protocol import channel as ch
    from payk.protocol.address import RelayAddress, b64u_encode

    async with await RelayConnection.connect(RelayAddress.parse(address)) as conn:
        creds = await conn.create_feed()
        keys = ch.new_channel()
        for i in range(pages * LIMIT):
            post = ch.seal_post(keys, i, b"m" * relay_bench.SIZE, envelope_id=i.to_bytes(16, "big"))
            await conn.append(creds, post)
    return b64u_encode(creds.feed_id)


async def _readers(address: str, feed: str, readers: int, gets: int, pages: int) -> dict[str, Any]:
    """The reader process's figures; ``--`` before the feed id, which may start with ``-``."""
    return await relay_bench.json_from(
        "bench.front",
        "readers",
        "--readers",
        str(readers),
        "--gets",
        str(gets),
        "--pages",
        str(pages),
        "--",
        address,
        feed,
    )


async def _read_point(
    address: str,
    feed: str,
    relay_pid: int,
    nginx_pid: int | None,
    readers: int,
    gets: int,
    pages: int,
) -> dict[str, Any]:
    relay_before = cpu_ns(relay_pid)
    nginx_before = _nginx_cpu_ns(nginx_pid) if nginx_pid else 0
    done = await _readers(address, feed, readers, gets, pages)
    total = max(1, done["gets"])
    figures: dict[str, Any] = {
        "gets_per_s": done["gets"] / done["seconds"],
        "relay_cpu_us_per_get": (cpu_ns(relay_pid) - relay_before) / 1000 / total,
        "reader_cpu_us_per_get": done["cpu_s"] * 1e6 / total,
        "errors": done["errors"],
    }
    if nginx_pid:
        figures["nginx_cpu_us_per_get"] = (_nginx_cpu_ns(nginx_pid) - nginx_before) / 1000 / total
        figures["hit_ratio"] = done["hits"] / total
    return figures


async def _cached_reads(
    quick: bool, direct: tuple[int, str], front: tuple[int, str], nginx_pid: int
) -> dict[str, Any]:
    levels, gets, pages = ((1, 10, 50), 100, 3) if quick else ((1, 10, 100), 2000, 5)
    direct_feed = await _make_feed(direct[1], pages)
    front_feed = await _make_feed(front[1], pages)
    points = []
    for readers in levels:
        straight = await _read_point(direct[1], direct_feed, direct[0], None, readers, gets, pages)
        cached = await _read_point(front[1], front_feed, front[0], nginx_pid, readers, gets, pages)
        points.append(
            {
                "readers": readers,
                "direct_gets_per_s": straight["gets_per_s"],
                "direct_relay_cpu_us_per_get": straight["relay_cpu_us_per_get"],
                "direct_reader_cpu_us_per_get": straight["reader_cpu_us_per_get"],
                "cached_gets_per_s": cached["gets_per_s"],
                "cached_relay_cpu_us_per_get": cached["relay_cpu_us_per_get"],
                "cached_nginx_cpu_us_per_get": cached["nginx_cpu_us_per_get"],
                "cached_reader_cpu_us_per_get": cached["reader_cpu_us_per_get"],
                "hit_ratio": cached["hit_ratio"],
                "errors": straight["errors"] + cached["errors"],
            }
        )
    return {
        "gets_per_point": gets,
        "page": f"{LIMIT} posts of {relay_bench.SIZE} B, {pages} pages",
        "points": points,
    }


# --- the area --------------------------------------------------------------------------------


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Relay behind nginx vs direct TLS, and cached vs direct channel reads (see the module)."""
    binary, why = await apt.ensure("nginx", "nginx-light")
    if binary is None:
        return {"skipped": why}
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any load
    _write_front_certificate(workdir)
    front_port, relay_port = relay_bench._free_port(), relay_bench._free_port()
    async with contextlib.AsyncExitStack() as stack:
        (workdir / "direct").mkdir()
        direct = await stack.enter_async_context(relay_bench._payk(workdir / "direct"))
        front = await stack.enter_async_context(_front_relay(workdir, relay_port, front_port))
        nginx_pid = await stack.enter_async_context(_nginx(binary, workdir, front_port, relay_port))
        return {
            **await _tls_front(quick, direct, front, nginx_pid),
            "cached_reads": await _cached_reads(quick, direct, front, nginx_pid),
        }


# --- the reader process ------------------------------------------------------------------------


async def _get(address: Any, path: str, tally: dict[str, int]) -> None:
    from payk.net.tls import check_pinned, client_context
    from payk.protocol import mailbox as mb

    reader, writer = await asyncio.open_connection(
        address.connect_host, address.port, ssl=client_context()
    )
    try:
        check_pinned(writer.get_extra_info("ssl_object"), address.fingerprint)
        request = f"GET {path} HTTP/1.1\r\nHost: {address.host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("ascii"))
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        body = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    answer = mb.response_codec().decode(body)
    if head[0].split(" ")[1:2] != ["200"] or not isinstance(answer, mb.FeedEntries):
        raise RuntimeError("not a feed page")
    if len(answer.entries) != LIMIT:
        raise RuntimeError("not a full page")
    status = headers.get("x-cache-status", "").upper()
    tally["hits"] += status == "HIT"
    tally["misses"] += status not in ("", "HIT")


async def _read_all(args: argparse.Namespace) -> dict[str, Any]:
    from payk.errors import PaykError
    from payk.protocol.address import RelayAddress

    address = RelayAddress.parse(args.address)
    tally = {"gets": 0, "hits": 0, "misses": 0, "errors": 0}
    each = max(1, args.gets // args.readers)

    async def reader(number: int) -> None:
        for i in range(each):
            offset = (number + i) % args.pages * LIMIT
            try:
                await _get(address, f"/feed/{args.feed}?offset={offset}&limit={LIMIT}", tally)
                tally["gets"] += 1
            except (
                OSError,
                RuntimeError,
                ValueError,
                KeyError,
                PaykError,
                asyncio.IncompleteReadError,
            ):
                tally["errors"] += 1

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(reader(n) for n in range(args.readers)))
    seconds = time.perf_counter() - started
    return {**tally, "seconds": seconds, "cpu_s": time.process_time() - cpu_started}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.front readers ADDRESS FEED``: N readers GET full feed pages."""
    parser = argparse.ArgumentParser(prog="python -m bench.front")
    sub = parser.add_subparsers(dest="command", required=True)
    readers = sub.add_parser("readers")
    readers.add_argument("address")
    readers.add_argument("feed")
    readers.add_argument("--readers", type=int, default=1)
    readers.add_argument("--gets", type=int, default=100)
    readers.add_argument("--pages", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_read_all(args))
    else:
        result = uvloop.run(_read_all(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
