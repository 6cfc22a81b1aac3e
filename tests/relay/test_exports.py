"""Every relay-side module states its public names, and each of them exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "payk.protocol.wire",
    "payk.protocol.mailbox",
    "payk.relay",
    "payk.relay.app",
    "payk.relay.config",
    "payk.relay.forward",
    "payk.relay.limits",
    "payk.relay.metrics",
    "payk.relay.service",
    "payk.relay.tls",
    "payk.net",
    "payk.net.relay",
    "payk.net.tls",
    "payk.cli.relay_cmd",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_curated(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(module, n)] == []
    assert list(exported) == sorted(exported, key=lambda n: (not n.isupper(), n))


def test_the_client_api_is_exported() -> None:
    relay = importlib.import_module("payk.net.relay")
    assert {"Delivery", "FeedCreds", "MailboxCreds", "RelayConnection"} <= set(relay.__all__)
