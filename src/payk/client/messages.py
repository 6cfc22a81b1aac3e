"""The conversation as front ends see it: ``Message`` views over stored rows.

Strategy: one frozen ``Message`` type for everything shown (sync results, listen, history),
built from the ``messages`` table joined with the contact's alias; ``as_json`` is the
``--json`` shape of CLI.md (``id``, ``conversation``, ``from``, ``text``, ``file``,
``sent_at``) plus ``paths``, ``status``, ``outgoing``, ``expires_at`` (when a disappearing
message is deleted, else null) and ``reply_to`` (the id of the message it answers, or null).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from payk.client.store.sqlcipher import Database, Row

__all__ = ["Message", "history", "messages_by_rowid"]

_SELECT = (
    "SELECT m.rowid_, m.msg_id, c.alias, m.outgoing, m.text, m.file_name, m.file_size, "
    "m.file_path, m.sent_at, m.status, m.paths, e.expires_at, m.reply_to, "
    "r.text AS reply_text, r.file_name AS reply_file FROM messages m "
    "JOIN contacts c ON c.id = m.contact_id LEFT JOIN expiry e ON e.message = m.rowid_ "
    "LEFT JOIN messages r ON r.contact_id = m.contact_id AND r.msg_id = m.reply_to "
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message in a conversation.

    ``status``: ``queued`` (no relay has it yet), ``sent``, ``delivered`` (a receipt came
    back), ``read`` (the contact viewed it) for outgoing; ``received``, ``partial`` (file
    still arriving), ``failed`` (a file that did not verify) for incoming. ``paths``: relays
    that took it (outgoing), or that it arrived through in this sync (incoming).
    """

    id: str
    conversation: str
    sender: str
    outgoing: bool
    text: str | None
    file: str | None
    file_name: str | None
    file_size: int | None
    sent_at: int
    status: str
    paths: int
    expires_at: int | None = None
    reply_to: str | None = None
    reply_text: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The CLI.md ``--json`` message object."""
        return {
            "id": self.id,
            "conversation": self.conversation,
            "from": self.sender,
            "text": self.text,
            "file": self.file,
            "sent_at": self.sent_at,
            "paths": self.paths,
            "status": self.status,
            "outgoing": self.outgoing,
            "expires_at": self.expires_at,
            "reply_to": self.reply_to,
        }

    def quoted(self) -> str | None:
        """The first line of the message this one answers (``None`` when not a reply)."""
        if self.reply_to is None:
            return None
        lines = (self.reply_text or "").splitlines()
        return lines[0] if lines else "(a message no longer here)"


def _message(row: Row, me: str, paths: int | None = None) -> Message:
    outgoing = bool(row["outgoing"])
    return Message(
        id=bytes(row["msg_id"]).hex(),
        conversation=str(row["alias"]),
        sender=me if outgoing else str(row["alias"]),
        outgoing=outgoing,
        text=row["text"],
        file=row["file_path"] or row["file_name"],
        file_name=row["file_name"],
        file_size=row["file_size"],
        sent_at=int(row["sent_at"]),
        status=str(row["status"]),
        paths=int(row["paths"]) if paths is None else paths,
        expires_at=row["expires_at"],
        reply_to=bytes(row["reply_to"]).hex() if row["reply_to"] else None,
        reply_text=row["reply_text"] or row["reply_file"],
    )


def messages_by_rowid(
    db: Database, rowids: list[int], me: str, paths: dict[int, int] | None = None
) -> list[Message]:
    """The messages with these row ids, in the order given (one query for them all)."""
    where = "WHERE m.rowid_ IN (SELECT value FROM json_each(?))"  # the ids are a parameter
    rows = db.query(_SELECT + where, (json.dumps(rowids),))
    found = {int(row["rowid_"]): row for row in rows}
    paths = paths or {}
    return [_message(found[r], me, paths.get(r)) for r in rowids if r in found]


def history(db: Database, contact_id: int, me: str, limit: int) -> list[Message]:
    """The last ``limit`` messages with a contact, oldest first."""
    rows = db.query(
        _SELECT + "WHERE m.contact_id = ? ORDER BY m.rowid_ DESC LIMIT ?", (contact_id, limit)
    )
    return [_message(row, me) for row in reversed(rows)]
