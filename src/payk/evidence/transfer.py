"""Evidence between people: send an item to a contact, and file evidence that arrives.

Strategy: an item travels as a one-item bundle (the very format ``export`` writes, with the
original file and its private object) inside an ordinary end-to-end encrypted file
transfer, so nothing new is exposed on the wire. On the receiving side a hook registered with
``payk.client.files.on_file_received`` (when this module is imported, which every front end
does through its evidence command) sees each completed file inside the receiving
transaction: a zip that checks out completely as a bundle is filed in the vault, each item
with its provenance (which contact sent it, their key, when) and the signer's own tree head
and inclusion proof, so ``evidence verify`` and ``export`` work on it as on one's own items.
Anything else, including a bundle that fails any check or a stripped copy, stays an
ordinary received file.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from payk.client import contacts
from payk.client.facade import Client, Sent
from payk.client.files import on_file_received, safe_name
from payk.client.store.sqlcipher import Database
from payk.errors import IntegrityError
from payk.evidence import layout, vault
from payk.evidence.check import check_bundle
from payk.evidence.export import export_bundle
from payk.evidence.statement import Signed, parse_json
from payk.evidence.vault import Origin, Record

__all__ = ["file_received", "records_from_bundle", "send_item"]

_ZIP_MAGIC = b"PK\x03\x04"


async def send_item(client: Client, alias: str, item_id: str) -> tuple[str, Sent]:
    """Send one vault item (by id prefix) to a contact; returns its full id and the send.

    Raises:
        UsageError: no such item or contact.
    """
    record = vault.find(client.profile.db, item_id)
    full = record.id.hex()
    built = export_bundle(client.profile, now=client.clock(), ids=[full])
    sent = await client.send_data(alias, built.data, f"payk-evidence-{full[:12]}.zip")
    return full, sent


def file_received(
    db: Database, data: bytes, *, sender: str, sender_key: str, now: int
) -> list[str]:
    """File every item of a received bundle in the vault; returns the ids newly filed.

    Raises:
        IntegrityError: the bundle is signed and intact but its items cannot be read.
    """
    if not data.startswith(_ZIP_MAGIC) or not check_bundle(data).ok:
        return []
    try:
        records = records_from_bundle(data, sender=sender, sender_key=sender_key, now=now)
    except (KeyError, TypeError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
        raise IntegrityError("a received bundle checks out but its items are malformed") from exc
    return [r.id.hex() for r in records if vault.store_received(db, r)]


def records_from_bundle(data: bytes, *, sender: str, sender_key: str, now: int) -> list[Record]:
    """The full (not stripped) items of a bundle that already checked out, as vault records."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    manifest = parse_json(members[layout.MANIFEST], layout.MANIFEST)
    return [
        _record(entry, members, sender=sender, sender_key=sender_key, now=now)
        for entry in manifest["items"]
        if not entry.get("stripped")
    ]


def _record(
    entry: dict[str, Any], members: dict[str, bytes], *, sender: str, sender_key: str, now: int
) -> Record:
    folder = layout.item_dir(str(entry["id"]))
    proof = parse_json(members[f"{folder}proof.json"], "proof.json")
    head_path = str(proof["tree_head"])
    head = Signed(body=members[head_path], signature=members[head_path[: -len(".json")] + ".sig"])
    private = entry.get("private")
    return Record(
        id=bytes.fromhex(str(entry["id"])),
        name=safe_name(str(entry["name"])),
        data=members[str(entry["file"])],
        statement=Signed(
            body=members[f"{folder}statement.json"], signature=members[f"{folder}statement.sig"]
        ),
        private=members[private] if private else None,
        leaf_index=None,
        added_at=now,
        origin=Origin(
            sender=sender,
            sender_key=sender_key,
            received_at=now,
            head=head,
            leaf_index=int(proof["leaf_index"]),
            tree_size=int(proof["tree_size"]),
            audit_path=[bytes.fromhex(p) for p in proof["audit_path"]],
        ),
    )


def _on_file(db: Database, message: int, data: bytes) -> None:
    if not data.startswith(_ZIP_MAGIC):
        return
    row = db.one("SELECT contact_id, stored_at FROM messages WHERE rowid_ = ?", (message,))
    if row is None:
        return
    contact = contacts.contact_by_id(db, int(row["contact_id"]))
    file_received(
        db,
        data,
        sender=contact.alias,
        sender_key=contact.peer.ed25519.hex(),
        now=int(row["stored_at"]),
    )


on_file_received(_on_file)
