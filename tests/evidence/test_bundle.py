"""Export and verify: the round trip, and every altered part named exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.errors import IntegrityError
from payk.evidence import c2pa_copy, layout, vault
from payk.evidence.capture import capture_file
from payk.evidence.check import check_bundle, check_consistency
from payk.evidence.keys import pem_to_public_key
from payk.evidence.statement import make_statement
from payk.protocol.identity import Identity
from tests.evidence import samples
from tests.evidence.bundles import export, fill, flip, members, pack, resign


def _named(problems: list[str], path: str, everything: dict[str, bytes]) -> None:
    """The first problem names ``path``, and no problem blames another member."""
    assert problems, f"tampering with {path} went unnoticed"
    assert path in problems[0], problems
    for problem in problems:
        for other in everything:
            if other != path and re.search(rf"(^|\s){re.escape(other)}(\s|:|$)", problem):
                pytest.fail(f"tampering with {path} blamed {other}: {problems}")


async def test_round_trip(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    report = check_bundle(export(client))
    assert report.ok, report.problems
    key = client.profile.identity().public.ed25519
    assert report.signer == key.hex() and report.tree_size == 3
    assert [i.id for i in report.items] == [r.id.hex() for r in records]
    assert [(i.leaf_index, i.tree_size, i.stripped, i.sender) for i in report.items] == [
        (0, 3, False, None),
        (1, 3, False, None),
        (2, 3, False, None),
    ]
    files = members(export(client))
    assert pem_to_public_key(files[layout.SIGNER]) == key
    folder = layout.item_dir(records[0].id.hex())
    assert files[f"{folder}file/azadi.jpg"] == samples.photo()
    assert samples.SERIAL.encode() in files[f"{folder}private.json"]
    assert check_bundle(export(client), expected_signer=key).ok
    other = Identity.generate().public.ed25519
    wrong = check_bundle(export(client), expected_signer=other)
    assert not wrong.ok and "not by the expected" in wrong.problems[0]
    with pytest.raises(IntegrityError, match="not by the expected"):
        wrong.raise_for_problems()


POSITIONS = (0, 1, 0.5, -2, -1)


def _members_of_a_sample_bundle() -> list[str]:
    # The member names of a bundle with the three sample items (ids replaced by ITEMn).
    return [
        layout.README,
        layout.SIGNER,
        layout.HEAD,
        layout.HEAD_SIG,
        layout.LOG,
        layout.MANIFEST,
        layout.MANIFEST_SIG,
        layout.SUMS,
        layout.SUMS_SIG,
        *(
            f"ITEM{n}/{part}"
            for n in range(3)
            for part in ("file", "statement.json", "statement.sig", "proof.json", "private.json")
        ),
        *(["ITEM0/c2pa", "ITEM2/c2pa"] if c2pa_copy.available() else []),
    ]


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("member", _members_of_a_sample_bundle())
async def test_a_flipped_byte_in_any_member_is_named(
    client: Client, tmp_path: Path, member: str, position: float
) -> None:
    records = fill(client, tmp_path)
    files = members(export(client))
    if member.startswith("ITEM"):
        n, part = int(member[4]), member.split("/", 1)[1]
        folder = layout.item_dir(records[n].id.hex())
        member = next(p for p in files if p.startswith(folder + part))
    data = files[member]
    at = int(position * len(data)) if isinstance(position, float) else position % len(data)
    tampered = dict(files)
    tampered[member] = flip(data, at)
    report = check_bundle(pack(tampered))
    assert not report.ok
    _named(report.problems, member, files)


async def test_members_added_removed_or_damaged_in_the_zip(client: Client, tmp_path: Path) -> None:
    fill(client, tmp_path)
    files = members(export(client))
    extra = check_bundle(pack({**files, "items/evil.sh": b"rm -rf /"}))
    assert extra.problems == ["items/evil.sh was added: it is not part of the signed bundle"]
    for path in (layout.README, layout.LOG, layout.SUMS_SIG):
        missing = check_bundle(pack({p: d for p, d in files.items() if p != path}))
        assert not missing.ok and path in missing.problems[0]
    raw = bytearray(export(client))
    at = raw.index(b"PK\x03\x04", 100)  # the second member's local header
    raw[at + 40] ^= 0xFF
    damaged = check_bundle(bytes(raw))
    assert not damaged.ok
    assert check_bundle(b"not a zip").problems[0].startswith("the file is not a readable zip")
    assert check_bundle(b"").problems


async def test_a_statement_signed_by_another_key_is_named(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    files = members(export(client))
    mallory = Identity.generate()
    path = tmp_path / "azadi.jpg"
    forged, _ = make_statement(
        capture_file(path),
        item_id=records[0].id,
        signer_key=mallory.public.ed25519,
        sign=mallory.sign,
        now=client.clock(),
    )
    folder = layout.item_dir(records[0].id.hex())
    files[f"{folder}statement.json"] = forged.body
    files[f"{folder}statement.sig"] = forged.signature
    raw = check_bundle(pack(files))
    assert "is signed by another key" in raw.problems[0]
    assert f"{folder}statement.json" in raw.problems[0]
    # Even when the lists are re-signed (by someone with the exporter's key), it is named.
    resigned = check_bundle(resign(files, client.profile.identity()))
    assert len(resigned.problems) == 1 and "is signed by another key" in resigned.problems[0]


@pytest.mark.parametrize("resigned", [False, True])
async def test_a_reordered_log_is_named(client: Client, tmp_path: Path, resigned: bool) -> None:
    fill(client, tmp_path)
    files = members(export(client))
    lines = files[layout.LOG].decode().split()
    files[layout.LOG] = "\n".join([lines[1], lines[0], lines[2], ""]).encode()
    bundle = resign(files, client.profile.identity()) if resigned else pack(files)
    problems = check_bundle(bundle).problems
    assert problems and all(p.startswith("log.txt (the log) is reordered") for p in problems)
    assert "is entry 1, its signed proof puts it at entry 0" in problems[0]


@pytest.mark.parametrize("resigned", [False, True])
async def test_a_truncated_log_is_named(client: Client, tmp_path: Path, resigned: bool) -> None:
    fill(client, tmp_path)
    files = members(export(client))
    files[layout.LOG] = b"".join(files[layout.LOG].splitlines(keepends=True)[:2])
    bundle = resign(files, client.profile.identity()) if resigned else pack(files)
    problems = check_bundle(bundle).problems
    assert problems[0] == (
        "log.txt (the log) is truncated: it has 2 entries, the signed tree head says 3"
    )


async def test_a_later_export_extends_an_earlier_one(client: Client, tmp_path: Path) -> None:
    fill(client, tmp_path)
    earlier = export(client)
    more = tmp_path / "more.txt"
    more.write_text("a second testimony")
    vault.add(client.profile, capture_file(more), now=client.clock())
    later = export(client)
    report = check_consistency(earlier, later)
    assert report.ok, report.problems
    assert report.consistency is not None
    assert (report.consistency["from_size"], report.consistency["to_size"]) == (3, 4)
    assert len(report.consistency["proof"]) >= 1
    backwards = check_consistency(later, earlier)
    assert "cannot extend" in backwards.problems[0]


async def test_a_rewritten_history_does_not_extend(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    earlier = export(client)
    # The same key signs a new head over a log whose first entry was replaced.
    from payk.evidence import merkle
    from payk.evidence.bundle import Export, build
    from payk.evidence.statement import make_head

    identity = client.profile.identity()
    log = vault.leaves(client.profile.db)
    log[0] = merkle.leaf_hash(b"a different first statement")
    head = make_head(
        len(log),
        merkle.root(log),
        signer_key=identity.public.ed25519,
        sign=identity.sign,
        now=client.clock(),
    )
    rewritten = build(
        Export(records=records[1:], log=log, head=head, strip=False, created_at=client.clock()),
        key=identity.public.ed25519,
        sign=identity.sign,
    ).data
    assert check_bundle(rewritten).ok  # on its own it is a consistent bundle...
    report = check_consistency(earlier, rewritten)
    assert "does not extend the earlier one" in report.problems[0]  # ...but not a continuation
    stranger = Client.create(
        tmp_path / "s", "ps", name="S", relays=client.profile.relays(), clock=client.clock
    )
    try:
        fill(stranger, tmp_path / "..")
        other = check_consistency(earlier, export(stranger))
        assert "different keys" in other.problems[0]
    finally:
        await stranger.close()


async def test_manifest_describes_items(client: Client, tmp_path: Path) -> None:
    records = fill(client, tmp_path)
    manifest = json.loads(members(export(client))[layout.MANIFEST])
    assert manifest["type"] == layout.BUNDLE_TYPE and manifest["stripped"] is False
    assert [i["name"] for i in manifest["items"]] == ["azadi.jpg", "testimony.txt", "street.jpg"]
    assert manifest["items"][0]["sha256"] == records[0].fields["file"]["sha256"]
