"""The baseline: a bare WebSocket forwarder with no storage and no authentication.

Strategy: ``/recv/<channel>`` connections receive every message that ``/send/<channel>``
connections send; the sender gets ``ok`` back once the message was handed to the receivers'
sockets. This is the least a relay can do, so the payk relay's figures are shown as ratios
against it. With ``--tls`` the same forwarding is served over wss:// with a throwaway
self-signed certificate made at start-up, the same kind (P-256) and the same context settings
(TLS 1.2 or newer) as the relay's, so the difference between the two forwarders is what TLS
costs and the difference between the TLS forwarder and the relay is everything else. Run as
``python -m bench.forwarder [--tls]``; prints the port it listens on.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import signal
import ssl
import sys
import tempfile
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

__all__ = ["main", "tls_context"]

_receivers: dict[str, set[ServerConnection]] = {}


async def _handler(ws: ServerConnection) -> None:
    role, _, channel = ws.request.path.strip("/").partition("/") if ws.request else ("", "", "")
    if role == "recv":
        _receivers.setdefault(channel, set()).add(ws)
        try:
            await ws.wait_closed()
        finally:
            _receivers[channel].discard(ws)
        return
    async for message in ws:
        for receiver in tuple(_receivers.get(channel, ())):
            await receiver.send(message)
        await ws.send(b"ok")


def tls_context() -> ssl.SSLContext:
    """A server context as the relay makes it, presenting a fresh self-signed P-256 key.

    The certificate comes from the recipe the relay's own identity uses; the PEM file exists
    only while the context loads it, since nothing needs to pin this key.
    """
    from payk.protocol.primitives import self_signed_certificate

    cert, key = self_signed_certificate(now=datetime.datetime.now(datetime.UTC))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="payk-forwarder-") as folder:
        pem = Path(folder) / "identity.pem"
        pem.write_bytes(key + cert)
        context.load_cert_chain(pem)
    return context


async def _serve(tls: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    ssl_context = tls_context() if tls else None
    async with serve(
        _handler, "127.0.0.1", 0, ssl=ssl_context, compression=None, max_size=2**20
    ) as server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM; ``--tls`` serves wss:// instead of ws://."""
    parser = argparse.ArgumentParser(prog="python -m bench.forwarder")
    parser.add_argument("--tls", action="store_true", help="serve wss:// (self-signed)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.tls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
