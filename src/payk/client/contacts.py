"""Contacts: who we talk to, the mailboxes we write to for them, and their sessions.

Strategy: a contact is a row with a local alias, their public identity, the pickled pairwise
session (wrapped with the profile's pickle key) and a verified flag. Sessions are loaded and
saved only inside the caller's transaction (``BEGIN IMMEDIATE`` holds the write lock), so two
payk processes on one profile can never seal with the same ratchet state. Aliases are unique;
a name that is taken gets a number (``Sara (2)``).

A session is stored in two sealed parts (``PairwiseSession.to_parts``): the identities, fixed
once the peer's is known, in ``contacts.session``, and the ratchet, which every message
changes, in its own small row of ``session_ratchets``. A send then rewrites about 3 KB in one
page rather than the contact row with its overflow pages (about a third fewer pages per
send's commit). A contact saved before that split has its whole session in
``contacts.session`` and no ratchet row; its next save splits it.

Restoring a session (decrypting and unpickling it) costs more than reading its row, so the
session last saved per contact is kept with the exact ratchet bytes it was saved as: a load
whose row still holds those bytes takes that object instead of restoring a copy. Stored bytes
carry a fresh nonce each time, so equal bytes mean the very state that object has; a
rolled-back save or another process's newer one leaves other bytes in the row and the load
restores from them. A load takes the entry out, so an object changed by a failed operation is
never reused.

A save is staged until its transaction commits (``Database.stage``) and a load in that
transaction takes the staged object, so a transaction that advances one ratchet many times
(a burst of sends sharing a group commit, a batch of pushes) pickles and seals it once.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

from payk.client.store.sqlcipher import Database, Row
from payk.errors import StorageError, UsageError
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.identity import IdentityKeys
from payk.protocol.safety import HasIdentityKeys
from payk.protocol.session import PairwiseSession

__all__ = [
    "Contact",
    "add_contact",
    "add_targets",
    "all_contacts",
    "contact_by_alias",
    "contact_by_id",
    "load_session",
    "save_session",
    "set_verified",
    "take_peer_name",
    "targets",
    "unique_alias",
]

MAX_ALIAS = 200
_saved: weakref.WeakKeyDictionary[Database, dict[int, tuple[bytes, PairwiseSession]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """A contact as the front ends see it."""

    id: int
    alias: str
    peer: IdentityKeys
    verified: bool


_peer_keys = functools.lru_cache(maxsize=4096)(IdentityKeys.from_bytes)  # checks cost ~50 us


def _contact(row: Row) -> Contact:
    return Contact(
        id=int(row["id"]),
        alias=str(row["alias"]),
        peer=_peer_keys(bytes(row["peer"])),
        verified=bool(row["verified"]),
    )


def all_contacts(db: Database) -> list[Contact]:
    """Every contact, by alias."""
    rows = db.query("SELECT id, alias, peer, verified FROM contacts ORDER BY alias COLLATE NOCASE")
    return [_contact(row) for row in rows]


def contact_by_alias(db: Database, alias: str) -> Contact:
    """The contact called ``alias``.

    Raises:
        UsageError: there is no such contact.
    """
    return _contact(_by_alias(db, alias))


def contact_id(db: Database, alias: str) -> int:
    """The row id of the contact called ``alias`` (what a send needs, without the keys).

    Raises:
        UsageError: there is no such contact.
    """
    return int(_by_alias(db, alias)["id"])


def _by_alias(db: Database, alias: str) -> Row:
    """The contact's row: the alias as written, else the one equal to it ignoring case."""
    row = db.one("SELECT id, alias, peer, verified FROM contacts WHERE alias = ?", (alias,))
    if row is None:
        row = db.one(
            "SELECT id, alias, peer, verified FROM contacts WHERE alias = ? COLLATE NOCASE",
            (alias,),
        )
    if row is None:
        raise UsageError(f"no contact named {alias!r} (see: payk contacts)")
    return row


def contact_by_id(db: Database, contact_id: int) -> Contact:
    """The contact with this row id."""
    row = db.one("SELECT id, alias, peer, verified FROM contacts WHERE id = ?", (contact_id,))
    if row is None:
        raise StorageError("a stored message points to a missing contact")
    return _contact(row)


def unique_alias(db: Database, wanted: str) -> str:
    """``wanted`` cleaned up, with a number added if another contact has it."""
    printable = "".join(ch for ch in wanted if ch.isprintable() or ch.isspace())
    base = " ".join(printable.split())[:MAX_ALIAS] or "contact"
    alias, n = base, 1
    while db.one("SELECT 1 FROM contacts WHERE alias = ? COLLATE NOCASE", (alias,)):
        n += 1
        alias = f"{base} ({n})"
    return alias


