"""The relay process: HTTPS and WebSocket on one port, over the service and the store.

Strategy: one ``websockets`` server with TLS. Its ``process_request`` hook answers the plain
HTTP routes (``/health``, ``/metrics``, ``/feed/<id>?offset=N``) and lets only ``/ws`` upgrade,
so the relay looks like an ordinary web application on one port. Each WebSocket connection
runs one reader loop (frames are answered in order, and sends, one or many envelopes to a
frame, are handled while later frames are read; a quiet ``Ack`` that succeeds is not
answered at all) and one push task (envelopes for its subscriptions, several to a ``Pushes``
frame where the client asked for that). Hardening lives at the edges: ``max_size`` refuses
an oversized frame from its header before the body is read; the TLS and HTTP handshakes
share ``handshake_timeout``; a connection without subscriptions that sends no complete frame
for ``idle_timeout`` is closed, and keepalive pings drop silent peers; a token bucket limits
each connection and persistent flooders are disconnected; every frame is handled inside a
guard, so malformed input is answered with an error code and never escapes. Logs hold no
ids, no addresses and no per-message timing.

Lifecycle: ``start`` opens the store and binds (port 0 picks a free one), ``stop`` stops
accepting, closes every connection, stops the background loops and closes the store.
"""

from __future__ import annotations

import asyncio
import functools
import http
import logging
import signal
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from payk.errors import UsageError
from payk.net.relay import RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol import wire
from payk.protocol.address import RelayAddress, b64u_decode
from payk.protocol.wire import MalformedFrame
from payk.relay.config import RelayConfig
from payk.relay.forward import Forwarder, Sender
from payk.relay.limits import RateLimiter, Verdict
from payk.relay.metrics import CONTENT_TYPE, RelayMetrics
from payk.relay.service import RelayService, Session
from payk.relay.store import Limits, RelayStore, UnknownFeed, open_store
from payk.relay.tls import TlsIdentity, front_fingerprint, load_or_create_identity

__all__ = ["WS_PATH", "RelayServer", "pad_frame", "run_relay"]

WS_PATH = "/ws"
_PADDED = (mb.Envelopes, mb.Push, mb.Pushes)
_PIPELINED = (
    mb.Send,
    mb.SendMany,
    mb.Forward,
)  # answered in order, handled while later frames are read
PIPELINE = 64  # answers a connection may have waiting
_FRAME_HEADER = struct.Struct(">BI")  # wire: version, pad length
_log = logging.getLogger(__name__)
_ws_log = logging.getLogger("payk.relay.ws")
_ws_log.setLevel(logging.CRITICAL)  # websockets would log peer details; it gets nothing


