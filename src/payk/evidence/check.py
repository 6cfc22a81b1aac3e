"""Checking an evidence bundle offline, naming exactly which part was altered.

Strategy: two layers. The integrity layer establishes ground truth about every member: the
two signed lists (``manifest.json`` and ``SHA256SUMS``) vouch for each other's subject, so
with one valid list every altered member is known by name, and when one list's signature
fails the other decides whether the list or its signature changed (``SHA256SUMS`` is
deterministic, so it can also be rebuilt from the manifest and compared). The semantic layer
then checks what the members say: each statement's signature and signer, each file against
its statement (or, for a stripped copy, segment by segment against the original), the private
object against its commitment, each inclusion proof against its signed tree head, and the
log against the head (truncated, extended, reordered). A semantic check whose inputs are
already known to be altered is skipped, so a consequence is never blamed on an intact part;
the precise semantic findings (a reordered log, a statement signed by another key) replace
the generic "was altered" for the members they explain. Pure: bytes in, a ``Report`` out.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from payk.errors import DecryptionError, IntegrityError
from payk.evidence import jpeg, layout, merkle
from payk.evidence.c2pa_copy import derives
from payk.evidence.keys import key_id, pem_to_public_key
from payk.evidence.statement import HEAD_TYPE, STATEMENT_TYPE, parse_json
from payk.protocol.primitives import sha256, verify

__all__ = ["ItemReport", "Report", "check_bundle", "check_consistency"]

MAX_MEMBERS = 100_000
MAX_MEMBER = 1024 * 1024 * 1024
_REASON = "its SHA-256 does not match the signed lists"
_REASONS = {
    layout.SUMS: "it does not match the signed manifest, and its signature does not verify",
    layout.SUMS_SIG: "it does not verify, though the list of sums matches the signed manifest",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemReport:
    """One item that checked out."""

    id: str
    name: str
    sha256: str
    signer: str
    leaf_index: int
    tree_size: int
    stripped: bool
    sender: str | None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "id": self.id,
            "name": self.name,
            "sha256": self.sha256,
            "signer": self.signer,
            "log_index": self.leaf_index,
            "tree_size": self.tree_size,
            "stripped": self.stripped,
            "from": self.sender,
        }


@dataclass(slots=True, kw_only=True)
class Report:
    """What ``evidence verify`` found: the signer, the log, the items, and every problem."""

    signer: str | None = None
    tree_size: int = 0
    root: str | None = None
    created_at: int | None = None
    items: list[ItemReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    consistency: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether everything checked out."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "ok": self.ok,
            "signer": self.signer,
            "signer_id": key_id(bytes.fromhex(self.signer)) if self.signer else None,
            "tree_size": self.tree_size,
            "root": self.root,
            "created_at": self.created_at,
            "items": [i.as_json() for i in self.items],
            "problems": list(self.problems),
            "consistency": self.consistency,
        }

    def raise_for_problems(self) -> None:
        """Raise ``IntegrityError`` naming the first problem when there is any.

        Raises:
            IntegrityError: the bundle was altered.
        """
        if self.problems:
            more = (
                f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
            )
            raise IntegrityError(f"the evidence bundle was altered: {self.problems[0]}{more}")


def check_bundle(data: bytes, *, expected_signer: bytes | None = None) -> Report:
    """Check every hash, signature and proof of a bundle (never raises on hostile input)."""
    checker = _Checker(data)
    checker.run(expected_signer)
    return checker.report


def check_consistency(earlier: bytes, later: bytes) -> Report:
    """Check the later bundle, and that its log extends the earlier bundle's (RFC 9162)."""
    first, second = _Checker(earlier), _Checker(later)
    first.run(None)
    second.run(None)
    report = second.report
    report.problems += [f"the earlier bundle: {p}" for p in first.report.problems]
    if first.report.ok and second.report.ok:
        report.consistency = _consistency(first, second, report.problems)
    return report


