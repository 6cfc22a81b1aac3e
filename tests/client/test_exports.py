"""Every client module states its public names, and each of them exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import payk.client

CLIENT = (m.name for m in pkgutil.walk_packages(payk.client.__path__, "payk.client."))
MODULES = [
    *sorted(name for name in CLIENT if not name.endswith(".migrations")),
    "payk.net.memory",
    "payk.protocol.content",
    "payk.protocol.attachment",
    "payk.cli.profile_cmd",
    "payk.cli.message_cmd",
    "payk.cli.demo_cmd",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_curated(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing objects: {missing}"
    assert module.__doc__, f"{name} has no strategy docstring"
