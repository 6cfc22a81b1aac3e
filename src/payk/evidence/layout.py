"""Where things are inside an evidence bundle, and the SHA256SUMS format: shared by both ends.

Strategy: one module names every member path, so the writer (``bundle``), the checker
(``check``) and the README cannot drift apart. ``SHA256SUMS`` is exactly what
``sha256sum`` writes (hash, two spaces, path), sorted by path, so it can be regenerated from
the members and compared byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BUNDLE_TYPE",
    "HEAD",
    "HEAD_SIG",
    "LOG",
    "MANIFEST",
    "MANIFEST_SIG",
    "README",
    "SIGNER",
    "SUMS",
    "SUMS_SIG",
    "describe",
    "item_dir",
    "parse_sums",
    "render_sums",
]

BUNDLE_TYPE = "payk/v1/evidence/bundle"
README = "README.txt"
SIGNER = "signer.pem"
HEAD = "tree-head.json"
HEAD_SIG = "tree-head.sig"
LOG = "log.txt"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.sig"

_ITEM_PARTS = {
    "statement.json": "the signed statement",
    "statement.sig": "the signature of the statement",
    "proof.json": "the inclusion proof",
    "private.json": "the private metadata (location, device)",
    "origin/signer.pem": "the sender's public key",
    "origin/tree-head.json": "the sender's signed tree head",
    "origin/tree-head.sig": "the signature of the sender's tree head",
}
_TOP = {
    README: "the README",
    SIGNER: "the signer's public key",
    HEAD: "the signed tree head",
    HEAD_SIG: "the signature of the tree head",
    LOG: "the log",
    MANIFEST: "the manifest",
    MANIFEST_SIG: "the signature of the manifest",
    SUMS: "the list of SHA-256 sums",
    SUMS_SIG: "the signature of the list of SHA-256 sums",
}


def item_dir(item_id: str) -> str:
    """The folder of one item (its hex id)."""
    return f"items/{item_id}/"


def describe(path: str) -> str:
    """A member path with what it is, for reports: ``items/ab12…/proof.json (the inclusion…)``."""
    if path in _TOP:
        return f"{path} ({_TOP[path]})"
    parts = path.split("/", 2)
    if len(parts) == 3 and parts[0] == "items":
        short = parts[1][:12]
        if parts[2] in _ITEM_PARTS:
            return f"{path} ({_ITEM_PARTS[parts[2]]} of item {short})"
        if parts[2].startswith("file/"):
            return f"{path} (the file of item {short})"
        if parts[2].startswith("c2pa/"):
            return f"{path} (the C2PA-signed copy of item {short})"
    return path


def render_sums(hashes: Mapping[str, str]) -> bytes:
    """``sha256sum`` output for ``path -> hex digest``, sorted by path."""
    return "".join(f"{hashes[path]}  {path}\n" for path in sorted(hashes)).encode()


def parse_sums(data: bytes) -> dict[str, str] | None:
    """``path -> hex digest`` from ``sha256sum`` output, or None when it is not that format."""
    out: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for line in text.splitlines():
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            return None
        out[path] = digest
    return out
