"""The relay's Prometheus metrics: counts only, never a mailbox id or a client address.

Strategy: one ``CollectorRegistry`` per relay (so tests can run several in one process);
labels are drawn from small fixed sets (command names, error codes), and store totals are
refreshed from ``RelayStore.stats`` when ``/metrics`` is read.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["CONTENT_TYPE", "RelayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RelayMetrics:
    """Counters and gauges of one relay process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "payk_relay_connections", "WebSocket connections open now", registry=self.registry
        )
        self.requests = Counter(
            "payk_relay_requests",
            "Requests answered, by command and answer code",
            ["command", "code"],
            registry=self.registry,
        )
        self.refused_frames = Counter(
            "payk_relay_refused_frames",
            "Frames refused before decoding, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.pushes = Counter("payk_relay_pushes", "Envelopes pushed", registry=self.registry)
        self.forwards = Counter(
            "payk_relay_forwards",
            "Forwarding attempts, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.http = Counter(
            "payk_relay_http_requests",
            "Plain HTTP requests, by route",
            ["route"],
            registry=self.registry,
        )
        self._answered: dict[tuple[str, str], Any] = {}
        self.stored = Gauge(
            "payk_relay_store", "Totals in the store", ["kind"], registry=self.registry
        )

    def answered(self, command: str, code: str) -> None:
        """Count one answer (the labelled child is looked up once per pair, then reused)."""
        child = self._answered.get((command, code))
        if child is None:
            child = self._answered[command, code] = self.requests.labels(command=command, code=code)
        child.inc()

    def set_store_stats(self, stats: dict[str, int]) -> None:
        for kind, value in stats.items():
            self.stored.labels(kind=kind).set(value)

    def render(self) -> bytes:
        """The exposition text for ``/metrics``."""
        return generate_latest(self.registry)
