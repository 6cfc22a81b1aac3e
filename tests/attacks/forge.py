"""What an attacker builds: envelopes re-sealed with chosen keys, headers and bodies.

Strategy: the tests play the attacker with the protocol's own internals. ``genuine_key``
recomputes the message key the honest sender used (from the sender's state), so an attack
can open a real envelope, change one thing, and seal it again exactly as a forger holding
(or guessing) that key would. The receiving session must then refuse, and ``snapshot``
(from the protocol tests) must show that nothing changed.
"""

from __future__ import annotations

import hashlib
import hmac

from payk.protocol import envelope as env
from payk.protocol import epoch as ep
from payk.protocol import outer
from payk.protocol.session import PairwiseSession

__all__ = [
    "LOW_ORDER_X25519",
    "SMALL_ORDER_ED25519",
    "genuine_key",
    "hkdf_reference",
    "open_inner",
    "reseal",
]

_P = 2**255 - 19


def _le(n: int) -> bytes:
    return n.to_bytes(32, "little")


# Curve25519 u-coordinates of small order (0, 1, the two points of order 8, p - 1) and their
# non-canonical encodings (+p, and the ignored top bit set): the public list every X25519
# implementation is expected to refuse.
_U8_A = 325606250916557431795983626356110631294008115727848805560023387167927233504
_U8_B = 39382357235489614581723060781553021112529911719440698176882885853963445705823
_CANONICAL = [0, 1, _U8_A, _U8_B, _P - 1]
_NON_CANONICAL = [_P, _P + 1]
LOW_ORDER_X25519: tuple[bytes, ...] = tuple(
    bytes(_le(u)[:31]) + bytes((_le(u)[31] | top,))
    for u in _CANONICAL + _NON_CANONICAL
    for top in (0, 0x80)
)

# Ed25519 encodings of the eight points of small order (y = 1, -1, 0, the order-8 pair),
# their non-canonical forms (y + p) and their sign-bit variants: "weak keys".
_ED_Y = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]
SMALL_ORDER_ED25519: tuple[bytes, ...] = tuple(
    bytes.fromhex(h)[:31] + bytes((bytes.fromhex(h)[31] | top,)) for h in _ED_Y for top in (0, 0x80)
)


def hkdf_reference(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 written out over the standard library's HMAC: an independent derivation."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes((i,)), hashlib.sha256).digest()
        out, i = out + block, i + 1
    return out[:length]


def genuine_key(sender: PairwiseSession, data: bytes) -> bytes:
    """The message key the honest ``sender`` sealed the pairwise envelope ``data`` with."""
    parsed = env.unpack(data)
    header, _ = outer.read_pairwise_header(parsed)
    state = sender._state
    direction = ep.INITIATOR if state.initiator else ep.RESPONDER
    key = state.epochs[header.epoch].key
    return ep.message_key(key, parsed.envelope_id, direction, header.epoch, header.counter)


def open_inner(data: bytes, key: bytes) -> tuple[outer.PairwiseHeader, outer.PairwiseInner, bytes]:
    """Header, sealed part and id of a pairwise envelope, opened with ``key``."""
    parsed = env.unpack(data)
    header, start = outer.read_pairwise_header(parsed)
    return header, outer.open_pairwise(parsed, start, key=key), parsed.envelope_id


def reseal(
    data: bytes,
    key: bytes,
    *,
    new_key: bytes,
    header: outer.PairwiseHeader | None = None,
    inner: outer.PairwiseInner | None = None,
    envelope_id: bytes | None = None,
) -> bytes:
    """Open ``data`` with ``key`` and seal it again with what the attacker chose."""
    old_header, old_inner, old_id = open_inner(data, key)
    return outer.seal_pairwise(
        header or old_header,
        inner or old_inner,
        key=new_key,
        envelope_id=envelope_id or old_id,
    )
