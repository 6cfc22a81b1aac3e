"""Read receipts and replies in pairwise conversations.

Strategy: viewing a conversation (``payk history``, the TUI thread) marks every incoming
message not yet read with ``read_at`` and queues one ``Receipt(read=True)`` back over the
pairwise session; the sender's inbox then sets its copy's status to ``read``. Groups and
channels have no read receipts. A reply names the answered message by its id; people give an
id or an unambiguous hex prefix of one from the same conversation, resolved here. Notices of a
changed disappearing timer (status ``notice``) are never unread and cannot be answered.
"""

from __future__ import annotations

from payk.client.store.sqlcipher import Database
from payk.errors import UsageError

__all__ = ["mark_read", "resolve_reply", "unread_counts"]


def mark_read(db: Database, contact_id: int, now: int) -> list[bytes]:
    """Mark the contact's unread incoming messages read; return their ids (for a receipt)."""
    with db.transaction():
        rows = db.query(
            "SELECT msg_id FROM messages WHERE contact_id = ? AND outgoing = 0 "
            "AND read_at IS NULL AND status = 'received'",
            (contact_id,),
        )
        ids = [bytes(row[0]) for row in rows]
        db.execute_many(
            "UPDATE messages SET read_at = ? WHERE contact_id = ? AND msg_id = ?",
            [(now, contact_id, i) for i in ids],
        )
    return ids


def unread_counts(db: Database) -> dict[str, int]:
    """Incoming messages not yet viewed, per contact alias (contacts with none are left out)."""
    rows = db.query(
        "SELECT c.alias, count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id "
        "WHERE m.outgoing = 0 AND m.read_at IS NULL AND m.status = 'received' GROUP BY c.id"
    )
    return {str(row[0]): int(row[1]) for row in rows}


def resolve_reply(db: Database, contact_id: int, prefix: str) -> bytes:
    """The id of the message in this conversation that ``prefix`` (hex) names.

    Raises:
        UsageError: not hex, no such message, or more than one message starts so.
    """
    wanted = prefix.strip().lower()
    if not wanted or any(ch not in "0123456789abcdef" for ch in wanted):
        raise UsageError(f"--reply wants a message id (hex) from history, not {prefix!r}")
    rows = db.query(  # a notice's id is local: it names nothing the contact has
        "SELECT msg_id FROM messages WHERE contact_id = ? AND status != 'notice'", (contact_id,)
    )
    found = [bytes(row[0]) for row in rows if bytes(row[0]).hex().startswith(wanted)]
    if not found:
        raise UsageError(f"no message {prefix} in this conversation (see payk history --json)")
    if len(found) > 1:
        raise UsageError(f"message id {prefix} is ambiguous: give more of it")
    return found[0]