class RelayServer:
    """One relay process: the store, the service, the listener and the background loops."""

    def __init__(self, config: RelayConfig, *, store: RelayStore | None = None) -> None:
        self.config = config
        self.identity: TlsIdentity = load_or_create_identity(config.data_dir)
        self.fingerprint = (
            front_fingerprint(config.front_certificate)
            if config.front_certificate is not None
            else self.identity.fingerprint
        )
        limits = Limits(
            mailbox_max_count=config.mailbox_max_count,
            mailbox_max_bytes=config.mailbox_max_bytes,
            ttl_seconds=config.ttl_seconds,
        )
        self.store = store or open_store(config.db_url, limits=limits, data_dir=config.data_dir)
        self.metrics = RelayMetrics()
        self.forwarder = Forwarder(
            self.store,
            functools.partial(_connect_for_forwarding, proxy=config.forward_proxy),
            retry_min=config.forward_retry_min,
            retry_max=config.forward_retry_max,
            on_outcome=lambda outcome: self.metrics.forwards.labels(outcome=outcome).inc(),
        )
        self.service = RelayService(
            self.store,
            pow_bits=config.pow_bits,
            own_fingerprint=self.fingerprint,
            on_forward=self.forwarder.wake,
            on_answer=self.metrics.answered,
            ordered_writes=self.store.ordered_writes,
        )
        self._requests = mb.request_codec()
        self._answers = mb.response_codec()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._open = 0
        self.address: RelayAddress | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> RelayAddress:
        """Open the store, bind, start the loops; returns the address clients pin."""
        await self.store.open()
        config = self.config
        self._server = await serve(
            self._connection,
            config.host,
            config.port,
            ssl=None if config.front_certificate else self.identity.server_context(),
            process_request=self._http,
            server_header=None,
            compression=None,
            open_timeout=config.handshake_timeout,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            close_timeout=2,
            max_size=mb.MAX_REQUEST,
            max_queue=8,
            logger=_ws_log,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.address = RelayAddress(
            fingerprint=self.fingerprint,
            host=config.advertised_host,
            port=config.public_port or port,
        )
        self._tasks = [
            asyncio.create_task(self.forwarder.run()),
            asyncio.create_task(self._expire_loop()),
        ]
        _log.info("relay listening on port %d", port)
        return self.address

    async def stop(self) -> None:
        """Stop accepting, close connections, stop the loops, close the store."""
        if self._server is not None:
            self._server.close(close_connections=True)
            with suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await self.store.close()
        _log.info("relay stopped")

    async def _expire_loop(self) -> None:
        while True:
            try:
                dropped = await self.store.expire(now=int(time.time()))
                if dropped:
                    _log.info("expired %d envelopes", dropped)
            except Exception as exc:
                _log.error("expiry failed: %s", type(exc).__name__)
            await asyncio.sleep(self.config.expire_interval)

    # --- WebSocket ------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        if self._open >= self.config.max_connections:
            await ws.close(1013, "try again later")
            return
        self._open += 1
        self.metrics.connections.inc()
        session = self.service.open_session()
        pusher = asyncio.create_task(self._push_loop(ws, session))
        try:
            await ws.send(self._answers.encode(self.service.challenge(session)))
            await self._serve_frames(ws, session)
        except ConnectionClosed:
            pass
        except Exception as exc:  # the last guard: one connection's failure stays its own
            _log.error("a connection failed: %s", type(exc).__name__)
        finally:
            pusher.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await pusher
            self.service.close_session(session)
            self._open -= 1
            self.metrics.connections.dec()

    async def _serve_frames(self, ws: ServerConnection, session: Session) -> None:
        config = self.config
        limiter = RateLimiter(config.rate, config.burst, config.max_refusals)
        idle = _IdleWatch(ws, session, config.idle_timeout)
        answers = _Answers(ws)
        try:
            while True:
                idle.reading()
                frame = await ws.recv()
                idle.busy = True
                if not await self._serve_frame(ws, session, limiter, frame, answers):
                    return
        finally:
            idle.stop()
            await answers.close()

    async def _serve_frame(
        self,
        ws: ServerConnection,
        session: Session,
        limiter: RateLimiter,
        frame: str | bytes,
        answers: _Answers,
    ) -> bool:
        """Answer one frame (in order with the others); False once the connection is closed."""
        if isinstance(frame, str):
            frame = b""  # text frames are malformed for this protocol
        verdict = limiter.check(time.monotonic())
        if verdict == Verdict.DISCONNECT:
            self.metrics.refused_frames.labels(reason="flood").inc()
            await ws.close(1008, "rate limit exceeded")
            return False
        try:
            request: mb.Request | MalformedFrame = self._requests.decode(frame)
        except MalformedFrame as exc:
            request = exc
        if verdict == Verdict.REFUSE:
            self.metrics.refused_frames.labels(reason="rate").inc()
            refusal = mb.Error(rid=request.rid, code=mb.ErrorCode.RATE_LIMITED, detail="slow down")
            if not isinstance(request, MalformedFrame):
                self.service.ack_unheard(session, request)
            await answers.ready(self._answers.encode(refusal))
            return True
        if isinstance(request, MalformedFrame):
            self.metrics.refused_frames.labels(reason=request.code.lower()).inc()
            error = mb.Error(rid=request.rid, code=request.code, detail=str(request))
            await answers.ready(self._answers.encode(error))
            return True
        if isinstance(request, _PIPELINED):
            await answers.later(self._answer(self.service.start(session, request)))
            return True
        await answers.settled()  # nothing else overtakes a store write still under way
        answer = await self.service.handle(session, request)
        if isinstance(answer, mb.Error):
            self.service.ack_unheard(session, request)
        if not _silent(request, answer):
            await answers.ready(self._encode(answer))
        return True

    async def _answer(self, answer: Awaitable[mb.Response]) -> bytes:
        return self._encode(await answer)

    def _encode(self, answer: Any) -> bytes:
        frame = self._answers.encode(answer)
        if isinstance(answer, _PADDED):
            return pad_frame(frame, mb.padded_size(len(frame)))
        return frame

    async def _push_loop(self, ws: ServerConnection, session: Session) -> None:
        while True:
            await session.wake_event.wait()
            try:
                frames = await self.service.pending_frames(session)
            except Exception as exc:
                _log.error("pushing failed: %s", type(exc).__name__)
                continue
            for frame in frames:
                await ws.send(self._encode(frame))
                self.metrics.pushes.inc(len(frame.items) if isinstance(frame, mb.Pushes) else 1)

    # --- plain HTTP -----------------------------------------------------------------------

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path == WS_PATH:
            return None
        if parts.path == "/health":
            self.metrics.http.labels(route="health").inc()
            return _response(http.HTTPStatus.OK, b'{"status": "ok"}\n', "application/json")
        if self.config.metrics_path is not None and parts.path == self.config.metrics_path:
            self.metrics.http.labels(route="metrics").inc()
            with suppress(Exception):
                self.metrics.set_store_stats(await self.store.stats())
            return _response(http.HTTPStatus.OK, self.metrics.render(), CONTENT_TYPE)
        if parts.path.startswith("/feed/"):
            self.metrics.http.labels(route="feed").inc()
            return await self._feed(parts.path.removeprefix("/feed/"), parts.query)
        self.metrics.http.labels(route="other").inc()
        return _response(http.HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    async def _feed(self, feed_text: str, query: str) -> Response:
        try:
            feed_id = b64u_decode(feed_text)
            params = parse_qs(query, max_num_fields=4)
            offset = int(params.get("offset", ["0"])[0])
            limit = int(params.get("limit", ["100"])[0])
            if not (0 < len(feed_id) <= 64 and 0 <= offset < 2**62 and 0 < limit <= 1000):
                raise ValueError("out of range")
        except ValueError:
            return _response(http.HTTPStatus.BAD_REQUEST, b"bad request\n", "text/plain")
        try:
            entries = await self.service.read_feed(feed_id, offset=offset, limit=limit)
        except UnknownFeed:
            return _response(http.HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        body = self._answers.encode(mb.FeedEntries(rid=0, entries=entries))
        cache = (
            "public, max-age=31536000, immutable" if len(entries) == limit else "public, max-age=5"
        )
        return _response(http.HTTPStatus.OK, body, "application/octet-stream", cache=cache)


class _IdleWatch:
    """Closes a connection without subscriptions that sends no frame for ``timeout`` seconds.

    One timer per connection that moves itself along when it fires (a frame only notes the
    time), instead of a timeout armed around every read. The time counts from the moment the
    relay waits for the next frame; a subscribed connection or one being answered is never
    idle (keepalive pings watch subscribed peers).
    """

    def __init__(self, ws: ServerConnection, session: Session, timeout: float) -> None:
        self._ws = ws
        self._session = session
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._since = self._loop.time()
        self.busy = False
        self._closing: asyncio.Task[None] | None = None
        self._timer = self._loop.call_at(self._since + timeout, self._check)

    def reading(self) -> None:
        """The relay starts waiting for the next frame."""
        self._since = self._loop.time()
        self.busy = False

    def stop(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        if self.busy or self._session.subscribed:
            self._since = now
        if now - self._since >= self._timeout:
            self._closing = self._loop.create_task(self._ws.close(1001, "idle"))
            return
        self._timer = self._loop.call_at(self._since + self._timeout, self._check)


class _Answers:
    """A connection's answers, sent in the order of their requests by one task.

    Sends (one or many envelopes per frame) and forwards are handled while the next frames are
    read (``later``): a client that writes a window of envelopes without waiting gets them into
    one group commit instead of one fsync each. Every other request waits until those are
    done (``settled``) and is then answered in turn (``ready``), so no authentication, fetch
    or ack overtakes a write (a quiet ack waits the same way and then puts nothing in the
    queue, unless it failed). At most ``PIPELINE`` answers wait; past that, reading stops
    until the client catches up.
    """

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws
        self._queue: asyncio.Queue[asyncio.Future[bytes]] = asyncio.Queue(PIPELINE)
        self._running: set[asyncio.Task[bytes]] = set()
        self._sender = asyncio.create_task(self._send())

    async def later(self, answer: Coroutine[Any, Any, bytes]) -> None:
        task = asyncio.create_task(answer)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        await self._queue.put(task)

    async def ready(self, frame: bytes) -> None:
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        done.set_result(frame)
        await self._queue.put(done)

    async def settled(self) -> None:
        if self._running:
            await asyncio.wait(tuple(self._running))

    async def _send(self) -> None:
        broken = False  # once the peer is gone, answers are only drained, so nobody waits
        while True:
            answer = await self._queue.get()
            try:
                frame = await answer
                if not broken:
                    await self._ws.send(frame)
            except ConnectionClosed:
                broken = True
            except Exception as exc:  # that request goes unanswered; the others still are
                _log.error("answering failed: %s", type(exc).__name__)

    async def close(self) -> None:
        for task in (*self._running, self._sender):
            task.cancel()
        await asyncio.gather(*self._running, self._sender, return_exceptions=True)


def _silent(request: mb.Request, answer: mb.Response) -> bool:
    """Whether ``answer`` goes unsent: the ``Ok`` to a quiet ``Ack`` (its errors still go)."""
    return isinstance(request, mb.Ack) and request.quiet and isinstance(answer, mb.Ok)


def pad_frame(frame: bytes, size: int) -> bytes:
    """An unpadded frame padded with zeros to ``size`` bytes, without encoding it again.

    The same bytes as ``Codec.encode(message, pad_to=size)``: the padding sits between the
    header and the message, and its length is in the header.
    """
    pad = size - len(frame)
    if pad <= 0:
        return frame
    return _FRAME_HEADER.pack(wire.VERSION, pad) + bytes(pad) + frame[wire.HEADER_LEN :]


def _response(
    status: http.HTTPStatus, body: bytes, content_type: str, *, cache: str = "no-store"
) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


async def run_relay(config: RelayConfig, on_ready: Callable[[RelayAddress], None]) -> int:
    """Run a relay until SIGTERM or SIGINT; returns the exit code (0 after a clean stop)."""
    server = RelayServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_exception_handler)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            address = await server.start()
        except OSError as exc:
            where = f"{config.host}:{config.port}"
            raise UsageError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
        on_ready(address)
        await stop.wait()
    finally:
        with suppress(Exception):
            await server.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


async def _connect_for_forwarding(address: RelayAddress, *, proxy: str | None) -> Sender:
    return await RelayConnection.connect(address, proxy=proxy, timeout=10.0)


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Log unexpected loop errors by type only: their context may name a peer."""
    exc = context.get("exception")
    _log.error("unexpected error in the event loop: %s", type(exc).__name__ if exc else "none")
