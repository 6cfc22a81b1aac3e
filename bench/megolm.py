"""Megolm beside the pairwise figures: what a group message costs in bare vodozemac.

Strategy: the crypto area (``bench.crypto``) compares payk's pairwise seal + open with bare
Olm and bare ChaCha20-Poly1305; this area adds bare vodozemac Megolm, the reference for a
group message, with the same 256-byte message and the same timing helper (median
microseconds per operation over several repeats, fastest and slowest repeat as the spread,
set-up not timed). Three figures: one outbound encrypt, one inbound decrypt, and an encrypt
read by ten inbound sessions (what one group message costs ten readers together).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import vodozemac

from bench.crypto import MESSAGE, _timed

__all__ = ["run"]

READERS = 10
_PREPARED = 20_000


def _encrypt() -> Callable[[int], None]:
    session = vodozemac.GroupSession()

    def loop(count: int) -> None:
        for _ in range(count):
            session.encrypt(MESSAGE)

    return loop


def _decrypt() -> Callable[[int], None]:
    """Decrypt a prepared run of messages in order (each index once, as a reader does)."""
    session = vodozemac.GroupSession()
    inbound = vodozemac.InboundGroupSession(session.session_key)
    prepared = [session.encrypt(MESSAGE) for _ in range(_PREPARED)]

    def loop(count: int) -> None:
        for message in prepared[:count]:
            inbound.decrypt(message)

    return loop


def _fan_out() -> Callable[[int], None]:
    session = vodozemac.GroupSession()
    readers = [vodozemac.InboundGroupSession(session.session_key) for _ in range(READERS)]

    def loop(count: int) -> None:
        for _ in range(count):
            message = session.encrypt(MESSAGE)
            for reader in readers:
                reader.decrypt(message)

    return loop


def run(quick: bool) -> dict[str, Any]:
    """Microseconds per operation for bare Megolm; ``quick`` shortens the loops."""
    repeats = 3 if quick else 15
    count = 200 if quick else 5000
    encrypt = _timed(_encrypt, count, repeats)
    decrypt = _timed(_decrypt, count, repeats)
    fan_out = _timed(_fan_out, count // 10, repeats)
    return {
        "message_bytes": len(MESSAGE),
        "megolm_encrypt": encrypt,
        "megolm_decrypt": decrypt,
        "megolm_seal_open_us": encrypt["median_us"] + decrypt["median_us"],
        f"megolm_encrypt_and_{READERS}_readers": fan_out,
    }
