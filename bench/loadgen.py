"""One load generator for every relay under test, run in its own process.

Strategy: N sender/receiver pairs, one connection each; every sender sends COUNT messages of
SIZE bytes one after another, each awaiting the server's acceptance (payk: durable; MQTT:
PUBACK at QoS 1; forwarder: ``ok``); every receiver records the latency from the send to its
arrival (both ends live in this process, so one monotonic clock serves both). A payk receiver
acks in the background, all that arrived meanwhile in one ack, as ``payk listen`` does, and
unanswered (``quiet=True``) where ``RelayConnection.ack`` offers that, again as ``payk
listen`` does; paho answers each QoS 1 delivery with a PUBACK. Every kind runs on uvloop
where it is installed, so the generator is not what limits the fastest server. Throughput is
messages received over the time from the first send to the last arrival (or the drain
timeout); messages never received are counted as lost. Prints one JSON object.

Usage: ``python -m bench.loadgen KIND TARGET --pairs N --count COUNT --size SIZE`` with KIND
``payk`` (TARGET a relay address), ``forwarder`` (a port), ``forwarder_tls`` (the port of a
``bench.forwarder --tls``, reached over wss:// without checking its certificate, as a payk
client checks none but pins a key instead) or ``mqtt`` (a port). COUNT 0 only opens and
closes the connections: what a server spends beside the messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import inspect
import json
import statistics
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

try:  # the same event loop for every kind, so the generator is not what is measured
    import uvloop
except ImportError:  # pragma: no cover - not on this platform
    uvloop = None  # type: ignore[assignment]

__all__ = ["main"]

DRAIN_TIMEOUT = 30.0
_STAMP = struct.Struct(">dI")


@dataclass
class Tally:
    """What the receivers saw, shared by all pairs."""

    expected: int
    latencies: list[float] = field(default_factory=list)
    seen: set[tuple[int, int]] = field(default_factory=set)
    last: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)

    def record(self, message: bytes | bytearray, pair: int) -> None:
        now = time.perf_counter()
        sent, seq = _STAMP.unpack_from(message)
        with self.lock:
            if (pair, seq) not in self.seen:
                self.seen.add((pair, seq))
                self.latencies.append(now - sent)
                self.last = now
                if len(self.seen) == self.expected:
                    self.loop.call_soon_threadsafe(self.complete.set)


def _message(seq: int, size: int) -> bytes:
    return _STAMP.pack(time.perf_counter(), seq).ljust(size, b"\x00")


def quiet_acks() -> bool:
    """Whether ``RelayConnection.ack`` takes ``quiet`` (acks the relay does not answer)."""
    from payk.net.relay import RelayConnection

    return "quiet" in inspect.signature(RelayConnection.ack).parameters


async def _payk_pair(target: str, index: int, count: int, size: int, tally: Tally) -> Any:
    from payk.net.relay import RelayConnection
    from payk.protocol.address import RelayAddress

    address = RelayAddress.parse(target)
    receiver = await RelayConnection.connect(address, timeout=60)
    sender = await RelayConnection.connect(address, timeout=60)
    box = await receiver.create_mailbox()
    await receiver.subscribe(box)

    unacked: list[bytes] = []
    waiting = asyncio.Event()
    ack_options: dict[str, Any] = {"quiet": True} if quiet_acks() else {}

    async def receive() -> None:
        async for delivery in receiver.deliveries():
            tally.record(delivery.envelope, index)
            unacked.append(delivery.id)
            waiting.set()

    async def ack() -> None:  # as payk listen does: in the background, what piled up at once
        while True:
            await waiting.wait()
            waiting.clear()
            ids = unacked[:]
            del unacked[:]
            await receiver.ack(box, ids, **ack_options)

    receiving = asyncio.gather(receive(), ack())

    async def send() -> None:
        for seq in range(count):
            await sender.send(box.send_id, _message(seq, size))

    async def close() -> None:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # retrieved, so never logged
            await receiving
        await sender.close()
        await receiver.close()

    return send, close


async def _forwarder_pair(
    target: str, index: int, count: int, size: int, tally: Tally, *, tls: bool = False
) -> Any:
    from websockets.asyncio.client import connect

    base = f"{'wss' if tls else 'ws'}://127.0.0.1:{target}"
    options: dict[str, Any] = {"compression": None, "open_timeout": 60}
    if tls:  # the payk client's own context: TLS 1.2+, no CA and no host name checked
        from payk.net.tls import client_context

        options["ssl"] = client_context()
    receiver = await connect(f"{base}/recv/{index}", **options)
    sender = await connect(f"{base}/send/{index}", **options)

    async def receive() -> None:
        async for message in receiver:
            tally.record(message if isinstance(message, bytes) else message.encode(), index)

    receiving = asyncio.create_task(receive())

    async def send() -> None:
        for seq in range(count):
            await sender.send(_message(seq, size))
            await sender.recv()

    async def close() -> None:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # retrieved, so never logged
            await receiving
        await sender.close()
        await receiver.close()

    return send, close


async def _mqtt_pair(target: str, index: int, count: int, size: int, tally: Tally) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    topic = f"bench/{index}"
    subscribed = threading.Event()
    receiver = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"r{index}")
    receiver.on_message = lambda client, userdata, msg: tally.record(msg.payload, index)
    receiver.on_subscribe = lambda *args: subscribed.set()
    receiver.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
    receiver.connect("127.0.0.1", int(target))
    receiver.loop_start()
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"s{index}")
    sender.connect("127.0.0.1", int(target))
    sender.loop_start()
    await asyncio.to_thread(subscribed.wait, 60)

    def send_all() -> None:
        for seq in range(count):
            sender.publish(topic, _message(seq, size), qos=1).wait_for_publish(60)

    async def send() -> None:
        await asyncio.to_thread(send_all)

    async def close() -> None:
        for client in (sender, receiver):
            client.disconnect()
            client.loop_stop()

    return send, close


PAIRS: dict[str, Any] = {
    "payk": _payk_pair,
    "forwarder": _forwarder_pair,
    "forwarder_tls": functools.partial(_forwarder_pair, tls=True),
    "mqtt": _mqtt_pair,
}


async def _run(kind: str, target: str, pairs: int, count: int, size: int) -> dict[str, Any]:
    tally = Tally(expected=pairs * count)
    made = [await PAIRS[kind](target, i, count, size, tally) for i in range(pairs)]
    start = time.perf_counter()
    results = await asyncio.gather(*(send() for send, _ in made), return_exceptions=True)
    send_errors = sum(isinstance(r, BaseException) for r in results)
    if tally.expected:  # COUNT 0 only opens and closes the connections
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.complete.wait(), DRAIN_TIMEOUT)
    for _, close in made:
        await close()
    received = len(tally.seen)
    elapsed = max((tally.last or time.perf_counter()) - start, 1e-9)
    latencies = sorted(tally.latencies) or [0.0]
    result: dict[str, Any] = {
        "pairs": pairs,
        "messages": tally.expected,
        "received": received,
        "lost": tally.expected - received,
        "send_errors": send_errors,
        "msgs_per_s": received / elapsed,
        "latency_p50_ms": statistics.median(latencies) * 1000,
        "latency_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }
    if kind == "payk":  # which ack the figures were made with, as it changes the frame count
        result["quiet_acks"] = quiet_acks()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("kind", choices=sorted(PAIRS))
    parser.add_argument("target")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    run = _run(args.kind, args.target, args.pairs, args.count, args.size)
    result = uvloop.run(run) if uvloop is not None else asyncio.run(run)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
