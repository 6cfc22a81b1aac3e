"""The attack classes payk must resist, and the decorator that ties a test to its class.

Strategy: every class of attack that broke a comparable messenger in public is one entry of
``CLASSES``, with the public attack it models. A test that mounts the attack carries
``@attack("slug")``; ``test_registry.py`` imports every attack module and fails when a class
has no test, when a test names a class that is not registered, or when a class marked
``pending`` (its code is not built yet) has tests after all. A pending class is reported as
untested, never silently counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["CLASSES", "TESTS", "AttackClass", "attack"]

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackClass:
    """One class of attack: its slug, the public attack it models, and whether it is pending."""

    slug: str
    title: str
    models: str
    pending: str | None = None  # the reason no test exists yet


CLASSES: tuple[AttackClass, ...] = (
    AttackClass(
        slug="kdf-input-deviation",
        title="KDF input deviation",
        models="SimpleX audit (Trail of Bits 2022): a KDF fed inputs other than specified",
    ),
    AttackClass(
        slug="low-order-dh",
        title="Non-contributory / low-order Diffie-Hellman",
        models="vodozemac audit (Least Authority 2022): non-contributory X25519 not rejected",
    ),
    AttackClass(
        slug="malleable-signatures",
        title="Malleable and non-strict signatures",
        models="vodozemac audit: Ed25519 verify instead of verify_strict (weak keys, S >= L)",
    ),
    AttackClass(
        slug="truncated-tags",
        title="Truncated authentication tags",
        models="Olm's 8-byte truncated MAC; Telegram MTProto's weak integrity (2016-2021)",
    ),
    AttackClass(
        slug="metadata-outside-aead",
        title="Metadata outside the AEAD",
        models="Threema (ETH Zurich 2023) and Telegram (2021): unauthenticated headers",
    ),
    AttackClass(
        slug="pairwise-ciphertext-confusion",
        title="Pairwise / handshake / other-kind ciphertext confusion",
        models="Threema 2023 cross-protocol attack: one protocol's ciphertext accepted by another",
    ),
    AttackClass(
        slug="group-ciphertext-confusion",
        title="Group / channel ciphertext confusion",
        models="Threema 2023 cross-protocol attack, between group entries, groups and layers",
    ),
    AttackClass(
        slug="channel-ciphertext-confusion",
        title="Channel ciphertext confusion",
        models="Threema 2023 cross-protocol attack, between channel posts and other layers",
    ),
    AttackClass(
        slug="identifier-confusion",
        title="Identifier confusion",
        models="Matrix 2022 (Albrecht et al.): a message attributed to the wrong sender or id",
    ),
    AttackClass(
        slug="missing-domain-separation",
        title="Missing domain separation",
        models="Threema 2023: one key used in two protocols; Matrix 2022 key confusion",
    ),
    AttackClass(
        slug="unrequested-key-forwarding",
        title="Unrequested key forwarding",
        models="Matrix 2022: a homeserver injects a forwarded Megolm key to impersonate",
    ),
    AttackClass(
        slug="relay-controlled-membership",
        title="Relay-controlled group membership",
        models="Matrix 2022: the homeserver adds a member to an encrypted room",
    ),
    AttackClass(
        slug="replay-reflection-reorder-deletion",
        title="Replay, reflection, reordering and deletion",
        models="Threema 2023 replay/reflection; Telegram reordering (Albrecht et al. 2021)",
    ),
    AttackClass(
        slug="replay-after-backup-restore",
        title="Replay after restoring a backup",
        models="Threema 2023: a restored backup accepts messages again and reuses state",
    ),
    AttackClass(
        slug="skipped-key-exhaustion",
        title="Skipped-key and forward-jump exhaustion",
        models="Double Ratchet MAX_SKIP denial of service; Signal/Olm forward-jump bounds",
    ),
    AttackClass(
        slug="oversized-malformed-input",
        title="Oversized or malformed input",
        models="Briar (2017-2018): an oversized message crashed the app",
    ),
    AttackClass(
        slug="duplicated-messages",
        title="Duplicated messages",
        models="Briar: the same forum message shown twice",
    ),
    AttackClass(
        slug="padding-edge-cases",
        title="Padding edge cases",
        models="SimpleX audit: padding edge cases; Telegram MTProto padding (2016)",
    ),
    AttackClass(
        slug="response-length-oracle",
        title="Response-length oracles at the relay",
        models="SimpleX audit: traffic-correlation oracles from answer sizes",
    ),
    AttackClass(
        slug="secrets-in-logs",
        title="Secrets in logs",
        models="Messengers logging keys or ids (Matrix clients, Telegram desktop debug logs)",
    ),
    AttackClass(
        slug="local-database-tampering",
        title="Tampering with the local database",
        models="Seized devices: the store edited offline to plant or alter messages",
    ),
    AttackClass(
        slug="counter-overflow",
        title="Counter overflow",
        models="Nonce/counter wrap-around (e.g. TLS sequence numbers, SimpleX audit)",
    ),
)

TESTS: dict[str, list[str]] = {}
_SLUGS = frozenset(c.slug for c in CLASSES)


def attack(slug: str) -> Callable[[F], F]:
    """Mark a test as mounting the attack class ``slug`` (which must be registered)."""
    if slug not in _SLUGS:
        raise ValueError(f"{slug!r} is not a registered attack class")

    def mark(test: F) -> F:
        TESTS.setdefault(slug, []).append(f"{test.__module__}.{getattr(test, '__name__', '?')}")
        test.__payk_attack__ = slug  # type: ignore[attr-defined]
        return test

    return mark
