"""The client side of the relay protocol: one pinned TLS WebSocket connection to one relay.

Strategy: ``RelayConnection.connect`` opens TCP (directly or through a SOCKS5 proxy that
resolves the name itself, as ``.onion`` needs), does TLS without certificate authorities,
checks the relay's key against the fingerprint in its address *before* the WebSocket
handshake sends anything, and reads the relay's ``Challenge``. Requests are pipelined: each
gets a request id and a future that one reader task resolves, except a quiet ack, which is
only written (the relay answers it only to refuse, and an answer nobody waits for is
dropped); pushes, one per ``Push`` frame or several per ``Pushes`` frame, go in order to a
queue that ``deliveries()`` drains. Ownership of a mailbox (or a feed's writer key) is
proved once per connection by signing the challenge nonce; later requests for it need no
signature.

Every failure reaches the caller as a ``PaykError``: ``NetworkError`` when the relay cannot be
reached, does not answer in time or breaks the connection; ``FingerprintMismatchError`` for a
wrong key; ``RelayRefusedError`` (``QuotaError`` for a full mailbox) when the relay answers
with an error code. Malformed frames from the relay end the connection, never the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from payk.errors import (
    LocalProtocolError,
    NetworkError,
    PaykError,
    QuotaError,
    RelayRefusedError,
)
from payk.net.socks import SocksRoute, open_socket, parse_proxy
from payk.net.tls import check_pinned, client_context
from payk.protocol import mailbox as mb
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.primitives import sign, signing_key_generate, signing_public_key
from payk.protocol.wire import MalformedFrame

__all__ = [
    "WS_PATH",
    "Delivery",
    "FeedCreds",
    "MailboxCreds",
    "RelayConnection",
]

WS_PATH = "/ws"
REQUEST_TIMEOUT = 30.0
RATE_LIMIT_RETRIES = 5
_POW_THREAD_BITS = 12
_SEND_MANY_OVERHEAD = 32  # frame header, tag, rid and list header of a SendMany
_SEND_ITEM_OVERHEAD = 16  # msgpack headers of one item, over its send id and body
A = TypeVar("A")


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """An envelope waiting in (or pushed from) a mailbox, with its relay-assigned id."""

    recv_id: bytes
    id: bytes
    envelope: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxCreds:
    """What the owner of a mailbox keeps: both ids and the Ed25519 auth key's seed."""

    recv_id: bytes
    send_id: bytes
    auth_seed: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedCreds:
    """What the writer of a feed keeps: its id and the writer key's seed."""

    feed_id: bytes
    writer_seed: bytes


class _PinnedConnection(ClientConnection):
    """A WebSocket client connection that refuses a relay whose TLS key is not pinned."""

    fingerprint: ClassVar[bytes] = b""

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        check_pinned(self.transport.get_extra_info("ssl_object"), self.fingerprint)
        await super().handshake(*args, **kwargs)


