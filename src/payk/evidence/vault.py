"""The vault: evidence items, their append-only log and signed tree heads in the client store.

Strategy: everything lives in the profile's SQLCipher database (migration 0004), so the
files are encrypted at rest with the rest of the profile. Adding an item is one transaction:
store the file, its signed statement and private object, append the statement's leaf hash to
the log, and sign a tree head for the new size. Log and items are never updated (triggers
refuse it), so every size the log ever had keeps its signed head, and any two heads can be
shown consistent. Items received from a contact keep the sender's own statement, tree head
and inclusion proof as their provenance; they are not in this profile's log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from payk.client.profile import Profile
from payk.client.store.sqlcipher import Database, Row
from payk.errors import StorageError, UsageError
from payk.evidence import merkle
from payk.evidence.statement import Capture, Signed, make_head, make_statement, parse_json
from payk.protocol.primitives import random_bytes

__all__ = [
    "ID_LEN",
    "Item",
    "Origin",
    "Record",
    "add",
    "find",
    "head",
    "items",
    "leaves",
    "own_records",
    "records",
    "store_received",
]

ID_LEN = 16
_SELECT = (
    "SELECT id, name, data, statement, signature, private, leaf_index, added_at, origin "
    "FROM evidence_items "
)
# The list needs no file contents.
_SELECT_LIST = (
    "SELECT id, name, X'' AS data, statement, signature, private, leaf_index, added_at, origin "
    "FROM evidence_items "
)
_ORDER = "ORDER BY leaf_index IS NULL, leaf_index, added_at, id"
_INSERT = (
    "INSERT INTO evidence_items "
    "(id, name, data, statement, signature, private, leaf_index, added_at, origin) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where a received item came from, and the sender's proof that it is in their log."""

    sender: str
    sender_key: str
    received_at: int
    head: Signed
    leaf_index: int
    tree_size: int
    audit_path: list[bytes]

    def to_json(self) -> bytes:
        """The stored form."""
        return json.dumps(
            {
                "from": self.sender,
                "sender_key": self.sender_key,
                "received_at": self.received_at,
                "head": self.head.body.decode(),
                "head_signature": self.head.signature.hex(),
                "leaf_index": self.leaf_index,
                "tree_size": self.tree_size,
                "audit_path": [p.hex() for p in self.audit_path],
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Origin:
        """Read the stored form back."""
        raw = parse_json(data, "the stored provenance")
        return cls(
            sender=str(raw["from"]),
            sender_key=str(raw["sender_key"]),
            received_at=int(raw["received_at"]),
            head=Signed(
                body=str(raw["head"]).encode(), signature=bytes.fromhex(raw["head_signature"])
            ),
            leaf_index=int(raw["leaf_index"]),
            tree_size=int(raw["tree_size"]),
            audit_path=[bytes.fromhex(p) for p in raw["audit_path"]],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One item with everything needed to export or send it."""

    id: bytes
    name: str
    data: bytes
    statement: Signed
    private: bytes | None
    leaf_index: int | None
    added_at: int
    origin: Origin | None

    @property
    def fields(self) -> dict[str, Any]:
        """The statement's content."""
        return parse_json(self.statement.body, "a stored statement")


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """What ``evidence list`` shows about one item."""

    id: str
    name: str
    size: int
    sha256: str
    media_type: str
    note: str
    added_at: int
    signer: str
    leaf_index: int | None
    sender: str | None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "note": self.note,
            "added_at": self.added_at,
            "signer": self.signer,
            "log_index": self.leaf_index,
            "from": self.sender,
        }

    @classmethod
    def of(cls, record: Record) -> Item:
        """The list view of a record."""
        fields = record.fields
        return cls(
            id=record.id.hex(),
            name=record.name,
            size=int(fields["file"]["size"]),
            sha256=str(fields["file"]["sha256"]),
            media_type=str(fields["file"]["media_type"]),
            note=str(fields.get("note", "")),
            added_at=record.added_at,
            signer=str(fields["signer"]),
            leaf_index=record.leaf_index,
            sender=record.origin.sender if record.origin else None,
        )


def add(profile: Profile, capture: Capture, *, now: int) -> Record:
    """Store a captured file, sign its statement, append it to the log and sign the new head."""
    identity = profile.identity()
    key = identity.public.ed25519
    item_id = random_bytes(ID_LEN)
    signed, private = make_statement(
        capture, item_id=item_id, signer_key=key, sign=identity.sign, now=now
    )
    db = profile.db
    with db.transaction():
        index = len(leaves(db))
        db.execute(
            _INSERT,
            (
                item_id,
                capture.name,
                capture.data,
                signed.body,
                signed.signature,
                private,
                index,
                now,
                None,
            ),
        )
        db.execute(
            "INSERT INTO evidence_log (idx, leaf_hash, item) VALUES (?, ?, ?)",
            (index, merkle.leaf_hash(signed.body), item_id),
        )
        tree = leaves(db)
        signed_head = make_head(
            len(tree), merkle.root(tree), signer_key=key, sign=identity.sign, now=now
        )
        db.execute(
            "INSERT INTO evidence_heads (size, head, signature) VALUES (?, ?, ?)",
            (len(tree), signed_head.body, signed_head.signature),
        )
    return find(db, item_id.hex())


def store_received(db: Database, record: Record) -> bool:
    """Keep an item received from a contact (inside the receiving transaction).

    Returns False when the vault already holds an item with this id.
    """
    if record.origin is None:
        raise StorageError("a received item needs its provenance")
    if db.one("SELECT 1 FROM evidence_items WHERE id = ?", (record.id,)):
        return False
    db.execute(
        _INSERT,
        (
            record.id,
            record.name,
            record.data,
            record.statement.body,
            record.statement.signature,
            record.private,
            None,
            record.added_at,
            record.origin.to_json(),
        ),
    )
    return True


def leaves(db: Database) -> list[bytes]:
    """The log's leaf hashes, in order."""
    return [bytes(row[0]) for row in db.query("SELECT leaf_hash FROM evidence_log ORDER BY idx")]


def head(db: Database, size: int | None = None) -> Signed | None:
    """The signed tree head for ``size`` (default: the current size), or None for an empty log."""
    if size is None:
        row = db.one("SELECT head, signature FROM evidence_heads ORDER BY size DESC LIMIT 1")
    else:
        row = db.one("SELECT head, signature FROM evidence_heads WHERE size = ?", (size,))
    return None if row is None else Signed(body=bytes(row[0]), signature=bytes(row[1]))


def _record(row: Row) -> Record:
    origin = row["origin"]
    return Record(
        id=bytes(row["id"]),
        name=str(row["name"]),
        data=bytes(row["data"]),
        statement=Signed(body=bytes(row["statement"]), signature=bytes(row["signature"])),
        private=bytes(row["private"]) if row["private"] is not None else None,
        leaf_index=row["leaf_index"],
        added_at=int(row["added_at"]),
        origin=Origin.from_json(bytes(origin)) if origin is not None else None,
    )


def records(db: Database) -> list[Record]:
    """Every item: own ones in log order, then received ones in the order they came."""
    rows = db.query(_SELECT + _ORDER)
    return [_record(row) for row in rows]


def own_records(db: Database) -> list[Record]:
    """The items in this profile's own log, in log order."""
    return [r for r in records(db) if r.leaf_index is not None]


def items(db: Database) -> list[Item]:
    """The list view of every item (without loading the files)."""
    rows = db.query(_SELECT_LIST + _ORDER)
    return [Item.of(_record(row)) for row in rows]


def find(db: Database, prefix: str) -> Record:
    """The item whose hex id starts with ``prefix`` (at least 4 digits).

    Raises:
        UsageError: no item, or several, have such an id.
    """
    wanted = prefix.strip().lower()
    if len(wanted) < 4 or any(c not in "0123456789abcdef" for c in wanted):
        raise UsageError("an evidence id is at least 4 hex digits (see payk evidence list)")
    found = [
        bytes(row[0])
        for row in db.query("SELECT id FROM evidence_items")
        if bytes(row[0]).hex().startswith(wanted)
    ]
    if not found:
        raise UsageError(f"no evidence item with id {prefix}")
    if len(found) > 1:
        raise UsageError(f"several evidence items start with {prefix}; give more digits")
    row = db.one(_SELECT + "WHERE id = ?", (found[0],))
    if row is None:
        raise StorageError("an evidence item vanished while it was read")
    return _record(row)
