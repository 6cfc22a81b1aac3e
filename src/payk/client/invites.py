"""Invitations on both sides: the secrets we hold for links we gave, the links we accepted.

Strategy: an invitation is one-time. The secret of a link we created stays only until the
first handshake answers it (then it is erased and the mailboxes pass to the new contact); a
link we accepted is remembered by its id, so accepting it again is refused instead of creating
a second contact with a broken session.
"""

from __future__ import annotations

from payk.client.store.sqlcipher import Database
from payk.protocol.invite import InvitationSecret

__all__ = ["already_accepted", "mark_accepted", "mark_used", "secret_for", "store_secret"]


def store_secret(db: Database, secret: InvitationSecret, *, expires_at: int, now: int) -> None:
    """Keep the secret of a link we are handing out."""
    db.execute(
        "INSERT INTO invitations (invite_id, secret, expires_at, created_at) VALUES (?, ?, ?, ?)",
        (secret.invite_id, secret.to_bytes(), expires_at, now),
    )


def secret_for(db: Database, invite_id: bytes, *, now: int) -> InvitationSecret | None:
    """The secret of an unused, unexpired invitation of ours, else None."""
    row = db.one(
        "SELECT secret FROM invitations WHERE invite_id = ? AND secret IS NOT NULL "
        "AND expires_at >= ?",
        (invite_id, now),
    )
    return None if row is None else InvitationSecret.from_bytes(bytes(row[0]))


def mark_used(db: Database, invite_id: bytes, contact_id: int) -> None:
    """Erase the secret: the invitation has been answered."""
    db.execute(
        "UPDATE invitations SET secret = NULL, contact_id = ? WHERE invite_id = ?",
        (contact_id, invite_id),
    )


def already_accepted(db: Database, invite_id: bytes) -> bool:
    """Whether we accepted this invitation before (or created it ourselves)."""
    row = db.one(
        "SELECT 1 FROM accepted WHERE invite_id = ? "
        "UNION ALL SELECT 1 FROM invitations WHERE invite_id = ?",
        (invite_id, invite_id),
    )
    return row is not None


def mark_accepted(db: Database, invite_id: bytes, contact_id: int) -> None:
    """Remember that we accepted this invitation."""
    db.execute(
        "INSERT INTO accepted (invite_id, contact_id) VALUES (?, ?)", (invite_id, contact_id)
    )
