"""Exchanging envelopes with peers on the local network, with no relay in between.

Strategy: one symmetric exchange (``payk.net.lan`` describes the frames) that both
``payk lan serve`` and ``payk lan sync`` run. Each side asks for its own mailboxes with tags
bound to the other's fresh nonce, offers the envelopes it holds (its pending outgoing ones
and those it carries) whose tags the other asked for, and, only when its user allowed
carrying, everything else for the other to carry onward. What arrives goes through
``payk.client.bundles.take_in``: envelopes for our mailboxes into the inbox (duplicates
dropped by envelope id, forged ones dropped by the ratchet), the rest into the bounded carry
store. A peer that breaks the protocol ends only its own connection.

``LanServer`` serves one exchange at a time (one profile database, one writer) and reports
each exchange through a callback; ``sync_with_peers`` finds peers by mDNS (or takes them as
given) and exchanges with each in turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from payk.client.bundles import Arrival, bundle_items, take_in
from payk.client.mailboxes import all_mailboxes
from payk.errors import NetworkError, PaykError, UsageError
from payk.net.lan import (
    LanChannel,
    LanHello,
    LanItems,
    LanWant,
    announce,
    browse,
    local_addresses,
    new_nonce,
    pad_tags,
    want_tag,
)
from payk.protocol.address import RelayAddress
from payk.protocol.bundle import BundleItem

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["Exchange", "LanServer", "exchange", "sync_with_peers"]

EXCHANGE_TIMEOUT = 60.0


@dataclass(slots=True, kw_only=True)
class Exchange:
    """What one or more exchanges moved."""

    arrival: Arrival = field(default_factory=Arrival)
    sent: int = 0
    peers: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Exchange) -> None:
        """Fold another exchange into this one."""
        self.arrival.messages += other.arrival.messages
        self.arrival.delivered += other.arrival.delivered
        self.arrival.carried += other.arrival.carried
        self.arrival.known += other.arrival.known
        self.sent += other.sent
        self.peers += other.peers
        self.errors += other.errors


async def exchange(client: Client, channel: LanChannel, *, carry: bool) -> Exchange:
    """Run one exchange with the peer on ``channel``.

    Raises:
        NetworkError: the connection ended early.
        RemoteProtocolError: the peer broke the protocol.
    """
    mine = new_nonce()
    peer_nonce = (await channel.trade(LanHello(nonce=mine), LanHello)).nonce
    wanted = pad_tags([want_tag(peer_nonce, m.send_id) for m in all_mailboxes(client.profile.db)])
    peer_tags = set((await channel.trade(LanWant(tags=wanted), LanWant)).tags)
    for_peer, others = _split(bundle_items(client), mine, peer_tags)
    offer = LanItems(for_you=for_peer, to_carry=others if carry else [])
    got = await channel.trade(offer, LanItems)
    arrival = await take_in(client, [i for i in [*got.for_you, *got.to_carry] if _routable(i)])
    return Exchange(arrival=arrival, sent=len(offer.for_you) + len(offer.to_carry), peers=1)


def _split(
    items: Sequence[BundleItem], nonce: bytes, tags: set[bytes]
) -> tuple[list[BundleItem], list[BundleItem]]:
    matched: list[BundleItem] = []
    rest: list[BundleItem] = []
    for item in items:
        (matched if want_tag(nonce, item.send_id) in tags else rest).append(item)
    return matched, rest


def _routable(item: BundleItem) -> bool:
    try:
        RelayAddress.parse(item.relay)
    except UsageError:
        return False
    return True


Report = Callable[[Exchange], None]


class LanServer:
    """Serves exchanges on TCP and announces itself on mDNS while running."""

    def __init__(self, client: Client, *, carry: bool, report: Report) -> None:
        self.client, self.carry, self.report = client, carry, report
        self._lock = asyncio.Lock()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port); returns the port."""
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def run(self, host: str, port: int, *, on_ready: Callable[[int], None]) -> None:
        """Listen, announce on mDNS and serve until cancelled."""
        bound = await self.start(host, port)
        interfaces = None if host in ("0.0.0.0", "") else [host]  # noqa: S104
        try:
            async with announce(local_addresses(host), bound, interfaces=interfaces):
                on_ready(bound)
                await asyncio.Event().wait()
        finally:
            await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel = LanChannel(reader, writer)
        try:
            async with self._lock, asyncio.timeout(EXCHANGE_TIMEOUT):
                done = await exchange(self.client, channel, carry=self.carry)
            self.report(done)
        except (PaykError, TimeoutError, OSError) as exc:
            self.report(Exchange(errors=[f"a peer failed: {exc or 'timed out'}"]))
        finally:
            await channel.close()

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def sync_with_peers(
    client: Client,
    *,
    peers: Sequence[tuple[str, int]] = (),
    wait: float = 3.0,
    interfaces: Sequence[str] | None = None,
    carry: bool = False,
) -> Exchange:
    """Exchange with the given peers, or with those mDNS finds within ``wait`` seconds.

    Raises:
        NetworkError: no peer was found or none could be reached.
    """
    found = list(peers) or await browse(wait, interfaces=interfaces, enough=1)
    if not found:
        raise NetworkError("no payk peer found on the local network")
    total = Exchange()
    for host, port in found:
        try:
            channel = await LanChannel.open(host, port)
            try:
                async with asyncio.timeout(EXCHANGE_TIMEOUT):
                    total.add(await exchange(client, channel, carry=carry))
            finally:
                await channel.close()
        except (PaykError, TimeoutError) as exc:
            total.errors.append(f"peer {host}:{port}: {exc or 'timed out'}")
    if not total.peers:
        raise NetworkError("no peer could be reached: " + "; ".join(total.errors))
    return total
