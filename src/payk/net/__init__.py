"""Moving opaque bytes: the relay connection (pinned TLS WebSocket, optional SOCKS5) and TLS.

``relay.RelayConnection`` is the one way the client reaches a relay; ``tls`` holds the
pinning. Nothing here decrypts: envelopes are opaque bytes.
"""

from __future__ import annotations

__all__: list[str] = []
