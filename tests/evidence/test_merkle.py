"""The evidence log's Merkle tree against the RFC 6962 reference vectors, and by property.

Reference data: the tree heads, audit paths and consistency proofs published with the
Certificate Transparency reference implementation for the eight leaves below (RFC 6962).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payk.evidence import merkle

LEAVES = [
    merkle.leaf_hash(bytes.fromhex(h))
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (0, 1, []),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _root(n: int) -> bytes:
    return bytes.fromhex(ROOTS[n])


@pytest.mark.parametrize("n", range(9))
def test_roots_match_the_reference(n: int) -> None:
    assert merkle.root(LEAVES[:n]).hex() == ROOTS[n]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(index, LEAVES[:size])
    assert [p.hex() for p in proof] == path
    assert merkle.verify_inclusion(index, size, LEAVES[index], proof, _root(size))
    assert not merkle.verify_inclusion(index, size, LEAVES[index], proof, _root(size - 1))
    assert not merkle.verify_inclusion(index, size, LEAVES[index - 1], proof, _root(size)) or (
        size == 1
    )


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(first: int, second: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(first, LEAVES[:second])
    assert [p.hex() for p in proof] == path
    assert merkle.verify_consistency(first, second, proof, _root(first), _root(second))
    assert not merkle.verify_consistency(first, second, proof, _root(second), _root(second)) or (
        first == second
    )


def test_misuse_and_hostile_proofs() -> None:
    with pytest.raises(IndexError):
        merkle.inclusion_proof(3, LEAVES[:3])
    with pytest.raises(IndexError):
        merkle.consistency_proof(0, LEAVES[:3])
    proof = merkle.inclusion_proof(2, LEAVES)
    assert not merkle.verify_inclusion(8, 8, LEAVES[2], proof, _root(8))
    assert not merkle.verify_inclusion(-1, 8, LEAVES[2], proof, _root(8))
    assert not merkle.verify_inclusion(2, 8, LEAVES[2], [*proof, proof[0]], _root(8))
    assert not merkle.verify_inclusion(2, 8, LEAVES[2], proof[:-1], _root(8))
    assert not merkle.verify_inclusion(2, 8, LEAVES[2], [b"short", *proof[1:]], _root(8))
    assert not merkle.verify_consistency(5, 3, [], _root(5), _root(3))
    assert not merkle.verify_consistency(3, 3, [LEAVES[0]], _root(3), _root(3))
    assert not merkle.verify_consistency(3, 8, [], _root(3), _root(8))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_every_proof_verifies_and_every_flip_fails(
    leaves_raw: list[bytes], data: st.DataObject
) -> None:
    leaves = [merkle.leaf_hash(x) for x in leaves_raw]
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1))
    first = data.draw(st.integers(1, n))
    top = merkle.root(leaves)
    proof = merkle.inclusion_proof(index, leaves)
    assert merkle.verify_inclusion(index, n, leaves[index], proof, top)
    consistency = merkle.consistency_proof(first, leaves)
    assert merkle.verify_consistency(first, n, consistency, merkle.root(leaves[:first]), top)
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not merkle.verify_inclusion(index, n, leaves[index], bad, top)
    for i in range(len(consistency)):
        bad = list(consistency)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not merkle.verify_consistency(first, n, bad, merkle.root(leaves[:first]), top)
    if n > 1 and leaves[0] != leaves[1]:
        swapped = [leaves[1], leaves[0], *leaves[2:]]
        assert merkle.root(swapped) != top
