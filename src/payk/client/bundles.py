"""Bundle files, and taking in envelopes that arrive without a relay (bundles, LAN peers).

Strategy: ``export_bundle`` collects our pending outgoing envelopes (the outbox keeps them too,
so a relay still gets them later) and everything we carry for others, seals them with
``payk.protocol.bundle`` and writes the file atomically (temporary name, then rename).
``import_bundle`` opens the whole file first, so a tampered bundle changes nothing, then hands
the items to ``take_in``: envelopes for one of our own mailboxes go through the inbox exactly
as if a relay had delivered them (duplicates are dropped by envelope id), and the rest are
carried onward (``payk.client.carry``). Importing the same bundle twice therefore changes
nothing the second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from payk.client import carry
from payk.client.inbox import InboxResult, receive
from payk.client.mailboxes import all_mailboxes
from payk.client.messages import Message
from payk.errors import StorageError, UsageError
from payk.protocol.bundle import BundleItem, open_bundle, seal

if TYPE_CHECKING:
    from payk.client.facade import Client

__all__ = ["Arrival", "bundle_items", "export_bundle", "import_bundle", "take_in"]


@dataclass(slots=True, kw_only=True)
class Arrival:
    """What a batch of envelopes from a bundle or a peer brought."""

    messages: list[Message] = field(default_factory=list)
    delivered: int = 0
    carried: int = 0
    known: int = 0


def limits(client: Client) -> carry.CarryLimits:
    """The carrying bounds of this profile (``carry_max_*`` in its ``config.toml``)."""
    config = client.config
    return carry.CarryLimits(
        max_count=config.carry_max_count,
        max_bytes=config.carry_max_mb * 1024 * 1024,
        max_age=config.carry_max_days * 86400,
    )


def bundle_items(client: Client) -> list[BundleItem]:
    """Everything a bundle or a peer could take from us: our pending envelopes and carried ones."""
    db = client.profile.db
    now = client.clock()
    carry.prune(db, now=now, limits=limits(client))
    return carry.outgoing(db, now=now) + carry.carried(db)


async def export_bundle(client: Client, out: Path) -> tuple[int, int]:
    """Write a bundle to ``out``; returns (envelopes, file size).

    Raises:
        StorageError: the file cannot be written.
    """
    items = bundle_items(client)
    data = seal(items)
    await asyncio.to_thread(_write_atomic, out, data)
    return len(items), len(data)


def _write_atomic(out: Path, data: bytes) -> None:
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StorageError(f"cannot write the bundle to {out}: {exc.strerror}") from exc


async def import_bundle(client: Client, path: Path) -> Arrival:
    """Deliver what in the bundle at ``path`` is ours and carry the rest.

    Raises:
        UsageError: the file cannot be read.
        IntegrityError: the bundle was altered (nothing was imported).
    """
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise UsageError(f"cannot read the bundle {path}: {exc.strerror}") from exc
    return await take_in(client, open_bundle(data))


async def take_in(client: Client, items: Sequence[BundleItem]) -> Arrival:
    """Process envelopes that arrived without a relay: ours into the inbox, others carried."""
    db = client.profile.db
    mine = {m.send_id: m for m in all_mailboxes(db)}
    ours_pending = {(i.send_id, i.envelope) for i in carry.outgoing(db, now=0)}
    arrival, result = Arrival(), InboxResult()
    others: list[BundleItem] = []
    now = client.clock()
    with db.transaction():
        for item in items:
            mailbox = mine.get(item.send_id)
            if mailbox is not None:
                before = result.duplicates
                receive(
                    client.profile, mailbox.id, mailbox.relay, item.envelope, now=now, result=result
                )
                arrival.delivered += result.duplicates == before
                arrival.known += result.duplicates != before
            elif (item.send_id, item.envelope) not in ours_pending:
                others.append(item)
        arrival.carried = carry.carry(db, others, now=now, limits=limits(client))
        arrival.known += len(others) - arrival.carried
    arrival.messages = await client.take_in(result)
    return arrival
