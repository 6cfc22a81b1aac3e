"""The local network: finding payk peers by mDNS and moving frames between two of them.

Strategy: a serving profile listens on TCP and announces ``_payk._tcp.local.`` under a random
instance name that changes every run (no name, no key, nothing that identifies the person).
Peers talk in frames: a 4-byte big-endian length, then one ``payk.protocol.wire`` frame
carrying a message below. Lengths are checked before anything is read into memory, and a
malformed frame ends that one connection (``RemoteProtocolError``), never the process.

The messages, in the order both sides send them (each side sends and reads concurrently, so
large batches cannot deadlock on full socket buffers):

1. ``LanHello(nonce)``: 32 fresh random bytes.
2. ``LanWant(tags)``: for each mailbox we read, ``SHA-256("payk/v1/lan/want" | peer's nonce |
   send id)[:16]``, padded with random tags to a multiple of 32 and shuffled. A peer learns
   nothing from tags unless it already knows one of our send ids (then it learns that we
   read that mailbox, which it could test at the relay anyway); tags differ every session.
3. ``LanItems(for_you, to_carry)``: sealed envelopes whose tags the peer asked for, and (only
   when the user allowed carrying) envelopes for other mailboxes, with their relay and send
   id, for the peer to carry onward.

What this module does not decide: which envelopes to offer or how to store what arrives
(``payk.client.lan``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Final, TypeVar

import msgspec

from payk.errors import NetworkError, RemoteProtocolError
from payk.protocol import primitives
from payk.protocol.bundle import BundleItem
from payk.protocol.wire import Codec, MalformedFrame, Message

__all__ = [
    "SERVICE",
    "TAG_LEN",
    "LanChannel",
    "LanHello",
    "LanItems",
    "LanWant",
    "announce",
    "browse",
    "local_addresses",
    "new_nonce",
    "pad_tags",
    "want_tag",
]

SERVICE: Final = "_payk._tcp.local."
TAG_LEN: Final = 16
NONCE_LEN: Final = 32
TAG_BLOCK: Final = 32
MAX_FRAME: Final = 256 * 1024 * 1024
MAX_TAGS: Final = 65536
_LENGTH = struct.Struct(">I")
_WANT_LABEL: Final = b"payk/v1/lan/want"
M = TypeVar("M")

Nonce = Annotated[bytes, msgspec.Meta(min_length=NONCE_LEN, max_length=NONCE_LEN)]
Tag = Annotated[bytes, msgspec.Meta(min_length=TAG_LEN, max_length=TAG_LEN)]


class LanHello(Message, frozen=True, tag="lh"):
    """A session's fresh nonce."""

    nonce: Nonce


class LanWant(Message, frozen=True, tag="lw"):
    """The mailboxes this side reads, as tags bound to the peer's nonce."""

    tags: Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)]


class LanItems(Message, frozen=True, tag="li"):
    """Envelopes for the peer's mailboxes, and envelopes for the peer to carry."""

    for_you: list[BundleItem]
    to_carry: list[BundleItem]


_codec: Codec[LanHello | LanWant | LanItems] = Codec(
    LanHello | LanWant | LanItems, max_size=MAX_FRAME
)


def want_tag(nonce: bytes, send_id: bytes) -> bytes:
    """The tag that asks for the mailbox ``send_id`` in a session with this ``nonce``."""
    return primitives.sha256(_WANT_LABEL + nonce + send_id)[:TAG_LEN]


def pad_tags(tags: Sequence[bytes]) -> list[bytes]:
    """``tags`` plus random ones up to a multiple of 32, in random order."""
    padded = list(tags)
    while len(padded) % TAG_BLOCK or not padded:
        padded.append(primitives.random_bytes(TAG_LEN))
    order = [primitives.random_bytes(8) for _ in padded]
    return [tag for _, tag in sorted(zip(order, padded, strict=True))]


def new_nonce() -> bytes:
    """A fresh session nonce."""
    return primitives.random_bytes(NONCE_LEN)


class LanChannel:
    """Length-prefixed payk frames over one TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int, *, timeout: float = 10.0) -> LanChannel:  # noqa: ASYNC109
        """Connect to a peer.

        Raises:
            NetworkError: the peer cannot be reached.
        """
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            raise NetworkError(f"cannot reach the peer at {host}:{port}") from exc
        return cls(reader, writer)

    async def send(self, message: Message) -> None:
        """Write one message."""
        frame = _codec.encode(message)
        self._writer.write(_LENGTH.pack(len(frame)) + frame)
        await self._writer.drain()

    async def receive(self, kind: type[M]) -> M:
        """Read one message of type ``kind``.

        Raises:
            RemoteProtocolError: a malformed or unexpected frame.
            NetworkError: the connection ended.
        """
        try:
            (length,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
            if length > MAX_FRAME:
                raise MalformedFrame("the peer announced an oversized frame")
            message = _codec.decode(await self._reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise NetworkError("the peer closed the connection") from exc
        if not isinstance(message, kind):
            raise RemoteProtocolError("the peer sent an unexpected message")
        return message

    async def trade(self, message: Message, kind: type[M]) -> M:
        """Send ``message`` while reading the peer's message of type ``kind``."""
        _, answer = await asyncio.gather(self.send(message), self.receive(kind))
        return answer

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()


def _zeroconf(interfaces: Sequence[str] | None) -> Any:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncZeroconf

    if interfaces:
        return AsyncZeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
    return AsyncZeroconf(ip_version=IPVersion.V4Only)


@contextlib.asynccontextmanager
async def announce(
    addresses: Sequence[str], port: int, *, interfaces: Sequence[str] | None = None
) -> AsyncIterator[str]:
    """Announce a payk peer at ``addresses``:``port`` for as long as the context lasts."""
    from zeroconf.asyncio import AsyncServiceInfo

    name = primitives.random_bytes(8).hex()
    packed = [ipaddress.ip_address(a).packed for a in addresses]
    info = AsyncServiceInfo(
        SERVICE, f"{name}.{SERVICE}", addresses=packed, port=port, server=f"{name}.local."
    )
    zc = _zeroconf(interfaces)
    try:
        await zc.async_register_service(info)
        yield name
    finally:
        with contextlib.suppress(Exception):
            await zc.async_unregister_service(info)
        await zc.async_close()


async def browse(
    seconds: float, *, interfaces: Sequence[str] | None = None, enough: int = 0
) -> list[tuple[str, int]]:
    """Peers announced on the local network within ``seconds`` (stop early at ``enough``)."""
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo

    names: list[str] = []
    found = asyncio.Event()

    def on_change(**kwargs: Any) -> None:
        name = kwargs.get("name")
        if isinstance(name, str) and name not in names:
            names.append(name)
            if enough and len(names) >= enough:
                found.set()

    zc = _zeroconf(interfaces)
    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE, handlers=[on_change])
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await found.wait()
        peers: list[tuple[str, int]] = []
        for name in names:
            info = AsyncServiceInfo(SERVICE, name)
            if await info.async_request(zc.zeroconf, 3000) and info.port:
                peers += [(address, info.port) for address in info.parsed_addresses()[:1]]
        return peers
    finally:
        await browser.async_cancel()
        await zc.async_close()


def local_addresses(host: str) -> list[str]:
    """The addresses to announce for a server bound to ``host``."""
    if host not in ("0.0.0.0", ""):  # noqa: S104 - the wildcard is compared, not bound
        return [host]
    from ifaddr import get_adapters

    found = [
        str(ip.ip)
        for adapter in get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]
    return found or [socket.gethostbyname(socket.gethostname())]
