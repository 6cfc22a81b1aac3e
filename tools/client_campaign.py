"""Crash campaign against the client: SIGKILL ``payk sync`` while it syncs, many times.

Strategy: a real relay stays up; Bob (in this process, through the real network code) sends
a few texts each round; Alice's profile is synced only by real ``payk sync`` processes, each
killed with SIGKILL after a random delay (some finish). After every kill the profile must
open. At the end, syncs run to completion and the report counts:

* ``lost``: texts Bob sent that Alice's history does not hold (must be 0);
* ``duplicates``: texts her history holds twice (must be 0);
* ``keys_reused``: pairs of *different* envelopes Alice sealed (receipts) under the same
  epoch and counter, read from the relay's database: a rolled-back ratchet would show one
  (must be 0; a resend of the same envelope is not a reuse);
* ``failed_opens``: kills after which the profile did not open (must be 0).
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.relay.harness import RelayProcess, start_relay

from payk.client.facade import Client
from payk.client.store.header import kdf_params_from_env
from payk.errors import PaykError
from payk.protocol import envelope as env

__all__ = ["ClientReport", "run_client_campaign"]

PASSPHRASE = "campaign passphrase"  # noqa: S105 - a throwaway test profile
SYNC_TIMEOUT = 60.0
_FAST = {"PAYK_KDF_PROFILE": "fast"}


@dataclass
class ClientReport:
    """What a client campaign did and found; the failure counts must stay 0."""

    kills: int = 0
    completed_syncs: int = 0
    sent: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    keys_reused: int = 0
    receipts_checked: int = 0
    failed_opens: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost == self.duplicates == self.keys_reused == self.failed_opens == 0


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        **_FAST,
        "PAYK_HOME": str(home),
        "PAYK_PASSPHRASE": PASSPHRASE,
        "PYTHONUNBUFFERED": "1",
    }


async def _people(work: Path, relay: RelayProcess) -> tuple[Path, Client]:
    kdf = kdf_params_from_env(_FAST)
    homes = work / "alice", work / "bob"
    alice = Client.create(homes[0], PASSPHRASE, name="Alice", relays=[relay.address], kdf=kdf)
    bob = Client.create(homes[1], PASSPHRASE, name="Bob", relays=[relay.address], kdf=kdf)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    await bob.sync()
    await alice.close()
    return homes[0], bob


async def _sync_process(home: Path, kill_after: float | None) -> bool:
    """Run ``payk sync`` on ``home``; kill it after ``kill_after`` s. True if it finished."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payk",
        "--json",
        "sync",
        env=_env(home),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(proc.wait(), kill_after or SYNC_TIMEOUT)
        return proc.returncode == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


def _opens(home: Path) -> bool:
    try:
        client = Client.open(home, PASSPHRASE)
    except PaykError:
        return False
    client.profile.close()
    return True


def _history(home: Path) -> list[str]:
    client = Client.open(home, PASSPHRASE)
    try:
        return [m.text or "" for m in client.history("Bob", limit=100_000) if not m.outgoing]
    finally:
        client.profile.close()


def _reused_keys(relay_data: Path) -> tuple[int, int]:
    """(distinct envelopes, reuses) among pairwise envelopes the relay holds, per mailbox."""
    by_position: dict[tuple[bytes, bytes], set[bytes]] = defaultdict(set)
    with sqlite3.connect(relay_data / "relay.db") as db:
        for recv_id, body in db.execute("SELECT recv_id, body FROM envelopes"):
            data = bytes(body)
            if len(data) in env.BUCKETS and data[1] == env.Kind.PAIRWISE:
                position = data[env.OVERHEAD + 1 : env.OVERHEAD + 9]  # epoch, counter
                by_position[(bytes(recv_id), position)].add(env.envelope_id(data))
    ids = sum(len(v) for v in by_position.values())
    return ids, sum(len(v) - 1 for v in by_position.values())


async def run_client_campaign(
    work: Path, *, kills: int, per_round: int = 3, seed: int = 1
) -> ClientReport:
    """Kill ``payk sync`` ``kills`` times while Bob keeps sending; then check Alice's profile."""
    rng, began = random.Random(seed), time.monotonic()  # noqa: S311 - timing, not secrets
    relay = await start_relay(work / "relay")
    report = ClientReport()
    sent: list[str] = []
    try:
        alice_home, bob = await _people(work, relay)
        try:
            span = 2.0  # seconds a whole sync takes, measured as syncs complete
            while report.kills < kills:
                for i in range(rng.randint(1, per_round)):
                    text = f"text {len(sent)} of round {report.kills}.{i}"
                    await bob.send_text("Alice", text)
                    sent.append(text)
                kill_after = rng.uniform(0.2, 1.0) * span if rng.random() < 0.9 else None
                began_sync = time.monotonic()
                if await _sync_process(alice_home, kill_after):
                    report.completed_syncs += 1
                    span = time.monotonic() - began_sync  # kill within a sync's length
                else:
                    report.kills += 1
                report.failed_opens += not _opens(alice_home)
            for _ in range(2):
                report.completed_syncs += await _sync_process(alice_home, None)
        finally:
            await bob.close()
        report.receipts_checked, report.keys_reused = _reused_keys(relay.data)
    finally:
        await relay.terminate()
    got = _history(alice_home)
    report.sent, report.received = len(sent), len(got)
    report.lost = len(set(sent) - set(got))
    report.duplicates = len(got) - len(set(got))
    report.seconds = round(time.monotonic() - began, 1)
    return report
