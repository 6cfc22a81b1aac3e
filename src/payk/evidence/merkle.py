"""The append-only evidence log as an RFC 6962 / RFC 9162 Merkle tree over leaf hashes.

Strategy: the tree is never stored, only its leaf hashes in order; roots and proofs are
computed from them by the recursive definitions of RFC 9162 section 2.1 (a leaf hash is
SHA-256(0x00 || leaf), an interior node SHA-256(0x01 || left || right), the split point the
largest power of two below the size). Verification follows the iterative algorithms of
sections 2.1.3.2 and 2.1.4.2, so a proof checks with nothing but the root it leads to. The
same hashes are computed by the few lines of Python in a bundle's README, without payk.
Pure: no I/O; every check returns a bool and never raises on hostile input.
"""

from __future__ import annotations

from collections.abc import Sequence

from payk.protocol.primitives import constant_time_equal, sha256

__all__ = [
    "HASH_LEN",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_LEN = 32


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return sha256(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a list of leaf hashes (the empty tree is SHA-256 of nothing)."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 9162 2.1.3.1).

    Raises:
        IndexError: ``index`` is not a leaf of this tree (a caller bug).
    """
    if not 0 <= index < len(leaves):
        raise IndexError("no such leaf in the log")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size``."""
    if not 0 <= index < size or any(len(p) != HASH_LEN for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and constant_time_equal(r, expected_root)


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Proof that the tree of the first ``first`` leaves is a prefix of ``leaves`` (2.1.4.1).

    Raises:
        IndexError: ``first`` is not between 1 and the tree size (a caller bug).
    """
    if not 0 < first <= len(leaves):
        raise IndexError("a consistency proof starts from a non-empty prefix of the log")
    return _subproof(first, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete=complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], complete=False), root(leaves[:k])]


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """Whether ``proof`` shows the tree of size ``second`` extends the one of size ``first``."""
    if not 0 < first <= second or any(len(p) != HASH_LEN for p in proof):
        return False
    if first == second:
        return not proof and constant_time_equal(first_root, second_root)
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and constant_time_equal(fr, first_root) and constant_time_equal(sr, second_root)
