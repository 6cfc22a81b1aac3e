"""Every registered attack class has a test, and every attack test names a registered class."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.attacks
from tests.attacks.registry import CLASSES, TESTS


def _attack_tests() -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    for info in pkgutil.iter_modules(tests.attacks.__path__):
        if not info.name.startswith("test_") or info.name == "test_registry":
            continue
        module = importlib.import_module(f"tests.attacks.{info.name}")
        for name, obj in vars(module).items():
            slug = getattr(obj, "__payk_attack__", None)
            if name.startswith("test_") and slug is not None:
                found.setdefault(slug, []).append(obj)
    return found


def test_every_class_has_a_test_unless_pending() -> None:
    found = _attack_tests()
    untested = [c.slug for c in CLASSES if c.pending is None and c.slug not in found]
    assert untested == [], f"attack classes without a test: {untested}"


def test_pending_classes_have_no_test_and_say_why() -> None:
    found = _attack_tests()
    for c in CLASSES:
        if c.pending is not None:
            assert c.slug not in found, f"{c.slug} has tests now: clear its pending flag"
            assert c.pending.strip()


def test_every_attack_test_names_its_public_model() -> None:
    for tests_ in _attack_tests().values():
        for test in tests_:
            doc = (getattr(test, "__doc__", None) or "").strip()
            assert "Models:" in doc, f"{test} has no 'Models:' line naming the public attack"


def test_the_registry_has_unique_slugs_and_refuses_unknown_ones() -> None:
    slugs = [c.slug for c in CLASSES]
    assert len(slugs) == len(set(slugs))
    assert set(TESTS) <= set(slugs)
    from tests.attacks.registry import attack

    with pytest.raises(ValueError, match="not a registered"):
        attack("no-such-attack")
