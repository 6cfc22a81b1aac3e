"""Every evidence module states its strategy and its public names, and each of them exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import payk.evidence

MODULES = [
    "payk.evidence",
    *sorted(m.name for m in pkgutil.walk_packages(payk.evidence.__path__, "payk.evidence.")),
    "payk.cli.evidence_cmd",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_curated(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing objects: {missing}"
    assert module.__doc__, f"{name} has no strategy docstring"
