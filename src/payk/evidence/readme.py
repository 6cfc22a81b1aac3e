"""The README inside every bundle: how to check it without payk, with standard tools.

Strategy: the commands are written as one shell script in a fenced block, in the order a
careful reader would run them (hashes, signatures, Merkle proofs), and the bundle test runs
exactly that block against real ``sha256sum``, ``openssl`` and ``python3``. The Python part
uses only the standard library and restates RFC 9162's verification algorithm in a dozen
lines, so a court expert can read all of it.
"""

from __future__ import annotations

__all__ = ["SCRIPT_END", "SCRIPT_START", "readme"]

SCRIPT_START = "```sh\n"
SCRIPT_END = "```\n"

_INTRO = """\
payk evidence bundle
====================

This archive holds {items} evidence item(s) recorded with payk, each with a statement
signed by the person who recorded it, and a proof that the statement is entry number N of
their append-only log (a Merkle tree as in RFC 6962 / RFC 9162) whose signed tree head is
included. Nothing here needs payk to be checked: run the commands below in the folder where
this archive was unpacked (OpenSSL 3.0 or later, GNU coreutils, Python 3).

  signer.pem              the Ed25519 public key of whoever exported this bundle
  SHA256SUMS(.sig)        the SHA-256 of every other file, and its signature
  manifest.json(.sig)     what each item is, and its signature
  tree-head.json(.sig)    the size and root of the signer's log at export, signed
  log.txt                 the log: the leaf hash of every statement, in order
  items/ID/file/NAME      the file (or, when location was stripped, the shared copy)
  items/ID/statement.json the signed statement: SHA-256, size, type, times, note
  items/ID/statement.sig  its Ed25519 signature (raw 64 bytes)
  items/ID/proof.json     the inclusion proof (audit path) of the statement
  items/ID/private.json   GPS position and device identifiers, committed to by the
                          statement's "private_sha256" (left out when stripped)
  items/ID/origin/        for items received from someone else: their key and tree head
  items/ID/c2pa/NAME      (when present) the same copy with a C2PA manifest embedded, for
                          C2PA tools (c2patool); it is the file above plus APP11 segments

Compare the key in signer.pem (and in items/*/origin/signer.pem) with the key you expect
from the person, through a channel you trust; every check below is relative to that key.
"""

_STRIPPED = """
This bundle was exported with --strip-location: JPEG files are shared without their
metadata segments (EXIF, XMP, IPTC, comments) and without private.json. Each statement
lists a SHA-256 for every segment of the original file (metadata segments salted, so a
guessed location cannot be confirmed); the last check below shows that every remaining
segment of the shared copy is, in order, exactly a segment of the original.
"""

_SCRIPT_HEAD = """
Run:

```sh
set -e
sha256sum -c --quiet SHA256SUMS
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in manifest.json -sigfile manifest.sig
"""

_SCRIPT_HEAD_LOG = """\
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in tree-head.json -sigfile tree-head.sig
"""

_SCRIPT_ITEMS = """\
for d in items/*/; do
  key=signer.pem
  if [ -f "${d}origin/signer.pem" ]; then
    key="${d}origin/signer.pem"
    openssl pkeyutl -verify -pubin -inkey "$key" -rawin \\
      -in "${d}origin/tree-head.json" -sigfile "${d}origin/tree-head.sig"
  fi
  openssl pkeyutl -verify -pubin -inkey "$key" -rawin \\
    -in "${d}statement.json" -sigfile "${d}statement.sig"
done
python3 - <<'EOF'
import hashlib, json
H = lambda b: hashlib.sha256(b).digest()
def path_root(i, n, h, path):  # RFC 9162, 2.1.3.2
    fn, sn = i, n - 1
    for p in path:
        if fn & 1 or fn == sn:
            h = H(b"\\x01" + p + h)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            h = H(b"\\x01" + h + p)
        fn, sn = fn >> 1, sn >> 1
    return h if sn == 0 else None
def tree_root(leaves):  # RFC 9162, 2.1.1
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return H(b"\\x01" + tree_root(leaves[:k]) + tree_root(leaves[k:]))
manifest = json.load(open("manifest.json"))
for item in manifest["items"]:
    d = "items/" + item["id"] + "/"
    statement = open(d + "statement.json", "rb").read()
    proof = json.load(open(d + "proof.json"))
    head = json.load(open(proof["tree_head"]))
    path = [bytes.fromhex(p) for p in proof["audit_path"]]
    leaf = H(b"\\x00" + statement)
    assert proof["tree_size"] == head["size"], d + "proof.json: wrong tree size"
    root = path_root(proof["leaf_index"], head["size"], leaf, path)
    assert root == bytes.fromhex(head["root"]), d + "proof.json: does not lead to the signed root"
    facts = json.loads(statement)
    data = open(item["file"], "rb").read()
    if not item["stripped"]:
        assert H(data).hex() == facts["file"]["sha256"], item["file"] + ": not the signed file"
    else:  # every kept segment of the copy is, in order, a segment of the original
        kept = [s for i, s in enumerate(facts["segments"]["hashes"])
                if i not in item["removed_segments"]]
        assert all(facts["segments"]["hashes"][i][2] for i in item["removed_segments"])
        pos, ends = 0, []
        for marker, digest, _ in kept:
            if marker == 0xDA:
                ends.append(len(data))
            else:
                size = int.from_bytes(data[pos + 2:pos + 4], "big")
                ends.append(pos + (2 if marker == 1 or 0xD0 <= marker <= 0xD8 else 2 + size))
            assert H(data[pos:ends[-1]]).hex() == digest, item["file"] + ": a segment differs"
            pos = ends[-1]
        assert pos == len(data), item["file"] + ": extra bytes"
    if item["private"]:
        assert H(open(item["private"], "rb").read()).hex() == facts["private_sha256"]
    print("ok", item["id"], item["name"], "is entry", proof["leaf_index"], "of", head["size"])
"""

_SCRIPT_LOG = """\
log = [bytes.fromhex(line) for line in open("log.txt").read().split()]
head = json.load(open("tree-head.json"))
assert len(log) == head["size"], "log.txt does not have the signed number of entries"
assert tree_root(log).hex() == head["root"], "log.txt does not lead to the signed root"
print("ok the log of", len(log), "entries leads to the signed tree head")
"""

_SCRIPT_END = """\
EOF
```

To check that a later bundle's log extends an earlier one's (nothing removed or rewritten),
run: payk evidence verify LATER.zip --previous EARLIER.zip (it computes and checks the RFC
9162 consistency proof between the two signed tree heads).
"""


def readme(*, has_log: bool, stripped: bool, items: int) -> str:
    """The README text for a bundle with these properties."""
    text = _INTRO.format(items=items)
    if stripped:
        text += _STRIPPED
    text += _SCRIPT_HEAD + (_SCRIPT_HEAD_LOG if has_log else "") + _SCRIPT_ITEMS
    text += (_SCRIPT_LOG if has_log else "") + _SCRIPT_END
    return text
