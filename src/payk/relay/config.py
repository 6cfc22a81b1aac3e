"""The relay's configuration: one frozen, documented dataclass built by the command line.

Strategy: every tunable of ``payk relay serve`` lives here with a safe default, so the service,
the server and the tests read one object. A TOML file (``--config``) may set any field by its
name, under a ``[relay]`` table or at the top level; options given on the command line win.
``build_config`` checks names and types, so a typo in a file is an error, not a silent
default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payk.errors import UsageError

__all__ = [
    "DEFAULT_PORT",
    "RelayConfig",
    "build_config",
    "default_db_url",
    "load_toml",
    "parse_listen",
]

DEFAULT_PORT = 8443
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayConfig:
    """Everything a relay process needs to run.

    Attributes:
        data_dir: holds the TLS identity (and the SQLite database by default).
        db_url: ``sqlite:///ABS/PATH``, ``postgresql://...`` or ``memory:``.
        host, port: where to listen (port 0 picks a free port).
        public_host: the host printed in the relay address (default: ``host``).
        pow_bits: proof-of-work difficulty for creating a mailbox (0: none).
        ttl_seconds: how long an unacknowledged envelope is kept.
        mailbox_max_count, mailbox_max_bytes: the per-mailbox quota.
        rate, burst: per-connection token bucket (requests per second, bucket size).
        max_refusals: consecutive rate-limited requests after which a connection is closed.
        handshake_timeout: seconds for the TLS and HTTP/WebSocket handshakes (slowloris).
        idle_timeout: seconds without a complete request before a connection without
            subscriptions is closed (half frames then silence).
        ping_interval, ping_timeout: WebSocket keepalive; a silent peer is dropped.
        max_connections: connections served at once; more are refused.
        forward_retry_min, forward_retry_max: backoff bounds (seconds) for forwarding.
        expire_interval: seconds between purges of expired envelopes.
        forward_proxy: ``socks5://HOST:PORT`` to reach other relays through (e.g. Tor).
        public_port: the port printed in the relay address (default: the bound port).
        metrics_path: serve Prometheus metrics at this path (off by default: an answer full
            of payk_relay_* names tells any prober what this server is; choose a long random
            path, or restrict it in a front proxy).
        front_certificate: a TLS-terminating front proxy's certificate (PEM). When set, the
            relay speaks plain HTTP/WebSocket on a loopback address and its address pins
            this certificate's key instead of the relay's own identity.
    """

    data_dir: Path
    db_url: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_host: str | None = None
    pow_bits: int = 0
    ttl_seconds: int = 21 * 86400
    mailbox_max_count: int = 10_000
    mailbox_max_bytes: int = 256 * 1024 * 1024
    rate: float = 100.0
    burst: float = 200.0
    max_refusals: int = 50
    handshake_timeout: float = 10.0
    idle_timeout: float = 300.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    max_connections: int = 10_000
    forward_retry_min: float = 5.0
    forward_retry_max: float = 3600.0
    expire_interval: float = 60.0
    forward_proxy: str | None = None
    public_port: int | None = None
    front_certificate: Path | None = None
    metrics_path: str | None = None

    def __post_init__(self) -> None:
        if self.metrics_path is not None and not self.metrics_path.startswith("/"):
            raise UsageError("--metrics-path must start with /")
        if self.front_certificate is not None and self.host not in _LOOPBACK:
            raise UsageError("without TLS the relay listens only on 127.0.0.1 or ::1")

    @property
    def advertised_host(self) -> str:
        """The host to put in the relay address."""
        if self.public_host:
            return self.public_host
        if self.host in ("", "0.0.0.0"):  # noqa: S104 - naming the wildcard, not binding it
            return "127.0.0.1"
        if self.host == "::":
            return "[::1]"
        return f"[{self.host}]" if ":" in self.host else self.host


def default_db_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data folder."""
    return f"sqlite:///{(data_dir / 'relay.db').resolve()}"


def parse_listen(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (IPv6 hosts in brackets).

    Raises:
        UsageError: not HOST:PORT with a port from 0 to 65535.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"--listen needs HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)  # noqa: S104 - an explicit ":PORT" means all


_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "Path": (str, Path),
}


def load_toml(path: Path) -> dict[str, Any]:
    """The relay settings in a TOML file (its ``[relay]`` table, else its top level).

    Raises:
        UsageError: the file cannot be read or is not TOML.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the relay configuration {path}: {exc}") from exc
    table = document.get("relay", document)
    if not isinstance(table, dict):
        raise UsageError(f"[relay] in {path} must be a table")
    return table


def build_config(values: Mapping[str, Any]) -> RelayConfig:
    """A ``RelayConfig`` from field names and values; ``data_dir`` is required.

    Raises:
        UsageError: an unknown field, a value of the wrong type, or no ``data_dir``.
    """
    fields = {field.name: str(field.type) for field in dataclasses.fields(RelayConfig)}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            raise UsageError(f"unknown relay setting {name!r}")
        checked[name] = _checked(name, fields[name], value)
    if "data_dir" not in checked:
        raise UsageError("the relay needs a data folder")
    checked.setdefault("db_url", default_db_url(checked["data_dir"]))
    return RelayConfig(**checked)


def _checked(name: str, annotation: str, value: Any) -> Any:
    kind, _, optional = annotation.partition(" | ")
    if value is None and optional == "None":
        return None
    if isinstance(value, bool) or not isinstance(value, _KINDS[kind]):
        raise UsageError(f"the relay setting {name!r} must be a {kind}")
    return Path(str(value)) if kind == "Path" else value
