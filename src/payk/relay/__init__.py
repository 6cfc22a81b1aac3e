"""The relay: anyone can run one; it stores padded ciphertext in anonymous mailboxes and feeds.

Along the data flow: ``app`` (one TLS port: WebSocket at ``/ws``, plain HTTP for ``/feed``,
``/metrics``, ``/health``) -> ``limits`` (per-connection token bucket) -> ``service`` (one
request in, one answer out; sessions, auth over a fresh nonce, pushes) -> ``store`` (SQLite,
PostgreSQL or the memory twin). ``forward`` delivers to other relays, ``tls`` keeps the
pinned identity, ``config`` holds the tunables, ``metrics`` counts without ids. The relay
imports only ``payk.protocol.wire``/``mailbox``/``address``/``primitives`` and ``payk.net``:
it cannot read messages.
"""

from __future__ import annotations

__all__: list[str] = []
