"""``payk relay serve`` and ``payk relay address``: run a relay, print its address.

Strategy: the options map one to one onto ``RelayConfig`` fields (the ``_OPTIONS`` table), so
a TOML file given with ``--config`` and the command line fill the same dataclass; an option
given on the command line wins over the file, and the dataclass holds the defaults. The only
output is the address line (``relay address: payk://...``, or ``{"address": ...}`` with
``--json``) printed once the relay listens. Logging goes to stderr and, by the relay's own
rules, carries no mailbox ids, client addresses or per-message timing. The relay runs on
uvloop where it is installed (every platform but Windows), else on asyncio's own loop.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

from platformdirs import user_data_path
from rich.text import Text

from payk.cli.output import Output
from payk.protocol.address import RelayAddress
from payk.relay.config import DEFAULT_PORT, RelayConfig, build_config, load_toml, parse_listen

__all__ = ["register"]

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RelayConfig)}

# option, RelayConfig field, type, help ("%s" is replaced by the field's default)
_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    ("--db", "db_url", str, "sqlite:///PATH (default: relay.db in --data) or postgresql://..."),
    ("--public-host", "public_host", str, "host to print in the address (default: --listen's)"),
    ("--public-port", "public_port", int, "port to print in the address (default: the bound one)"),
    ("--pow-bits", "pow_bits", int, "proof-of-work bits to create a mailbox (default %s)"),
    ("--mailbox-max-count", "mailbox_max_count", int, "envelopes per mailbox (default %s)"),
    ("--mailbox-max-bytes", "mailbox_max_bytes", int, "bytes per mailbox (default %s)"),
    ("--rate", "rate", float, "requests per second per connection (default %s)"),
    ("--burst", "burst", float, "request burst per connection (default %s)"),
    ("--handshake-timeout", "handshake_timeout", float, "seconds for TLS+HTTP (default %s)"),
    ("--idle-timeout", "idle_timeout", float, "seconds without a request (default %s)"),
    ("--ping-interval", "ping_interval", float, "seconds between keepalives (default %s)"),
    ("--max-connections", "max_connections", int, "connections at once (default %s)"),
    ("--forward-retry-min", "forward_retry_min", float, "first forward retry, s (default %s)"),
    ("--forward-retry-max", "forward_retry_max", float, "longest forward retry, s (default %s)"),
    ("--forward-proxy", "forward_proxy", str, "socks5://HOST:PORT to reach other relays (Tor)"),
    (
        "--metrics-path",
        "metrics_path",
        str,
        "serve Prometheus metrics at this path (default: off; a long random path is best)",
    ),
    (
        "--tls-terminated-by",
        "front_certificate",
        Path,
        "a front proxy (nginx, Caddy) terminates TLS with this certificate (PEM): listen "
        "without TLS on loopback and pin the certificate's key in the address",
    ),
)
_ADDRESS_OPTIONS = ("--public-host", "--public-port", "--tls-terminated-by")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``payk relay serve`` and ``payk relay address`` to the ``payk`` parser."""
    relay = sub.add_parser("relay", help="run a relay for others (anyone can)")
    relay_sub = relay.add_subparsers(dest="relay_command", metavar="COMMAND", required=True)
    serve = relay_sub.add_parser("serve", help="run a relay until SIGTERM or SIGINT")
    _common(serve)
    serve.add_argument("--config", type=Path, help="a TOML file of RelayConfig settings")
    _options(serve, _OPTIONS)
    serve.add_argument(
        "--ttl-days", type=float, default=None, help="keep unacked envelopes this long (default 21)"
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(handler=_serve)
    address = relay_sub.add_parser("address", help="print the address of the relay in --data")
    _common(address)
    _options(address, tuple(o for o in _OPTIONS if o[0] in _ADDRESS_OPTIONS))
    address.set_defaults(handler=_address)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=None, help="relay folder: TLS identity, SQLite database"
    )
    parser.add_argument(
        "--listen", default=None, help=f"HOST:PORT (default 0.0.0.0:{DEFAULT_PORT}; port 0: any)"
    )


def _options(
    parser: argparse.ArgumentParser, options: tuple[tuple[str, str, Any, str], ...]
) -> None:
    for flag, field, kind, text in options:
        help_text = text % _DEFAULTS[field] if "%s" in text else text
        parser.add_argument(flag, dest=field, type=kind, default=None, help=help_text)


def _settings(
    args: argparse.Namespace, options: tuple[tuple[str, str, Any, str], ...]
) -> dict[str, Any]:
    """Field values: the --config file's, then every option given on the command line."""
    values: dict[str, Any] = {}
    if getattr(args, "config", None) is not None:
        values.update(load_toml(args.config))
    for _, field, _, _ in options:
        if getattr(args, field, None) is not None:
            values[field] = getattr(args, field)
    if getattr(args, "ttl_days", None) is not None:
        values["ttl_seconds"] = round(args.ttl_days * 86400)
    if args.listen is not None:
        values["host"], values["port"] = parse_listen(args.listen)
    elif "host" not in values and "port" not in values:
        values["host"], values["port"] = "0.0.0.0", DEFAULT_PORT  # noqa: S104 - a public relay
    if args.data is not None:
        values["data_dir"] = args.data
    values.setdefault("data_dir", user_data_path("payk") / "relay")
    values["data_dir"] = Path(values["data_dir"]).resolve()
    if "ping_interval" in values:
        values.setdefault("ping_timeout", values["ping_interval"])
    return values


def _emit_address(out: Output, address: RelayAddress) -> None:
    out.emit({"address": str(address)}, Text(f"relay address: {address}"))


def _serve(args: argparse.Namespace, out: Output) -> int:
    from payk.relay.app import run_relay  # the relay's dependencies load only here

    config = build_config(_settings(args, _OPTIONS))
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    main = run_relay(config, lambda address: _emit_address(out, address))
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _address(args: argparse.Namespace, out: Output) -> int:
    from payk.relay.tls import front_fingerprint, load_identity

    values = _settings(args, tuple(o for o in _OPTIONS if o[0] in _ADDRESS_OPTIONS))
    config = build_config({**values, "db_url": "memory:"})
    if config.front_certificate is not None:
        fingerprint = front_fingerprint(config.front_certificate)
    else:
        fingerprint = load_identity(config.data_dir).fingerprint
    port = config.public_port or config.port
    _emit_address(
        out, RelayAddress(fingerprint=fingerprint, host=config.advertised_host, port=port)
    )
    return 0
