"""--strip-location: shared copies lose GPS and device identifiers, yet provably derive."""

from __future__ import annotations

import json
from pathlib import Path

from payk.client.facade import Client
from payk.evidence import jpeg, layout
from payk.evidence.check import check_bundle
from tests.evidence import samples
from tests.evidence.bundles import export, fill, flip, members, pack, resign


async def test_stripped_copies_verify_and_carry_no_location(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    bundle = export(client, strip=True)
    report = check_bundle(bundle)
    assert report.ok, report.problems
    assert [i.stripped for i in report.items] == [True, False, True]
    files = members(bundle)
    for data in files.values():
        assert samples.SERIAL.encode() not in data and b"Fonecam" not in data
        assert b"35.69" not in data and b"latitude" not in data and b"Sara" not in data
    assert not any(p.endswith("private.json") for p in files)
    photo = files[f"{layout.item_dir(records[0].id.hex())}file/azadi.jpg"]
    assert photo == jpeg.strip(samples.photo()) and jpeg.parse_exif(photo) is None
    manifest = json.loads(files[layout.MANIFEST])
    assert manifest["stripped"] is True
    assert manifest["items"][0]["removed_segments"] == [2, 3]
    # The statement still commits to the original, which the vault keeps intact.
    assert records[0].fields["file"]["sha256"] != manifest["items"][0]["sha256"]


async def test_a_changed_pixel_in_a_stripped_copy_is_named(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    files = members(export(client, strip=True))
    path = f"{layout.item_dir(records[0].id.hex())}file/azadi.jpg"
    files[path] = flip(files[path], len(files[path]) - 10)
    problems = check_bundle(resign(files, client.profile.identity())).problems
    assert problems == [
        f"{layout.describe(path)} does not derive from the original: segment 3 differs from "
        "the original's"
    ]
    assert check_bundle(pack(files)).problems[0].startswith(layout.describe(path))


async def test_removing_a_picture_segment_is_not_stripping(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    files = members(export(client, strip=True))
    manifest = json.loads(files[layout.MANIFEST])
    manifest["items"][0]["removed_segments"] = [2, 3, 4]  # 4 is the quantisation table
    files[layout.MANIFEST] = json.dumps(manifest).encode()
    path = f"{layout.item_dir(records[0].id.hex())}file/azadi.jpg"
    segments = jpeg.split(files[path]) or []
    files[path] = b"".join(s.data for s in segments if s.marker != 0xDB)
    problems = check_bundle(resign(files, client.profile.identity())).problems
    assert problems == [
        f"{layout.describe(path)} does not derive from the original: a segment it leaves out "
        "is not a metadata segment"
    ]


async def test_non_jpeg_files_are_shared_as_they_are_with_a_warning(
    client: Client, tmp_path: Path
) -> None:
    from payk.evidence.export import export_bundle

    fill(client, tmp_path)
    built = export_bundle(client.profile, now=client.clock(), strip=True)
    assert built.warnings == [
        "testimony.txt: only JPEG metadata can be removed; this file is shared as it is"
    ]
