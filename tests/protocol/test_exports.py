"""Each protocol module's ``__all__`` is curated: it names real objects and every public one."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "envelope",
    "epoch",
    "identity",
    "invite",
    "outer",
    "pairwise_state",
    "primitives",
    "safety",
    "session",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_complete_and_resolvable(name: str) -> None:
    module = importlib.import_module(f"payk.protocol.{name}")
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    defined_here = {
        item
        for item, value in vars(module).items()
        if not item.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module.__name__
    }
    assert defined_here <= exported, sorted(defined_here - exported)
