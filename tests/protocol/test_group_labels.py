"""Every KDF and signature label in the protocol core is unique, versioned, and names its layer,
so pairwise, group and channel ciphertexts and signatures can never be taken for one another."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import payk.protocol
from payk.errors import LocalProtocolError
from payk.protocol import group as g
from payk.protocol import group_log as log
from payk.protocol import primitives
from payk.protocol.identity import Identity


def _labels() -> list[tuple[str, str, bytes]]:
    found = []
    for info in pkgutil.iter_modules(payk.protocol.__path__):
        module = importlib.import_module(f"payk.protocol.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, bytes) and value.startswith(b"payk/"):
                found.append((info.name, name, value))
    return found


def test_labels_are_unique_and_versioned() -> None:
    labels = _labels()
    values = [value for _, _, value in labels]
    assert len(values) == len(set(values)), sorted(values)
    assert all(value.startswith(b"payk/v1/") for value in values)


LAYERS = {
    b"payk/v1/group/": {"group", "group_log", "group_member"},
    b"payk/v1/channel/": {"channel"},
}


@pytest.mark.parametrize("prefix", list(LAYERS))
def test_group_and_channel_labels_stay_in_their_layer(prefix: bytes) -> None:
    labels = _labels()
    mine = [value for module, _, value in labels if module in LAYERS[prefix]]
    assert mine
    assert all(value.startswith(prefix) for value in mine)
    assert not [
        value
        for module, _, value in labels
        if module not in LAYERS[prefix] and value.startswith(prefix)
    ]


def test_wraps_need_an_envelope_id_per_entry() -> None:
    admin = Identity.generate()
    payload = g.WrapPayload(
        purpose="epoch", group=bytes(16), epoch=1, author=admin.public.ed25519, key=bytes(32)
    )
    _, x25519 = primitives.x25519_generate()
    member = log.Member(identity=admin.public.to_bytes(), x25519=x25519, name="m")
    with pytest.raises(LocalProtocolError):
        g.seal_wraps(admin, payload, [member], envelope_ids=[])
    assert len(g.seal_wraps(admin, payload, [member], envelope_ids=[bytes(16)])) == 1
