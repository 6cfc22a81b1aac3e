"""payk[c2pa]: exported JPEG copies also come with a C2PA manifest signed by the identity key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.evidence import c2pa_copy, jpeg, layout
from payk.evidence.check import check_bundle
from payk.evidence.export import export_bundle
from tests.evidence import samples
from tests.evidence.bundles import fill, flip, members, pack

c2pa = pytest.importorskip("c2pa", reason="needs the optional extra payk[c2pa] (c2pa-python)")


def _validation(data: bytes) -> dict[str, object]:
    with c2pa.Reader("image/jpeg", io.BytesIO(data)) as reader:
        report: dict[str, object] = json.loads(reader.json())
        return report


@pytest.mark.parametrize("strip", [False, True])
async def test_jpeg_copies_carry_a_valid_c2pa_manifest(
    client: Client, tmp_path: Path, strip: bool
) -> None:
    records = fill(client, tmp_path)
    bundle = export_bundle(client.profile, now=client.clock(), strip=strip).data
    assert check_bundle(bundle).ok
    files = members(bundle)
    manifest = json.loads(files[layout.MANIFEST])
    assert [i["c2pa"] is not None for i in manifest["items"]] == [True, False, True]
    folder = layout.item_dir(records[0].id.hex())
    signed = files[f"{folder}c2pa/azadi.jpg"]
    shared = files[f"{folder}file/azadi.jpg"]
    assert c2pa_copy.derives(signed, shared)
    assert (jpeg.parse_exif(signed) is None) == strip
    status = _validation(signed)["validation_results"]["activeManifest"]  # type: ignore[index]
    codes = {entry["code"] for entry in status["success"]}
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= codes
    assert [f["code"] for f in status["failure"]] == ["signingCredential.untrusted"]


async def test_a_changed_c2pa_copy_is_named(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    files = members(export_bundle(client.profile, now=client.clock()).data)
    path = f"{layout.item_dir(records[2].id.hex())}c2pa/street.jpg"
    files[path] = flip(files[path], len(files[path]) - 5)
    problems = check_bundle(pack(files)).problems
    assert problems and path in problems[0] and all(path in p for p in problems)
    assert not c2pa_copy.derives(files[path], samples.photo(gps=False, scan=b"\x56\x78" * 500))


async def test_no_c2pa_when_asked(client: Client, tmp_path: Path) -> None:
    fill(client, tmp_path)
    files = members(export_bundle(client.profile, now=client.clock(), c2pa=False).data)
    assert not any("/c2pa/" in p for p in files)


def test_derives_refuses_other_changes() -> None:
    photo = samples.photo()
    assert not c2pa_copy.derives(photo, photo)  # no manifest at all
    assert not c2pa_copy.derives(b"not a jpeg", photo)
