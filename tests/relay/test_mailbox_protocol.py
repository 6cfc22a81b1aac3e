"""The recipes both roles share: what is signed, the proof of work."""

from __future__ import annotations

from payk.protocol import mailbox as mb


def test_auth_messages_are_bound_to_nonce_id_and_purpose() -> None:
    nonce, other = b"n" * 32, b"o" * 32
    message = mb.auth_message(nonce, b"r" * 16)
    assert message.startswith(b"payk/v1/relay/auth")
    assert message != mb.auth_message(other, b"r" * 16)
    assert message != mb.auth_message(nonce, b"q" * 16)
    assert mb.feed_auth_message(nonce, b"r" * 16) != message


def test_solved_proof_of_work_is_valid_and_bound_to_the_key() -> None:
    nonce, key = b"n" * 32, b"k" * 32
    solution = mb.solve_pow(nonce, key, 10)
    assert mb.pow_valid(nonce, key, solution, 10)
    assert not all(mb.pow_valid(nonce, bytes([i]) * 32, solution, 10) for i in range(8))


def test_no_proof_is_needed_at_zero_bits_and_a_wrong_one_fails() -> None:
    nonce, key = b"n" * 32, b"k" * 32
    assert mb.pow_valid(nonce, key, b"", 0)
    assert not all(mb.pow_valid(nonce, key, i.to_bytes(8, "big"), 16) for i in range(4))