def add_contact(
    db: Database,
    *,
    alias: str,
    peer: HasIdentityKeys,
    session: PairwiseSession,
    key: bytes,
    now: int,
    named_by_peer: bool = False,
) -> int:
    """Store a new contact; returns its id.

    ``named_by_peer``: the alias is a placeholder, to be replaced by the name in their hello.
    """
    identities, ratchet = session.to_parts(key)
    contact_id = db.execute(
        "INSERT INTO contacts (alias, peer, session, created_at, named_by_peer) "
        "VALUES (?, ?, ?, ?, ?)",
        (alias, peer.curve25519 + peer.ed25519, identities, now, int(named_by_peer)),
    )
    db.execute(
        "INSERT INTO session_ratchets (contact_id, state) VALUES (?, ?)", (contact_id, ratchet)
    )
    _saved.setdefault(db, {})[contact_id] = (ratchet, session)
    return contact_id


def take_peer_name(db: Database, contact_id: int, name: str) -> None:
    """Use the name from the contact's hello if we did not choose an alias ourselves."""
    row = db.one("SELECT named_by_peer FROM contacts WHERE id = ?", (contact_id,))
    if row is not None and row[0]:
        db.execute(
            "UPDATE contacts SET alias = ?, named_by_peer = 0 WHERE id = ?",
            (unique_alias(db, name), contact_id),
        )


def load_session(db: Database, contact_id: int, key: bytes) -> PairwiseSession:
    """The contact's session as last saved: in this transaction, else as last committed."""
    staged: PairwiseSession | None = db.staged(("session", contact_id))
    if staged is not None:
        return staged
    row = db.one("SELECT state FROM session_ratchets WHERE contact_id = ?", (contact_id,))
    saved = _saved.get(db, {}).pop(contact_id, None)
    if row is not None and saved is not None and saved[0] == row[0]:
        return saved[1]
    fixed = db.one("SELECT session FROM contacts WHERE id = ?", (contact_id,))
    if fixed is None:
        raise StorageError("the contact's session is missing")
    if row is None:  # saved whole, before schema 9
        return PairwiseSession.from_bytes(bytes(fixed[0]), key)
    return PairwiseSession.from_parts(bytes(fixed[0]), bytes(row[0]), key)


def save_session(db: Database, contact_id: int, session: PairwiseSession, key: bytes) -> None:
    """Store the session's new state with the transaction that advanced it.

    It is written just before that transaction commits (``Database.stage``), once however often
    it advanced meanwhile: a burst of sends or a batch of pushes pickles and seals it once. The
    commit that keeps an envelope sealed with it keeps the state after it, so no stored ratchet
    is ever behind an envelope that can leave. The session must not change after the commit
    unless it is saved again.
    """
    db.stage(("session", contact_id), session, lambda: _write_session(db, contact_id, session, key))


def _write_session(db: Database, contact_id: int, session: PairwiseSession, key: bytes) -> None:
    identities, ratchet = session.to_parts(key)
    if identities is not None:
        db.execute("UPDATE contacts SET session = ? WHERE id = ?", (identities, contact_id))
    db.execute(
        "INSERT INTO session_ratchets (contact_id, state) VALUES (?, ?) "
        "ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state",
        (contact_id, ratchet),
    )
    _saved.setdefault(db, {})[contact_id] = (ratchet, session)


def set_verified(db: Database, contact_id: int, verified: bool = True) -> None:
    """Mark the contact's safety code as checked."""
    db.execute("UPDATE contacts SET verified = ? WHERE id = ?", (int(verified), contact_id))


def targets(db: Database, contact_id: int) -> list[MailboxAddress]:
    """The mailboxes we write to for this contact."""
    rows = db.query("SELECT relay, send_id FROM targets WHERE contact_id = ?", (contact_id,))
    return [MailboxAddress(relay=RelayAddress.parse(row[0]), send_id=bytes(row[1])) for row in rows]


def add_targets(db: Database, contact_id: int, addresses: list[MailboxAddress]) -> None:
    """Remember mailboxes the contact asked us to write to."""
    db.execute_many(
        "INSERT OR IGNORE INTO targets (contact_id, relay, send_id) VALUES (?, ?, ?)",
        [(contact_id, str(a.relay), a.send_id) for a in addresses],
    )
