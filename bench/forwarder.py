"""The baseline: a bare WebSocket forwarder with no TLS, no storage and no authentication.

Strategy: ``/recv/<channel>`` connections receive every message that ``/send/<channel>``
connections send; the sender gets ``ok`` back once the message was handed to the receivers'
sockets. This is the least a relay can do, so the payk relay's figures are shown as ratios
against it. Run as ``python -m bench.forwarder``; prints the port it listens on.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from websockets.asyncio.server import ServerConnection, serve

__all__ = ["main"]

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


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with serve(_handler, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
