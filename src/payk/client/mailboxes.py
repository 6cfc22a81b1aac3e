"""Our receive mailboxes: created on up to N relays, owned by an invitation, then a contact.

Strategy: every contact (and every open invitation) gets its own mailboxes, so a relay sees
unrelated anonymous mailboxes rather than one per person. ``create_on_relays`` asks the
relays in the profile's order and stops at ``count`` successes; unreachable relays are
skipped, and only if none answers does it fail. The mailbox rows record which relay holds
them and whom they belong to; ``by_recv`` maps a push from a relay back to its owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from payk.client.router import RelayPool, unreachable
from payk.client.store.sqlcipher import Database, Row
from payk.protocol.address import MailboxAddress, RelayAddress

__all__ = [
    "OwnMailbox",
    "add_mailbox",
    "all_mailboxes",
    "assign_to_contact",
    "create_on_relays",
    "expired_invitation_mailboxes",
    "forget_mailbox",
    "mailbox_by_id",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnMailbox:
    """A mailbox we read from."""

    id: int
    relay: str
    recv_id: bytes
    send_id: bytes
    auth_seed: bytes
    contact_id: int | None
    invite_id: bytes | None

    @property
    def address(self) -> MailboxAddress:
        """Where others write to it."""
        return MailboxAddress(relay=RelayAddress.parse(self.relay), send_id=self.send_id)


_SELECT = "SELECT id, relay, recv_id, send_id, auth_seed, contact_id, invite_id FROM mailboxes"


def _mailbox(row: Row) -> OwnMailbox:
    return OwnMailbox(
        id=int(row["id"]),
        relay=str(row["relay"]),
        recv_id=bytes(row["recv_id"]),
        send_id=bytes(row["send_id"]),
        auth_seed=bytes(row["auth_seed"]),
        contact_id=row["contact_id"],
        invite_id=None if row["invite_id"] is None else bytes(row["invite_id"]),
    )


def all_mailboxes(db: Database) -> list[OwnMailbox]:
    """Every mailbox we read from (invitations that were never used included)."""
    return [_mailbox(row) for row in db.query(_SELECT + " ORDER BY id")]


def mailbox_by_id(db: Database, mailbox_id: int) -> OwnMailbox | None:
    """A mailbox as currently stored (its owner may have changed since it was listed)."""
    row = db.one(_SELECT + " WHERE id = ?", (mailbox_id,))
    return None if row is None else _mailbox(row)


def add_mailbox(
    db: Database,
    relay: str,
    creds: object,
    *,
    contact_id: int | None = None,
    invite_id: bytes | None = None,
) -> int:
    """Record a mailbox created on ``relay`` (``creds`` has recv_id, send_id, auth_seed)."""
    return db.execute(
        "INSERT INTO mailboxes (relay, recv_id, send_id, auth_seed, contact_id, invite_id) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            relay,
            creds.recv_id,  # type: ignore[attr-defined]
            creds.send_id,  # type: ignore[attr-defined]
            creds.auth_seed,  # type: ignore[attr-defined]
            contact_id,
            invite_id,
        ),
    )


def expired_invitation_mailboxes(db: Database, *, now: int) -> list[OwnMailbox]:
    """Mailboxes of invitations nobody answered before they expired."""
    rows = db.query(
        "SELECT id, relay, recv_id, send_id, auth_seed, contact_id, invite_id FROM mailboxes "
        "WHERE contact_id IS NULL AND invite_id IN "
        "(SELECT invite_id FROM invitations WHERE expires_at < ? AND contact_id IS NULL)",
        (now,),
    )
    return [_mailbox(row) for row in rows]


def forget_mailbox(db: Database, mailbox_id: int) -> None:
    """Stop reading a mailbox (after it was deleted on its relay, or could not be)."""
    db.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,))


def assign_to_contact(db: Database, invite_id: bytes, contact_id: int) -> None:
    """Hand an invitation's mailboxes to the contact who answered it."""
    db.execute(
        "UPDATE mailboxes SET contact_id = ?, invite_id = NULL WHERE invite_id = ?",
        (contact_id, invite_id),
    )


async def create_on_relays(
    pool: RelayPool, relays: Sequence[str], count: int
) -> list[tuple[str, object]]:
    """Create one mailbox on each of the first ``count`` relays that answer.

    Raises:
        NetworkError: no relay answered (FingerprintMismatchError for an impostor).
    """
    created: list[tuple[str, object]] = []
    pending = list(relays)
    while pending and len(created) < count:
        need = count - len(created)
        batch, pending = pending[:need], pending[need:]
        results = await asyncio.gather(
            *(pool.call(relay, lambda link: link.create_mailbox()) for relay in batch)
        )
        created += [(r, c) for r, c in zip(batch, results, strict=True) if c is not None]
    if not created:
        raise unreachable({r: pool.errors[r] for r in relays if r in pool.errors})
    return created
