"""Crypto benchmark: what payk's post-quantum outer layer costs over bare Olm and bare AEAD.

Strategy: each figure is the median time per operation over several repeats (with the
fastest and slowest repeat as the spread), measured with ``time.perf_counter`` around loops
of a few hundred operations; set-up is not timed. Compared, per 256-byte message: payk's
``PairwiseSession`` seal + open (default config, so one ML-KEM rotation every 100 messages is
included), bare vodozemac Olm encrypt + decrypt (both ping-pong, so Olm's ratchet turns on
every message), and one bare ChaCha20-Poly1305 seal + open. Session setup: payk's invitation
+ accept + first message + respond (ML-KEM included) against vodozemac's one-time key +
outbound + first message + inbound + reply. Wire codec: msgspec vs cbor2 encode + decode of
a small message struct, to justify msgspec. Nothing is printed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import cbor2
import msgspec
import vodozemac

from payk.protocol import primitives as p
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.identity import Identity
from payk.protocol.invite import create_invitation
from payk.protocol.session import PairwiseSession

__all__ = ["run"]

MESSAGE = bytes(range(256))
_NOW = 1_000
_MAILBOX = MailboxAddress(
    relay=RelayAddress(fingerprint=b"\x01" * 32, host="relay.example.org", port=443),
    send_id=b"\x02" * 16,
)


class _Small(msgspec.Struct):
    kind: int
    envelope_id: bytes
    sent_at: int
    text: str
    tags: list[str]


_SMALL = _Small(
    kind=2, envelope_id=b"\x07" * 16, sent_at=1_700_000_000, text="hi " * 20, tags=["a"]
)
_SMALL_DICT = msgspec.structs.asdict(_SMALL)


def _timed(
    make_loop: Callable[[], Callable[[int], None]], count: int, repeats: int
) -> dict[str, float]:
    """Microseconds per operation: median, fastest and slowest repeat (set-up not timed)."""
    per_op = []
    for _ in range(repeats):
        loop = make_loop()
        started = time.perf_counter()
        loop(count)
        per_op.append((time.perf_counter() - started) / count * 1e6)
    return {
        "median_us": statistics.median(per_op),
        "min_us": min(per_op),
        "max_us": max(per_op),
        "repeats": repeats,
        "ops_per_repeat": count,
    }


def _payk_pair() -> tuple[PairwiseSession, PairwiseSession]:
    alice_id, bob_id = Identity.generate(), Identity.generate()
    invitation, secret = create_invitation(alice_id, [_MAILBOX], now=_NOW)
    bob = PairwiseSession.accept(bob_id, invitation, now=_NOW)
    alice, _ = PairwiseSession.respond(alice_id, secret, bob.seal(b"hi", now=_NOW), now=_NOW)
    bob.open(alice.seal(b"hello", now=_NOW), now=_NOW)
    return alice, bob


def _payk_messages() -> Callable[[int], None]:
    """Ping-pong, so every message also turns Olm's ratchet (the usual chat pattern)."""
    alice, bob = _payk_pair()

    def loop(count: int) -> None:
        for _ in range(count // 2):
            bob.open(alice.seal(MESSAGE, now=_NOW), now=_NOW)
            alice.open(bob.seal(MESSAGE, now=_NOW), now=_NOW)

    return loop


def _olm_pair() -> tuple[vodozemac.Session, vodozemac.Session]:
    alice, bob = vodozemac.Account(), vodozemac.Account()
    alice.generate_one_time_keys(1)
    one_time_key = next(iter(alice.one_time_keys.values()))
    outbound = bob.create_outbound_session(alice.curve25519_key, one_time_key)
    pre_key = outbound.encrypt(b"hi").to_pre_key()
    assert pre_key is not None
    inbound, _ = alice.create_inbound_session(bob.curve25519_key, pre_key)
    outbound.decrypt(inbound.encrypt(b"hello"))
    return inbound, outbound


def _olm_messages() -> Callable[[int], None]:
    """Bare vodozemac, the same ping-pong."""
    alice, bob = _olm_pair()

    def loop(count: int) -> None:
        for _ in range(count // 2):
            bob.decrypt(alice.encrypt(MESSAGE))
            alice.decrypt(bob.encrypt(MESSAGE))

    return loop


def _aead_messages() -> Callable[[int], None]:
    key, nonce, ad = bytes(32), bytes(12), bytes(18)

    def loop(count: int) -> None:
        for _ in range(count):
            p.aead_open(key, nonce, p.aead_seal(key, nonce, MESSAGE, ad), ad)

    return loop


def _payk_setup() -> Callable[[int], None]:
    alice_id, bob_id = Identity.generate(), Identity.generate()

    def loop(count: int) -> None:
        for _ in range(count):
            invitation, secret = create_invitation(alice_id, [_MAILBOX], now=_NOW)
            bob = PairwiseSession.accept(bob_id, invitation, now=_NOW)
            PairwiseSession.respond(alice_id, secret, bob.seal(b"hi", now=_NOW), now=_NOW)

    return loop


def _olm_setup() -> Callable[[int], None]:
    def loop(count: int) -> None:
        for _ in range(count):
            _olm_pair()

    return loop


def _msgspec_codec() -> Callable[[int], None]:
    encode, decoder = msgspec.msgpack.encode, msgspec.msgpack.Decoder(_Small)

    def loop(count: int) -> None:
        for _ in range(count):
            decoder.decode(encode(_SMALL))

    return loop


def _cbor_codec() -> Callable[[int], None]:
    def loop(count: int) -> None:
        for _ in range(count):
            cbor2.loads(cbor2.dumps(_SMALL_DICT))

    return loop


def _ratio(a: dict[str, float], b: dict[str, float]) -> float:
    return a["median_us"] / b["median_us"]


def run(quick: bool) -> dict[str, Any]:
    """Measure and return figures (microseconds per operation) and the ratios between them."""
    repeats = 3 if quick else 15
    messages = 100 if quick else 1000
    setups = 5 if quick else 50
    codec = 1000 if quick else 20000
    payk = _timed(_payk_messages, messages, repeats)
    olm = _timed(_olm_messages, messages, repeats)
    aead = _timed(_aead_messages, messages, repeats)
    payk_setup = _timed(_payk_setup, setups, repeats)
    olm_setup = _timed(_olm_setup, setups, repeats)
    packed = _timed(_msgspec_codec, codec, repeats)
    cbor = _timed(_cbor_codec, codec, repeats)
    return {
        "message_256B_seal_open": {"payk": payk, "olm_only": olm, "chacha20poly1305": aead},
        "session_setup": {"payk_with_mlkem": payk_setup, "olm_only": olm_setup},
        "codec_small_struct": {
            "msgspec": packed,
            "cbor2": cbor,
            "msgspec_bytes": len(msgspec.msgpack.encode(_SMALL)),
            "cbor2_bytes": len(cbor2.dumps(_SMALL_DICT)),
        },
        "ratios": {
            "payk_over_olm_per_message": _ratio(payk, olm),
            "payk_over_aead_per_message": _ratio(payk, aead),
            "payk_over_olm_setup": _ratio(payk_setup, olm_setup),
            "cbor2_over_msgspec": _ratio(cbor, packed),
        },
    }
