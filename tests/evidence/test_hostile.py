"""verify never crashes on hostile bundles: random members, odd JSON, even when re-signed."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payk.client.facade import Client
from payk.evidence import layout
from payk.evidence.check import check_bundle
from payk.evidence.statement import canonical
from payk.net.memory import MemoryNetwork
from payk.protocol.identity import Identity
from tests.evidence.bundles import export, fill, members, pack, resign
from tests.evidence.conftest import Clock

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**70) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@functools.cache
def _sample() -> tuple[dict[str, bytes], Identity]:
    os.environ.setdefault("PAYK_KDF_PROFILE", "fast")
    tmp = Path(tempfile.mkdtemp(prefix="payk-evidence-hostile-"))
    net = MemoryNetwork()
    client = Client.create(
        tmp / "p", "pp", name="P", relays=[net.add_relay(4300)], network=net, clock=Clock()
    )
    fill(client, tmp)
    files = members(export(client))
    identity = client.profile.identity()
    client.profile.close()
    return files, identity


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_members_never_crash_verify(data: st.DataObject) -> None:
    files, _ = _sample()
    path = data.draw(st.sampled_from(sorted(files)))
    tampered = dict(files)
    tampered[path] = data.draw(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
    report = check_bundle(pack(tampered))
    assert report.problems or tampered[path] == files[path]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_odd_json_signed_by_the_key_never_crashes_verify(data: st.DataObject) -> None:
    files, identity = _sample()
    manifest = json.loads(files[layout.MANIFEST])
    items = [dict(i) for i in manifest["items"]]
    where = data.draw(st.sampled_from(["manifest", "item", "head", "proof", "statement"]))
    value = data.draw(JSON)
    tampered = dict(files)
    if where == "manifest":
        manifest[data.draw(st.sampled_from(sorted(manifest)))] = value
    elif where == "item":
        n = data.draw(st.integers(0, len(items) - 1))
        items[n][data.draw(st.sampled_from(sorted(items[n])))] = value
        manifest["items"] = items
    else:
        path = {
            "head": layout.HEAD,
            "proof": f"items/{items[0]['id']}/proof.json",
            "statement": f"items/{items[0]['id']}/statement.json",
        }[where]
        body = json.loads(files[path])
        body[data.draw(st.sampled_from(sorted(body)))] = value
        tampered[path] = canonical(body)
        sig = path.replace(".json", ".sig")
        if sig in tampered:
            tampered[sig] = identity.sign(tampered[path])
    tampered[layout.MANIFEST] = canonical(manifest)
    check_bundle(resign(tampered, identity))  # any report, never an exception


def test_a_signed_statement_that_is_not_json_is_named() -> None:
    files, identity = _sample()
    manifest = json.loads(files[layout.MANIFEST])
    folder = layout.item_dir(manifest["items"][1]["id"])
    tampered = dict(files)
    tampered[f"{folder}statement.json"] = b"\xff not json"
    tampered[f"{folder}statement.sig"] = identity.sign(b"\xff not json")
    problems = check_bundle(resign(tampered, identity)).problems
    assert problems and f"{folder}statement.json" in problems[0]
