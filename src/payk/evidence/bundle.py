"""Writing an evidence bundle: a zip that anyone can check offline with standard tools.

Strategy: pure, bytes in and bytes out. Each item gets a folder with its file (or shared
copy), its statement and signature, its inclusion proof and, unless location is stripped,
the private object the statement commits to; items received from a contact also carry the
sender's key and signed tree head. At the top: the exporter's key (PEM, for openssl), the
signed tree head, the full log (one leaf hash per line) and a README. Two signed lists then
cover every member, each vouching for the other's subject: ``manifest.json`` (hashes of the
payload, item descriptions) with ``manifest.sig``, and ``SHA256SUMS`` (the payload plus the
manifest and its signature) with ``SHA256SUMS.sig``. Because each signed list is vouched for
by the other, a change to any single member, signatures included, is named exactly by
``check``. With ``strip`` a JPEG is shared without its metadata segments (see ``jpeg``), which
the statement's per-segment hashes still tie to the original; other files cannot be stripped
and are reported in ``warnings``. With a ``c2pa`` embedder (``payk[c2pa]``), each JPEG copy is
also included with a C2PA manifest, under ``items/ID/c2pa/``. Zip entries carry a fixed
date, so bundles do not leak when they were written beyond ``created_at``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from payk.errors import LocalProtocolError
from payk.evidence import jpeg, layout, merkle
from payk.evidence.keys import public_key_to_pem
from payk.evidence.readme import readme
from payk.evidence.statement import Signed, canonical, parse_json
from payk.evidence.vault import Record
from payk.protocol.primitives import sha256

__all__ = ["Built", "Export", "build", "shared_copy"]

Sign = Callable[[bytes], bytes]
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Export:
    """What goes into a bundle: the items, the exporter's log and head, and the options."""

    records: Sequence[Record]
    log: Sequence[bytes]
    head: Signed | None
    strip: bool
    created_at: int
    c2pa: Callable[[bytes, str], bytes | None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """A finished bundle and what the person should know about it."""

    data: bytes
    tree_size: int
    root: str | None
    warnings: list[str] = field(default_factory=list)


def shared_copy(record: Record, *, strip: bool) -> tuple[bytes, list[int] | None]:
    """The bytes to share and, when stripped, which of the original's segments were left out."""
    if not strip or record.fields.get("segments") is None:
        return record.data, None
    segments = jpeg.split(record.data)
    if segments is None:
        return record.data, None
    removed = [i for i, s in enumerate(segments) if s.removable]
    return b"".join(s.data for s in segments if not s.removable), removed


def build(export: Export, *, key: bytes, sign: Sign) -> Built:
    """The zip bundle for ``export``, signed with ``sign`` (the profile's identity key)."""
    members: dict[str, bytes] = {layout.SIGNER: public_key_to_pem(key)}
    head_fields: dict[str, Any] | None = None
    if export.head is not None:
        members[layout.HEAD] = export.head.body
        members[layout.HEAD_SIG] = export.head.signature
        members[layout.LOG] = "".join(h.hex() + "\n" for h in export.log).encode()
        head_fields = parse_json(export.head.body, "the tree head")
    entries, warnings = [], []
    for record in export.records:
        entry, files, warning = _item(record, export)
        entries.append(entry)
        members.update(files)
        if warning:
            warnings.append(warning)
    members[layout.README] = readme(
        has_log=export.head is not None, stripped=export.strip, items=len(entries)
    ).encode()
    _sign_lists(members, entries, export, key, sign)
    return Built(
        data=_zip(members),
        tree_size=int(head_fields["size"]) if head_fields else 0,
        root=str(head_fields["root"]) if head_fields else None,
        warnings=warnings,
    )


def _sign_lists(
    members: dict[str, bytes], entries: list[dict[str, Any]], export: Export, key: bytes, sign: Sign
) -> None:
    payload = {path: sha256(data).hex() for path, data in members.items()}
    manifest = canonical(
        {
            "type": layout.BUNDLE_TYPE,
            "signer": key.hex(),
            "created_at": export.created_at,
            "stripped": export.strip,
            "tree_head": layout.HEAD if export.head is not None else None,
            "items": entries,
            "members": payload,
        }
    )
    members[layout.MANIFEST] = manifest
    members[layout.MANIFEST_SIG] = sign(manifest)
    sums = layout.render_sums(
        {
            **payload,
            layout.MANIFEST: sha256(manifest).hex(),
            layout.MANIFEST_SIG: sha256(members[layout.MANIFEST_SIG]).hex(),
        }
    )
    members[layout.SUMS] = sums
    members[layout.SUMS_SIG] = sign(sums)


def _item(record: Record, export: Export) -> tuple[dict[str, Any], dict[str, bytes], str | None]:
    item_id = record.id.hex()
    folder = layout.item_dir(item_id)
    data, removed = shared_copy(record, strip=export.strip)
    files = {
        f"{folder}file/{record.name}": data,
        f"{folder}statement.json": record.statement.body,
        f"{folder}statement.sig": record.statement.signature,
    }
    if record.private is not None and not export.strip:
        files[f"{folder}private.json"] = record.private
    proof, origin = _proof(record, export, folder, files)
    files[f"{folder}proof.json"] = canonical(proof)
    signed_copy = export.c2pa(data, record.name) if export.c2pa is not None else None
    if signed_copy is not None:
        files[f"{folder}c2pa/{record.name}"] = signed_copy
    entry = {
        "id": item_id,
        "name": record.name,
        "file": f"{folder}file/{record.name}",
        "sha256": sha256(data).hex(),
        "stripped": removed is not None,
        "removed_segments": removed,
        "private": f"{folder}private.json" if f"{folder}private.json" in files else None,
        "origin": origin,
        "c2pa": f"{folder}c2pa/{record.name}" if signed_copy is not None else None,
    }
    warning = None
    if export.strip and removed is None:
        warning = f"{record.name}: only JPEG metadata can be removed; this file is shared as it is"
    return entry, files, warning


def _proof(
    record: Record, export: Export, folder: str, files: dict[str, bytes]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if record.origin is None:
        index = record.leaf_index
        if index is None or index >= len(export.log):
            raise LocalProtocolError("an item of this profile is missing from its log")
        path = merkle.inclusion_proof(index, export.log)
        proof = {
            "leaf_index": index,
            "tree_size": len(export.log),
            "audit_path": [p.hex() for p in path],
            "tree_head": layout.HEAD,
        }
        return proof, None
    origin = record.origin
    files[f"{folder}origin/signer.pem"] = public_key_to_pem(
        bytes.fromhex(json.loads(record.statement.body)["signer"])
    )
    files[f"{folder}origin/tree-head.json"] = origin.head.body
    files[f"{folder}origin/tree-head.sig"] = origin.head.signature
    proof = {
        "leaf_index": origin.leaf_index,
        "tree_size": origin.tree_size,
        "audit_path": [p.hex() for p in origin.audit_path],
        "tree_head": f"{folder}origin/tree-head.json",
    }
    described = {
        "from": origin.sender,
        "sender_key": origin.sender_key,
        "received_at": origin.received_at,
    }
    return proof, described


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(members):
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[path])
    return buffer.getvalue()