def _consistency(first: _Checker, second: _Checker, problems: list[str]) -> dict[str, Any] | None:
    if first.report.signer != second.report.signer:
        problems.append("the two bundles are signed by different keys")
        return None
    m, n, log = first.report.tree_size, second.report.tree_size, second.log or []
    if m == 0 or m > n:
        problems.append(f"the earlier log has {m} entries and the later {n}: it cannot extend it")
        return None
    proof = merkle.consistency_proof(m, log)
    old, new = bytes.fromhex(first.report.root or ""), bytes.fromhex(second.report.root or "")
    if not merkle.verify_consistency(m, n, proof, old, new):
        problems.append(
            f"the later log does not extend the earlier one: its first {m} entries differ "
            "from the earlier signed tree head (an entry was removed or rewritten)"
        )
        return None
    return {"from_size": m, "to_size": n, "proof": [p.hex() for p in proof]}


def _sig_ok(key: bytes | None, data: bytes | None, signature: bytes | None) -> bool:
    if key is None or data is None or signature is None:
        return False
    try:
        verify(key, data, signature)
    except DecryptionError:
        return False
    return True


class _Checker:
    """One run over one bundle; collects problems instead of stopping at the first."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.members: dict[str, bytes] = {}
        self.report = Report()
        self.altered: set[str] = set()
        self.explained: set[str] = set()
        self.semantic: list[str] = []
        self.log: list[bytes] | None = None

    # --- bookkeeping ---------------------------------------------------------------------

    def problem(self, message: str, *paths: str) -> None:
        self.semantic.append(message)
        self.explained.update(paths)

    def intact(self, *paths: str) -> bool:
        return all(p in self.members and p not in self.altered for p in paths)

    # --- the run -------------------------------------------------------------------------

    def run(self, expected_signer: bytes | None) -> None:
        if not self._open():
            return
        manifest = self._manifest()
        key = self._key(manifest)
        self._integrity(manifest, key)
        if key is not None and expected_signer is not None and key != expected_signer:
            self.problem(
                f"the bundle is signed by key {key_id(key)}, not by the expected "
                f"{key_id(expected_signer)}"
            )
        head = self._own_head(manifest, key)
        self.log = self._log(head)
        if self.intact(layout.MANIFEST):  # an altered manifest cannot say what the items are
            self._items(manifest, key, head)
        self._log_root(head)
        generic = [
            f"{layout.describe(p)} was altered: {_REASONS.get(p, _REASON)}"
            for p in sorted(self.altered - self.explained)
        ]
        self.report.problems = generic + self.semantic

    def _items(
        self, manifest: dict[str, Any], key: bytes | None, head: dict[str, Any] | None
    ) -> None:
        entries = manifest.get("items")
        for n, entry in enumerate(entries if isinstance(entries, list) else []):
            try:
                self._item(entry, key, head)
            except (IntegrityError, KeyError, TypeError, ValueError, AttributeError, IndexError):
                self.problem(
                    f"{layout.describe(layout.MANIFEST)}: the entry of item {n + 1} is malformed",
                    layout.MANIFEST,
                )

    def _open(self) -> bool:
        try:
            archive = zipfile.ZipFile(io.BytesIO(self.data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            self.report.problems = [
                "the file is not a readable zip archive (damaged or not a bundle)"
            ]
            return False
        if len(infos) > MAX_MEMBERS:
            self.report.problems = ["the archive has too many members to be a bundle"]
            return False
        for info in infos:
            self._read(archive, info)
        return True

    def _read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        name = info.filename
        if name in self.members:
            self.problem(f"{layout.describe(name)} appears twice in the archive", name)
            self.altered.add(name)
            return
        if info.file_size > MAX_MEMBER:
            self.members[name] = b""
            self.altered.add(name)
            self.problem(f"{layout.describe(name)} is too large to be part of a bundle", name)
            return
        try:
            self.members[name] = archive.read(info)
        except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError):
            self.members[name] = b""
            self.altered.add(name)
            self.problem(f"{layout.describe(name)} is damaged inside the zip archive", name)
        except RuntimeError:  # encrypted member
            self.members[name] = b""
            self.altered.add(name)
            self.problem(f"{layout.describe(name)} is encrypted inside the zip archive", name)

    def _manifest(self) -> dict[str, Any]:
        raw = self.members.get(layout.MANIFEST)
        if raw is None:
            self.problem(f"{layout.MANIFEST} is missing: this is not a payk evidence bundle")
            return {}
        try:
            manifest = parse_json(raw, layout.MANIFEST)
        except IntegrityError:
            return {}  # the integrity layer names it
        if manifest.get("type") != layout.BUNDLE_TYPE:
            return {}
        self.report.created_at = manifest.get("created_at")
        return manifest

    def _key(self, manifest: dict[str, Any]) -> bytes | None:
        candidates = []
        try:
            candidates.append(
                pem_to_public_key(self.members.get(layout.SIGNER, b""), layout.SIGNER)
            )
        except IntegrityError:
            pass
        try:
            candidates.append(bytes.fromhex(str(manifest.get("signer", ""))))
        except ValueError:
            pass
        for key in candidates:
            if _sig_ok(key, self.members.get(layout.SUMS), self.members.get(layout.SUMS_SIG)) or (
                _sig_ok(
                    key, self.members.get(layout.MANIFEST), self.members.get(layout.MANIFEST_SIG)
                )
            ):
                self.report.signer = key.hex()
                return key
        return candidates[0] if candidates else None

    # --- integrity: which members changed --------------------------------------------------

    def _integrity(self, manifest: dict[str, Any], key: bytes | None) -> None:
        m = self.members
        man_ok = _sig_ok(key, m.get(layout.MANIFEST), m.get(layout.MANIFEST_SIG))
        sums = layout.parse_sums(m[layout.SUMS]) if layout.SUMS in m else None
        sums_ok = sums is not None and _sig_ok(key, m.get(layout.SUMS), m.get(layout.SUMS_SIG))
        listed = manifest.get("members") if man_ok else None
        witnesses = [
            w
            for w in (listed if isinstance(listed, dict) else None, sums if sums_ok else None)
            if w
        ]
        if not witnesses:
            self.problem(
                "neither the manifest nor SHA256SUMS carries a valid signature by the key in "
                f"{layout.SIGNER}: several parts were altered, or another key signed them"
            )
            return
        expected = set().union(*witnesses)
        for path in sorted(expected):
            self._compare(path, witnesses)
        known = expected | {layout.SUMS, layout.SUMS_SIG, layout.MANIFEST, layout.MANIFEST_SIG}
        for path in sorted(set(m) - known):
            self.problem(f"{path} was added: it is not part of the signed bundle", path)
        if man_ok and not sums_ok and isinstance(listed, dict):
            self._which_sums(listed)
        elif sums_ok and not man_ok and not {layout.MANIFEST, layout.MANIFEST_SIG} & self.altered:
            self.problem(
                f"{layout.describe(layout.MANIFEST_SIG)} does not verify", layout.MANIFEST_SIG
            )

    def _compare(self, path: str, witnesses: list[dict[str, str]]) -> None:
        data = self.members.get(path)
        if data is None:
            self.problem(f"{layout.describe(path)} is missing from the bundle", path)
            self.altered.add(path)
            return
        digest = sha256(data).hex()
        if any(w.get(path) not in (None, digest) for w in witnesses):
            self.altered.add(path)

    def _which_sums(self, listed: dict[str, str]) -> None:
        m = self.members
        if layout.SUMS not in m:
            self.problem(f"{layout.describe(layout.SUMS)} is missing", layout.SUMS)
            return
        rebuilt = layout.render_sums(
            {
                **listed,
                layout.MANIFEST: sha256(m[layout.MANIFEST]).hex(),
                layout.MANIFEST_SIG: sha256(m[layout.MANIFEST_SIG]).hex(),
            }
        )
        culprit = layout.SUMS_SIG if rebuilt == m[layout.SUMS] else layout.SUMS
        self.altered.add(culprit)

    # --- semantics: what the members say ----------------------------------------------------

    def _own_head(self, manifest: dict[str, Any], key: bytes | None) -> dict[str, Any] | None:
        if manifest.get("tree_head") is None:
            return None
        return self._head(layout.HEAD, layout.HEAD_SIG, key)

    def _head(self, path: str, sig_path: str, key: bytes | None) -> dict[str, Any] | None:
        if not self.intact(path, sig_path):
            return None
        body, signature = self.members[path], self.members[sig_path]
        try:
            head = parse_json(body, path)
        except IntegrityError as exc:
            self.problem(str(exc), path)
            return None
        if head.get("type") != HEAD_TYPE or not _sig_ok(key, body, signature):
            self.problem(
                f"{layout.describe(path)} does not carry a valid signature", path, sig_path
            )
            return None
        if not _well_formed_head(head):
            self.problem(f"{layout.describe(path)} is malformed", path)
            return None
        if key is not None and path == layout.HEAD:
            self.report.tree_size, self.report.root = int(head["size"]), str(head["root"])
        return head

    def _log(self, head: dict[str, Any] | None) -> list[bytes] | None:
        if head is None or layout.LOG not in self.members:
            return None
        try:
            log = [bytes.fromhex(line) for line in self.members[layout.LOG].decode().split()]
        except (UnicodeDecodeError, ValueError):
            self.problem(
                f"{layout.describe(layout.LOG)} is damaged: not one hash per line", layout.LOG
            )
            return None
        size = int(head["size"])
        if len(log) < size:
            self.problem(
                f"{layout.describe(layout.LOG)} is truncated: it has {len(log)} entries, "
                f"the signed tree head says {size}",
                layout.LOG,
            )
        elif len(log) > size:
            self.problem(
                f"{layout.describe(layout.LOG)} has {len(log)} entries, more than the {size} "
                "the signed tree head covers",
                layout.LOG,
            )
        return log

    def _log_root(self, head: dict[str, Any] | None) -> None:
        log = self.log
        if head is None or log is None or layout.LOG in self.explained or len(log) != head["size"]:
            return
        if merkle.root(log).hex() != head["root"]:
            self.problem(
                f"{layout.describe(layout.LOG)} does not lead to the signed tree head: an entry "
                "was reordered, replaced or altered",
                layout.LOG,
            )

    def _item(self, entry: dict[str, Any], key: bytes | None, head: dict[str, Any] | None) -> None:
        item_id = str(entry["id"])
        folder = layout.item_dir(item_id)
        st_path, sig_path = f"{folder}statement.json", f"{folder}statement.sig"
        item_key, item_head = key, head
        if entry.get("origin") is not None:
            item_key = self._origin_key(folder)
            item_head = self._head(
                f"{folder}origin/tree-head.json", f"{folder}origin/tree-head.sig", item_key
            )
        statement = self._statement(item_id, st_path, sig_path, item_key)
        if statement is None:
            return
        copy_ok = self._file(entry, statement)
        if copy_ok:
            self._c2pa(entry)
        self._private(entry, statement)
        proof = self._proof(folder, statement, item_head, own=entry.get("origin") is None)
        if proof is not None and copy_ok:
            self.report.items.append(
                ItemReport(
                    id=item_id,
                    name=str(entry["name"]),
                    sha256=str(statement["file"]["sha256"]),
                    signer=str(statement["signer"]),
                    leaf_index=proof[0],
                    tree_size=proof[1],
                    stripped=bool(entry.get("stripped")),
                    sender=(entry.get("origin") or {}).get("from"),
                )
            )

    def _origin_key(self, folder: str) -> bytes | None:
        path = f"{folder}origin/signer.pem"
        if not self.intact(path):
            return None
        try:
            return pem_to_public_key(self.members[path], path)
        except IntegrityError as exc:
            self.problem(str(exc), path)
            return None

    def _statement(
        self, item_id: str, path: str, sig_path: str, key: bytes | None
    ) -> dict[str, Any] | None:
        if path not in self.members or sig_path not in self.members or key is None:
            return None
        body, signature = self.members[path], self.members[sig_path]
        if _sig_ok(key, body, signature):
            try:
                statement = parse_json(body, path)
            except IntegrityError as exc:
                self.problem(str(exc), path)
                return None
            if statement.get("type") != STATEMENT_TYPE or statement.get("id") != item_id:
                self.problem(f"{layout.describe(path)} is the statement of another item", path)
                return None
            return statement
        self._bad_statement(path, sig_path, key)
        return None

    def _bad_statement(self, path: str, sig_path: str, key: bytes) -> None:
        body, signature = self.members[path], self.members[sig_path]
        try:
            claimed = bytes.fromhex(str(parse_json(body, path).get("signer", "")))
        except (IntegrityError, ValueError):
            claimed = b""
        if claimed and claimed != key and _sig_ok(claimed, body, signature):
            self.problem(
                f"{layout.describe(path)} is signed by another key ({key_id(claimed)}), not by "
                f"the signer of the bundle ({key_id(key)})",
                path,
                sig_path,
            )
        elif self.intact(path, sig_path):
            self.problem(f"{layout.describe(sig_path)} does not verify", path, sig_path)

    def _file(self, entry: dict[str, Any], statement: dict[str, Any]) -> bool:
        path = str(entry["file"])
        if path not in self.members:
            return False
        data = self.members[path]
        if not entry.get("stripped"):
            if sha256(data).hex() == statement["file"]["sha256"]:
                return True
            self.problem(
                f"{layout.describe(path)} is not the file its statement was signed over", path
            )
            return False
        problem = _derived(data, statement, entry.get("removed_segments") or [])
        if problem is None:
            return True
        self.problem(f"{layout.describe(path)} does not derive from the original: {problem}", path)
        return False

    def _c2pa(self, entry: dict[str, Any]) -> None:
        path = entry.get("c2pa")
        if path is None or path not in self.members:
            return
        if not derives(self.members[path], self.members[str(entry["file"])]):
            self.problem(
                f"{layout.describe(path)} is not the shared copy with a C2PA manifest added", path
            )

    def _private(self, entry: dict[str, Any], statement: dict[str, Any]) -> None:
        path = entry.get("private")
        if path is None or path not in self.members:
            return
        if sha256(self.members[path]).hex() != statement.get("private_sha256"):
            self.problem(f"{layout.describe(path)} is not what the statement commits to", path)

    def _proof(
        self, folder: str, statement: dict[str, Any], head: dict[str, Any] | None, *, own: bool
    ) -> tuple[int, int] | None:
        path = f"{folder}proof.json"
        if head is None or not self.intact(path):
            return None
        leaf = merkle.leaf_hash(self.members[f"{folder}statement.json"])
        try:
            proof = parse_json(self.members[path], path)
            index, size = int(proof["leaf_index"]), int(proof["tree_size"])
            audit = [bytes.fromhex(p) for p in proof["audit_path"]]
        except (IntegrityError, KeyError, TypeError, ValueError):
            self.problem(f"{layout.describe(path)} is damaged", path)
            return None
        if size != head["size"] or not merkle.verify_inclusion(
            index, size, leaf, audit, bytes.fromhex(head["root"])
        ):
            self.problem(f"{layout.describe(path)} does not lead to the signed tree head", path)
            return None
        if own:
            self._in_log(index, leaf, statement)
        return index, size

    def _in_log(self, index: int, leaf: bytes, statement: dict[str, Any]) -> None:
        log = self.log
        if log is None or (index < len(log) and log[index] == leaf):
            return
        where = f"entry {log.index(leaf)}" if leaf in log else "missing"
        self.problem(
            f"{layout.describe(layout.LOG)} is reordered or rewritten: the statement of item "
            f"{str(statement['id'])[:12]} is {where}, its signed proof puts it at entry {index}",
            layout.LOG,
        )


def _well_formed_head(head: dict[str, Any]) -> bool:
    size, root = head.get("size"), head.get("root")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(root, str):
        return False
    return len(root) == 2 * merkle.HASH_LEN and all(c in "0123456789abcdef" for c in root)


def _derived(data: bytes, statement: dict[str, Any], removed: list[int]) -> str | None:
    """Why a stripped copy is not the original minus removable segments, or None if it is."""
    committed = (statement.get("segments") or {}).get("hashes")
    segments = jpeg.split(data)
    if not isinstance(committed, list) or segments is None:
        return "it is not a JPEG whose segments the statement lists"
    if any(not 0 <= i < len(committed) or not committed[i][2] for i in removed):
        return "a segment it leaves out is not a metadata segment"
    kept = [c for i, c in enumerate(committed) if i not in set(removed)]
    if len(kept) != len(segments):
        return f"it has {len(segments)} segments where {len(kept)} remain from the original"
    for n, (segment, (marker, digest, _)) in enumerate(zip(segments, kept, strict=True)):
        if segment.marker != marker or sha256(segment.data).hex() != digest:
            return f"segment {n} differs from the original's"
    return None
