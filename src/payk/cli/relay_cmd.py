"""``payk relay serve`` and ``payk relay address``: run a relay, print its address.

Strategy: parse options into a ``RelayConfig`` and hand it to ``payk.relay.app``; the only
output is the address line (``relay address: payk://...``, or ``{"address": ...}`` with
``--json``) printed once the relay listens. Logging goes to stderr and, by the relay's own
rules, carries no mailbox ids, client addresses or per-message timing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from platformdirs import user_data_path
from rich.text import Text

from payk.cli.output import Output
from payk.protocol.address import RelayAddress
from payk.relay.config import DEFAULT_PORT, RelayConfig, default_db_url, parse_listen

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``payk relay serve`` and ``payk relay address`` to the ``payk`` parser."""
    relay = sub.add_parser("relay", help="run a relay for others (anyone can)")
    relay_sub = relay.add_subparsers(dest="relay_command", metavar="COMMAND", required=True)
    serve = relay_sub.add_parser("serve", help="run a relay until SIGTERM or SIGINT")
    _common(serve)
    serve.add_argument(
        "--db", help="sqlite:///PATH (default: relay.db in --data) or postgresql://..."
    )
    serve.add_argument("--public-host", help="host to print in the address (default: --listen's)")
    serve.add_argument("--pow-bits", type=int, default=0, help="proof of work for new mailboxes")
    serve.add_argument("--ttl-days", type=float, default=21.0, help="keep envelopes this long")
    serve.add_argument(
        "--mailbox-max-count", type=int, default=10_000, help="envelopes per mailbox"
    )
    serve.add_argument(
        "--mailbox-max-bytes", type=int, default=256 * 1024 * 1024, help="bytes per mailbox"
    )
    serve.add_argument(
        "--rate", type=float, default=100.0, help="requests per second per connection"
    )
    serve.add_argument("--burst", type=float, default=200.0, help="request burst per connection")
    serve.add_argument(
        "--handshake-timeout", type=float, default=10.0, help="seconds for TLS and HTTP handshakes"
    )
    serve.add_argument(
        "--idle-timeout", type=float, default=300.0, help="seconds a connection may send nothing"
    )
    serve.add_argument(
        "--ping-interval", type=float, default=20.0, help="seconds between keepalive pings"
    )
    serve.add_argument(
        "--max-connections", type=int, default=10_000, help="connections served at once"
    )
    serve.add_argument(
        "--forward-retry-min", type=float, default=5.0, help="first forwarding retry (seconds)"
    )
    serve.add_argument(
        "--forward-retry-max", type=float, default=3600.0, help="longest forwarding retry (seconds)"
    )
    serve.add_argument(
        "--forward-proxy", help="socks5://HOST:PORT to reach other relays through (e.g. Tor)"
    )
    _front(serve)
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(handler=_serve)
    address = relay_sub.add_parser("address", help="print the address of the relay in --data")
    _common(address)
    address.add_argument("--public-host", help="host to print in the address")
    _front(address)
    address.set_defaults(handler=_address)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=None, help="relay folder: TLS identity, SQLite database"
    )
    parser.add_argument(
        "--listen",
        default=f"0.0.0.0:{DEFAULT_PORT}",
        help=f"HOST:PORT (default 0.0.0.0:{DEFAULT_PORT})",
    )


def _front(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--public-port", type=int, help="port to print in the address")
    parser.add_argument(
        "--tls-terminated-by",
        type=Path,
        metavar="CERT",
        help="a front proxy (nginx, Caddy) terminates TLS with this certificate: listen "
        "without TLS on loopback and pin CERT's key in the address",
    )


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data) if args.data is not None else user_data_path("payk") / "relay"


def _config(args: argparse.Namespace) -> RelayConfig:
    host, port = parse_listen(args.listen)
    data_dir = _data_dir(args).resolve()
    return RelayConfig(
        data_dir=data_dir,
        db_url=args.db or default_db_url(data_dir),
        host=host,
        port=port,
        public_host=args.public_host,
        pow_bits=args.pow_bits,
        ttl_seconds=int(args.ttl_days * 86400),
        mailbox_max_count=args.mailbox_max_count,
        mailbox_max_bytes=args.mailbox_max_bytes,
        rate=args.rate,
        burst=args.burst,
        handshake_timeout=args.handshake_timeout,
        idle_timeout=args.idle_timeout,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_interval,
        max_connections=args.max_connections,
        forward_retry_min=args.forward_retry_min,
        forward_retry_max=args.forward_retry_max,
        forward_proxy=args.forward_proxy,
        public_port=args.public_port,
        front_certificate=args.tls_terminated_by,
    )


def _emit_address(out: Output, address: RelayAddress) -> None:
    out.emit({"address": str(address)}, Text(f"relay address: {address}"))


def _serve(args: argparse.Namespace, out: Output) -> int:
    from payk.relay.app import run_relay  # the relay's dependencies load only here

    config = _config(args)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    return asyncio.run(run_relay(config, lambda address: _emit_address(out, address)))


def _address(args: argparse.Namespace, out: Output) -> int:
    from payk.relay.tls import front_fingerprint, load_identity

    host, port = parse_listen(args.listen)
    config = RelayConfig(
        data_dir=_data_dir(args),
        db_url="memory:",
        host=host,
        port=port,
        public_host=args.public_host,
    )
    if args.tls_terminated_by is not None:
        fingerprint = front_fingerprint(args.tls_terminated_by)
    else:
        fingerprint = load_identity(config.data_dir).fingerprint
    address = RelayAddress(
        fingerprint=fingerprint, host=config.advertised_host, port=args.public_port or port
    )
    _emit_address(out, address)
    return 0
