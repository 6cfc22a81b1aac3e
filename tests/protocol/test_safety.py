"""Safety codes: the same on both sides, different for different keys."""

from __future__ import annotations

import re

from payk.protocol.identity import Identity
from payk.protocol.safety import safety_code, safety_qr_payload, verify_qr_payload


def test_code_is_sixty_digits_and_order_independent() -> None:
    a, b = Identity.generate().public, Identity.generate().public
    code = safety_code(a, b)
    assert re.fullmatch(r"(\d{5} ){11}\d{5}", code)
    assert safety_code(b, a) == code
    assert safety_code(a.keys, b.keys) == code


def test_code_changes_with_either_key() -> None:
    a, b, c = (Identity.generate().public for _ in range(3))
    assert safety_code(a, b) != safety_code(a, c)
    assert safety_code(a, b) != safety_code(c, b)


def test_qr_payload_verifies_only_for_the_right_pair() -> None:
    a, b, mallory = (Identity.generate().public for _ in range(3))
    shown_by_b = safety_qr_payload(b, a)
    assert verify_qr_payload(shown_by_b, a, b)
    assert not verify_qr_payload(shown_by_b, a, mallory)
    assert not verify_qr_payload(safety_qr_payload(mallory, a), a, b)
    assert not verify_qr_payload(safety_qr_payload(a, b), a, b)  # own code shown back
    assert not verify_qr_payload(shown_by_b[:-1], a, b)
    assert not verify_qr_payload(b"", a, b)
