"""Groups and channels: what a group message costs its sender, what a removal costs, reads/s.

Strategy: three measurements, reported as measured (nothing asserted).

* ``send_cost``: a sender in groups of 10, 100 and 1,000 members. Per message: the protocol's
  ``GroupMember.send`` (Megolm encrypt, outer layer) and what the client adds around it
  (restoring and storing the member's keys; the roster, which grows with the group, is
  stored apart, left undecoded by a send and rewritten only by ops), plus
  the number of uploads (always one; a session share once per sender per epoch is excluded).
  The rosters are built from real signed ops (``group_log.apply``), without the key wraps a
  real admission would write, which do not change what a later send costs.
* ``removal``: an admin removes one member of a 1,000-member group: the op plus the epoch key
  wrapped to the 999 who stay (ML-KEM-768 and X25519 per member), as wall time, uploads and
  bytes, and what one remaining member spends finding and opening its slot.
* ``channel``: one post on an in-process relay (SQLite), read by plain HTTP GET with the
  relay's key pinned, as sequential and as concurrent reads per second.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from payk.client.feed_http import get_feed
from payk.net.relay import RelayConnection
from payk.protocol import channel as ch
from payk.protocol import group as g
from payk.protocol import group_log as log
from payk.protocol import primitives as p
from payk.protocol.group_member import GroupMember
from payk.protocol.identity import Identity
from payk.relay.app import RelayServer
from payk.relay.config import RelayConfig

__all__ = ["run"]

PICKLE_KEY = bytes(range(32))
NOW = 1_700_000_000
MESSAGE = b"m" * 256


def _identities(count: int) -> list[Identity]:
    return [Identity.generate() for _ in range(count)]


def _group(size: int, people: list[Identity]) -> GroupMember:
    """The owner's member object for a group of ``size`` members (owner included)."""
    owner_id = people[0]
    owner, entries = GroupMember.create(
        owner_id, name="bench", member_name="m0", now=NOW, pickle_key=PICKLE_KEY
    )
    owner.receive(owner_id, entries[0])
    state = owner.state
    assert state is not None
    epoch_key = p.random_bytes(32)
    for i, person in enumerate(people[1:size], start=1):
        invite = p.random_bytes(16)
        for kind, extra in (("invite", {}), ("approve", {"member": _member(person, i)})):
            starts = kind == "approve"
            op = log.Op(
                group=state.group,
                seq=state.seq + 1,
                prev=state.head,
                kind=kind,  # type: ignore[arg-type]
                author=owner_id.public.ed25519,
                at=NOW,
                epoch=state.epoch + 1 if starts else state.epoch,
                commit=g.commit(epoch_key, state.group, state.epoch + 1) if starts else b"",
                invite=invite,
                secret=bytes(32) if not starts else b"",
                **extra,  # type: ignore[arg-type]
            )
            state, _ = log.apply(state, log.sign_op(owner_id, op))
    view = owner._v  # the bench sets the final epoch's key directly (no wraps were written)
    owner._set_state(state)
    view.epoch_keys, view.verified = {state.epoch: epoch_key}, [state.epoch]
    view.key_authors = {state.epoch: owner_id.public.ed25519}
    return owner


_X25519: dict[int, bytes] = {}


def _member(identity: Identity, i: int) -> log.Member:
    if i not in _X25519:
        _X25519[i], _ = p.x25519_generate()
    x_public = p.x25519_public(_X25519[i])
    return log.Member(identity=identity.public.to_bytes(), x25519=x_public, name=f"m{i}")


def _median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def _send_point(size: int, people: list[Identity], messages: int) -> dict[str, Any]:
    owner = _group(size, people)
    owner.send(people[0], MESSAGE)  # the session share, once per epoch
    protocol, client, uploads = [], [], []
    for _ in range(messages):
        core, roster = owner.to_parts()[0], owner.roster_bytes()
        started = time.perf_counter()
        restored = GroupMember.from_parts(core, roster, PICKLE_KEY)
        middle = time.perf_counter()
        entries = restored.send(people[0], MESSAGE)
        sent = time.perf_counter()
        restored.to_parts()
        done = time.perf_counter()
        owner = restored
        protocol.append(sent - middle)
        client.append((middle - started) + (done - sent))
        uploads.append(len(entries))
    return {
        "members": size,
        "protocol_send_us": _median_us(protocol),
        "client_state_us": _median_us(client),
        "uploads_per_message": max(uploads),
    }


def _removal(size: int, people: list[Identity]) -> dict[str, Any]:
    owner = _group(size, people)
    started = time.perf_counter()
    entries = owner.remove(people[0], f"m{size - 1}", now=NOW)
    rekey = time.perf_counter() - started
    reader = people[size // 2]
    started = time.perf_counter()
    found = [
        g.open_wrap(g.read_entry(entry), reader, _X25519[size // 2], group=owner.group)
        for entry in entries[1:]
    ]
    scan = time.perf_counter() - started
    if sum(payload is not None for payload in found) != 1:
        raise RuntimeError("a remaining member did not find exactly one slot")
    return {
        "members": size,
        "rekey_ms": round(rekey * 1e3, 1),
        "uploads": len(entries),
        "bytes": sum(len(e) for e in entries),
        "member_scan_ms": round(scan * 1e3, 2),
    }


async def _channel_reads(workdir: Path, quick: bool) -> dict[str, Any]:
    server = RelayServer(
        RelayConfig(data_dir=workdir, db_url=f"sqlite:///{workdir / 'relay.db'}", port=0)
    )
    address = await server.start()
    try:
        async with await RelayConnection.connect(address) as conn:
            creds = await conn.create_feed()
            keys = ch.new_channel()
            await conn.append(creds, ch.seal_post(keys, 0, MESSAGE, envelope_id=bytes(16)))
        count = 50 if quick else 1000
        started = time.perf_counter()
        for _ in range(count):
            await get_feed(address, creds.feed_id, 0)
        sequential = count / (time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(get_feed(address, creds.feed_id, 0) for _ in range(count)))
        concurrent = count / (time.perf_counter() - started)
    finally:
        await server.stop()
    return {
        "reads": count,
        "sequential_reads_per_s": round(sequential, 1),
        "concurrent_reads_per_s": round(concurrent, 1),
    }


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    """Send cost against group size, removal re-key cost, channel reads per second."""
    sizes = (10, 100, 1000)
    people = _identities(max(sizes))
    messages = 5 if quick else 200
    curve = [_send_point(size, people, messages) for size in sizes]
    return {
        "send_cost": {"points": curve},
        "removal": _removal(max(sizes), people),
        "channel_http_get": await _channel_reads(workdir, quick),
    }