class RelayConnection:
    """A live, authenticated-on-demand connection to one relay."""

    address: RelayAddress

    def __init__(
        self, address: RelayAddress, ws: ClientConnection, challenge: mb.Challenge
    ) -> None:
        """Use ``connect``; this wraps an already open WebSocket and its challenge."""
        self.address = address
        self._ws = ws
        self._challenge = challenge
        self._codec = mb.request_codec()
        self._answers = mb.response_codec()
        self._pending: dict[int, asyncio.Future[mb.Response]] = {}
        self._next_rid = 1
        self._pushes: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._proven: set[bytes] = set()
        self._proven_feeds: set[bytes] = set()
        self._closing = False
        self._failure: PaykError | None = None
        self._send_many_unknown = False  # the relay answered SendMany with UNKNOWN_COMMAND
        self._reader = asyncio.create_task(self._read_loop())

    # --- opening and closing --------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        address: RelayAddress,
        *,
        proxy: str | SocksRoute | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - covers several awaits, not one
    ) -> RelayConnection:
        """Connect to the relay at ``address``, pinning its TLS key.

        Args:
            address: the relay, with the fingerprint of its TLS key.
            proxy: ``socks5://HOST:PORT`` (names are resolved by the proxy), a
                ``SocksRoute`` (an obfs4 bridge's local SOCKS5 port), or None.
            timeout: seconds for TCP, proxy, TLS and WebSocket handshakes together.

        Raises:
            FingerprintMismatchError: the relay presented another key (an attack).
            NetworkError: unreachable, too slow, or not speaking the relay protocol.
            UsageError: the proxy is not a ``socks5://`` URL.
        """
        try:
            async with asyncio.timeout(timeout):
                ws = await _open_websocket(address, proxy, timeout)
                try:
                    challenge = await _read_challenge(ws)
                except BaseException:
                    await ws.close()
                    raise
        except PaykError:
            raise
        except (OSError, TimeoutError, websockets.InvalidHandshake, ConnectionClosed) as exc:
            raise NetworkError(f"could not reach the relay at {address.host}") from exc
        except Exception as exc:  # python-socks raises its own errors
            raise NetworkError(f"could not reach the relay at {address.host}") from exc
        return cls(address, ws, challenge)

    async def close(self) -> None:
        """Close the connection; pending requests fail with ``NetworkError``."""
        self._closing = True
        with contextlib.suppress(Exception):
            await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    async def __aenter__(self) -> RelayConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by either side); a new one must be opened."""
        return self._closing or self._failure is not None

    @property
    def pow_bits(self) -> int:
        """The proof-of-work difficulty the relay asks for new mailboxes."""
        return self._challenge.pow_bits

    # --- mailboxes ------------------------------------------------------------------------

    async def create_mailbox(self) -> MailboxCreds:
        """Create a mailbox owned by a fresh auth key (solving the relay's proof of work)."""
        seed = signing_key_generate()
        public = signing_public_key(seed)
        bits = self._challenge.pow_bits
        nonce = self._challenge.nonce
        if bits > _POW_THREAD_BITS:
            solution = await asyncio.to_thread(mb.solve_pow, nonce, public, bits)
        else:
            solution = mb.solve_pow(nonce, public, bits) if bits else b""
        answer = await self._call(
            lambda rid: mb.CreateMailbox(rid=rid, auth_key=public, pow=solution),
            mb.MailboxCreated,
        )
        self._proven.discard(answer.recv_id)
        return MailboxCreds(recv_id=answer.recv_id, send_id=answer.send_id, auth_seed=seed)

    async def send(self, send_id: bytes, envelope: bytes) -> None:
        """Store ``envelope`` in the mailbox ``send_id``; returns once the relay has it durably.

        Raises:
            LocalProtocolError: the envelope is larger than the relay accepts.
            QuotaError: the mailbox is full.
            RelayRefusedError: code ``UNKNOWN`` for an unknown mailbox, or another refusal.
        """
        self._check_size(envelope)
        await self._call(lambda rid: mb.Send(rid=rid, send_id=send_id, body=envelope), mb.Ok)

    async def send_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[PaykError | None]:
        """Store several envelopes, each ``(send_id, envelope)``, with few frames.

        Items go in ``SendMany`` frames (each under ``MAX_REQUEST``), written one after
        another without waiting; one mailbox's envelopes are stored in item order. A relay
        that does not know ``SendMany`` answers ``UNKNOWN_COMMAND``: that is remembered for
        this connection and the items go as concurrent single sends instead.

        Returns:
            One outcome per item, in order: None once the relay has it durably, else the
            refusal (``QuotaError``, ``RelayRefusedError``; ``LocalProtocolError`` for an
            envelope larger than the relay accepts, which is never sent).

        Raises:
            NetworkError: the connection is closed, broke, or the relay did not answer.
        """
        items = list(items)
        outcomes: list[PaykError | None] = [None] * len(items)
        sendable: list[int] = []
        for index, (_, envelope) in enumerate(items):
            try:
                self._check_size(envelope)
            except LocalProtocolError as exc:
                outcomes[index] = exc
            else:
                sendable.append(index)
        frames = _pack(items, sendable)
        answers = await asyncio.gather(*(self._send_frame(items, frame) for frame in frames))
        for frame, answer in zip(frames, answers, strict=True):
            for index, outcome in zip(frame, answer, strict=True):
                outcomes[index] = outcome
        return outcomes

    async def _send_frame(
        self, items: list[tuple[bytes, bytes]], frame: list[int]
    ) -> list[PaykError | None]:
        """Send the items at these indices in one ``SendMany`` (or one by one to an older
        relay); one outcome each."""
        if not self._send_many_unknown:
            build = functools.partial(
                _send_many_request,
                [mb.SendItem(send_id=s, body=b) for s, b in (items[i] for i in frame)],
            )
            try:
                answer = await self._call(build, mb.Sent)
            except RelayRefusedError as exc:
                if exc.code != mb.ErrorCode.UNKNOWN_COMMAND:
                    return [exc] * len(frame)  # the frame as a whole was refused
                self._send_many_unknown = True
            else:
                if len(answer.codes) != len(frame):
                    raise NetworkError("the relay answered with an unexpected message")
                return [_item_refusal(code) for code in answer.codes]
        results = await asyncio.gather(
            *(self.send(*items[i]) for i in frame), return_exceptions=True
        )
        outcomes: list[PaykError | None] = []
        for result in results:
            if isinstance(result, RelayRefusedError) or result is None:
                outcomes.append(result)
            else:
                raise result  # the connection failed (every send saw it)
        return outcomes

    async def forward(self, target: MailboxAddress, envelope: bytes) -> None:
        """Hand ``envelope`` to this relay for delivery to a mailbox on another relay."""
        self._check_size(envelope)
        relay = str(target.relay)
        await self._call(
            lambda rid: mb.Forward(rid=rid, relay=relay, send_id=target.send_id, body=envelope),
            mb.Ok,
        )

    async def fetch(self, creds: MailboxCreds, *, limit: int = 100) -> list[Delivery]:
        """Up to ``limit`` waiting envelopes, oldest first (they stay until acked)."""
        await self._prove(creds)
        limit = max(1, min(limit, mb.MAX_BATCH))
        answer = await self._call(
            lambda rid: mb.Fetch(rid=rid, recv_id=creds.recv_id, limit=limit), mb.Envelopes
        )
        return [
            Delivery(recv_id=creds.recv_id, id=item.id, envelope=item.body) for item in answer.items
        ]

    async def ack(self, creds: MailboxCreds, ids: Sequence[bytes], *, quiet: bool = False) -> None:
        """Delete these envelopes from the mailbox (unknown ids are ignored).

        With ``quiet`` the acks are written and not waited for: the relay answers only a
        failure, which nobody reads, and the envelopes of a failed ack simply come again
        (as after a lost connection). The first ack for a mailbox on a connection still
        waits for its proof of ownership.

        Raises:
            NetworkError: the connection is closed or broke.
            RelayRefusedError: the relay refused the ack (not for a quiet one) or the proof.
        """
        await self._prove(creds)
        ids = list(ids)
        for start in range(0, len(ids), mb.MAX_BATCH):
            chunk = ids[start : start + mb.MAX_BATCH]
            build = functools.partial(mb.Ack, recv_id=creds.recv_id, ids=chunk, quiet=quiet)
            if quiet:
                await self._write(build)
            else:
                await self._call(build, mb.Ok)

    async def subscribe(self, creds: MailboxCreds) -> None:
        """Have the relay push this mailbox's envelopes; they arrive on ``deliveries()``.

        The subscription asks for ``Pushes`` (several envelopes per frame); an older relay
        ignores that and pushes one per frame, which reads the same.
        """
        await self._prove(creds)
        await self._call(lambda rid: mb.Subscribe(rid=rid, recv_id=creds.recv_id, many=True), mb.Ok)

    async def unsubscribe(self, creds: MailboxCreds) -> None:
        """Stop pushes for this mailbox."""
        await self._call(lambda rid: mb.Unsubscribe(rid=rid, recv_id=creds.recv_id), mb.Ok)

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Pushed envelopes as they arrive; ends after ``close()``.

        Raises:
            NetworkError: the connection broke.
        """
        while True:
            delivery = await self._pushes.get()
            if delivery is None:
                self._pushes.put_nowait(None)  # let other iterators end too
                if self._failure is not None and not self._closing:
                    raise NetworkError(str(self._failure))
                return
            yield delivery

    async def delete_mailbox(self, creds: MailboxCreds) -> None:
        """Delete the mailbox and everything in it."""
        await self._prove(creds)
        await self._call(lambda rid: mb.DeleteMailbox(rid=rid, recv_id=creds.recv_id), mb.Ok)
        self._proven.discard(creds.recv_id)

    # --- feeds ----------------------------------------------------------------------------

    async def create_feed(self) -> FeedCreds:
        """Create a feed writable only with a fresh writer key."""
        seed = signing_key_generate()
        public = signing_public_key(seed)
        answer = await self._call(
            lambda rid: mb.CreateFeed(rid=rid, writer_key=public), mb.FeedCreated
        )
        return FeedCreds(feed_id=answer.feed_id, writer_seed=seed)

    async def append(self, feed: FeedCreds, envelope: bytes) -> int:
        """Append ``envelope`` to the feed durably; returns its offset."""
        self._check_size(envelope)
        if feed.feed_id not in self._proven_feeds:
            message = mb.feed_auth_message(self._challenge.nonce, feed.feed_id)
            sig = sign(feed.writer_seed, message)
            await self._call(lambda rid: mb.FeedAuth(rid=rid, feed_id=feed.feed_id, sig=sig), mb.Ok)
            self._proven_feeds.add(feed.feed_id)
        answer = await self._call(
            lambda rid: mb.Append(rid=rid, feed_id=feed.feed_id, body=envelope), mb.Appended
        )
        return answer.offset

    async def read_feed(
        self, feed_id: bytes, *, offset: int, limit: int = 100
    ) -> list[tuple[int, bytes]]:
        """Up to ``limit`` entries ``(offset, envelope)`` from ``offset`` on."""
        limit = max(1, min(limit, mb.MAX_BATCH))
        answer = await self._call(
            lambda rid: mb.ReadFeed(rid=rid, feed_id=feed_id, offset=offset, limit=limit),
            mb.FeedEntries,
        )
        return [(entry.offset, entry.body) for entry in answer.entries]

    async def ping(self) -> None:
        """One round trip to the relay."""
        await self._call(lambda rid: mb.Ping(rid=rid), mb.Ok)

    # --- requests -------------------------------------------------------------------------

    def _check_size(self, envelope: bytes) -> None:
        limit = min(self._challenge.max_envelope, mb.MAX_ENVELOPE)
        if len(envelope) > limit:
            raise LocalProtocolError(f"an envelope is at most {limit} bytes, not {len(envelope)}")

    async def _prove(self, creds: MailboxCreds) -> None:
        if creds.recv_id in self._proven:
            return
        sig = sign(creds.auth_seed, mb.auth_message(self._challenge.nonce, creds.recv_id))
        await self._call(lambda rid: mb.Auth(rid=rid, recv_id=creds.recv_id, sig=sig), mb.Ok)
        self._proven.add(creds.recv_id)

    async def _call(self, build: Any, expected: type[A]) -> A:
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            answer = await self._round_trip(build)
            if isinstance(answer, expected):
                return answer
            if isinstance(answer, mb.Error):
                if answer.code == mb.ErrorCode.RATE_LIMITED and attempt < RATE_LIMIT_RETRIES:
                    await asyncio.sleep(0.1 * 2**attempt)
                    continue
                raise _refusal(answer)
            break
        raise NetworkError("the relay answered with an unexpected message")

    def _take_rid(self) -> int:
        if self._failure is not None or self._closing:
            raise NetworkError(str(self._failure or "the connection to the relay is closed"))
        rid = self._next_rid
        self._next_rid = rid % (2**32 - 1) + 1
        return rid

    async def _write(self, build: Any) -> None:
        """Send a request whose answer nobody waits for (``_dispatch`` drops it)."""
        rid = self._take_rid()
        try:
            await self._ws.send(self._codec.encode(build(rid)))
        except ConnectionClosed as exc:
            raise NetworkError("the connection to the relay was lost") from exc

    async def _round_trip(self, build: Any) -> mb.Response:
        rid = self._take_rid()
        future: asyncio.Future[mb.Response] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            await self._ws.send(self._codec.encode(build(rid)))
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await future
        except ConnectionClosed as exc:
            raise NetworkError("the connection to the relay was lost") from exc
        except TimeoutError as exc:
            raise NetworkError("the relay did not answer in time") from exc
        finally:
            self._pending.pop(rid, None)

    async def _read_loop(self) -> None:
        failure: PaykError = NetworkError("the connection to the relay was lost")
        try:
            async for frame in self._ws:
                if isinstance(frame, str):
                    raise MalformedFrame("the relay sent a text frame")
                self._dispatch(self._answers.decode(frame))
        except MalformedFrame as exc:
            failure = NetworkError(f"the relay broke the protocol: {exc}")
            await self._ws.close(1002, "protocol error")
        except ConnectionClosed:
            pass
        finally:
            self._failure = failure
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(failure)
            self._pushes.put_nowait(None)

    def _dispatch(self, message: mb.Response) -> None:
        if isinstance(message, mb.Push):
            self._deliver(message.recv_id, message.item)
            return
        if isinstance(message, mb.Pushes):
            for pushed in message.items:
                self._deliver(pushed.recv_id, pushed.item)
            return
        if isinstance(message, mb.Challenge):
            raise MalformedFrame("the relay sent a second challenge")
        future = self._pending.get(message.rid)  # none for a quiet ack's error: dropped
        if future is not None and not future.done():
            future.set_result(message)

    def _deliver(self, recv_id: bytes, item: mb.Item) -> None:
        self._pushes.put_nowait(Delivery(recv_id=recv_id, id=item.id, envelope=item.body))


def _refusal(error: mb.Error) -> RelayRefusedError:
    if error.code == mb.ErrorCode.QUOTA:
        return QuotaError()
    detail = error.detail[:200] or "no reason given"
    return RelayRefusedError(f"the relay refused ({error.code}): {detail}", code=error.code)


def _item_refusal(code: str) -> RelayRefusedError | None:
    """The outcome of one ``SendMany`` item from its ``Sent`` code ("" means stored)."""
    if not code:
        return None
    return _refusal(mb.Error(rid=0, code=code, detail="that envelope was not stored"))


def _send_many_request(items: list[mb.SendItem], rid: int) -> mb.SendMany:
    return mb.SendMany(rid=rid, items=items)


def _pack(items: list[tuple[bytes, bytes]], indices: list[int]) -> list[list[int]]:
    """The indices of ``items`` cut into ``SendMany`` frames, in order: each under
    ``MAX_REQUEST`` (bodies, ids and msgpack headers) and ``MAX_SEND_MANY`` items."""
    frames: list[list[int]] = []
    frame: list[int] = []
    size = _SEND_MANY_OVERHEAD
    for index in indices:
        send_id, envelope = items[index]
        cost = len(send_id) + len(envelope) + _SEND_ITEM_OVERHEAD
        if frame and (len(frame) >= mb.MAX_SEND_MANY or size + cost > mb.MAX_REQUEST):
            frames.append(frame)
            frame, size = [], _SEND_MANY_OVERHEAD
        frame.append(index)
        size += cost
    if frame:
        frames.append(frame)
    return frames


async def _open_websocket(
    address: RelayAddress, proxy: str | SocksRoute | None, seconds: float
) -> ClientConnection:
    pinned = type("_Pinned", (_PinnedConnection,), {"fingerprint": address.fingerprint})
    options: dict[str, Any] = {
        "ssl": client_context(),
        "server_hostname": _sni(address),
        "create_connection": pinned,
        "compression": None,
        "max_size": mb.MAX_RESPONSE,
        "open_timeout": seconds,
        "user_agent_header": None,
        "close_timeout": 2,
        "proxy": None,
    }
    uri = f"wss://{address.host}:{address.port}{WS_PATH}"
    if proxy is None and address.is_onion:  # never let the local resolver see an onion name
        raise NetworkError(f"{address.host} is reachable only through Tor: use --proxy socks5://…")
    if proxy is None:
        return await connect(uri, host=address.connect_host, port=address.port, **options)
    sock = await _socks_socket(address, proxy, seconds)
    options["server_hostname"] = options["server_hostname"] or ""  # an IP: no SNI
    try:
        return await connect(uri, sock=sock, **options)
    except BaseException:
        sock.close()
        raise


def _sni(address: RelayAddress) -> str | None:
    try:
        ipaddress.ip_address(address.connect_host)
    except ValueError:
        return address.connect_host
    return None


async def _socks_socket(address: RelayAddress, proxy: str | SocksRoute, seconds: float) -> Any:
    route = parse_proxy(proxy) if isinstance(proxy, str) else proxy
    return await open_socket(route, address.connect_host, address.port, seconds)


async def _read_challenge(ws: ClientConnection) -> mb.Challenge:
    frame = await ws.recv()
    try:
        if isinstance(frame, str):
            raise MalformedFrame("a text frame")
        message = mb.response_codec().decode(frame)
    except MalformedFrame as exc:
        raise NetworkError("the server does not speak the payk relay protocol") from exc
    if not isinstance(message, mb.Challenge):
        raise NetworkError("the server does not speak the payk relay protocol")
    return message
