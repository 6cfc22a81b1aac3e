"""Sending evidence to a contact (in-memory relays): it lands in their vault, verifiable."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payk.client.facade import Client
from payk.errors import UsageError
from payk.evidence import layout, transfer, vault
from payk.evidence.check import check_bundle
from payk.evidence.export import export_bundle
from payk.net.memory import MemoryNetwork
from tests.evidence import samples
from tests.evidence.bundles import fill, flip, members, pack
from tests.evidence.conftest import Clock


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Client, Client]]:
    net = MemoryNetwork()
    relays = [net.add_relay(4200)]
    clock = Clock()
    alice = Client.create(
        tmp_path / "a", "pa", name="Alice", relays=relays, network=net, clock=clock
    )
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=relays, network=net, clock=clock)
    for c in (alice, bob):
        c.config = dataclasses.replace(c.config, downloads=tmp_path / f"dl-{c.name}")
    link = await alice.invite()
    await bob.accept(link, alias="Alice")
    await alice.sync()
    yield alice, bob
    await alice.close()
    await bob.close()


async def test_a_sent_item_lands_in_the_vault_with_provenance(
    pair: tuple[Client, Client], tmp_path: Path
) -> None:
    alice, bob = pair
    records = fill(alice, tmp_path)
    item_id, sent = await transfer.send_item(alice, "Bob", records[0].id.hex()[:8])
    assert item_id == records[0].id.hex() and sent.paths == 1
    got = await bob.sync()
    assert [m.file_name for m in got] == [f"payk-evidence-{item_id[:12]}.zip"]
    [item] = vault.items(bob.profile.db)
    alice_key = alice.profile.identity().public.ed25519.hex()
    assert (item.id, item.sender, item.signer) == (item_id, "Alice", alice_key)
    assert item.leaf_index is None and item.sha256 == records[0].fields["file"]["sha256"]
    kept = vault.find(bob.profile.db, item_id)
    assert kept.data == samples.photo() and kept.private == records[0].private
    assert kept.origin is not None and kept.origin.sender_key == alice_key
    # Bob exports it with his own key; the item keeps Alice's statement, head and proof.
    bundle = export_bundle(bob.profile, now=bob.clock()).data
    report = check_bundle(bundle)
    assert report.ok, report.problems
    bob_key = bob.profile.identity().public.ed25519.hex()
    assert report.signer == bob_key and report.tree_size == 0
    [checked] = report.items
    assert (checked.signer, checked.sender, checked.leaf_index, checked.tree_size) == (
        alice_key,
        "Alice",
        0,
        3,
    )
    files = members(bundle)
    folder = layout.item_dir(item_id)
    assert f"{folder}origin/tree-head.json" in files
    tampered = dict(files)
    path = f"{folder}origin/tree-head.sig"
    tampered[path] = flip(files[path], 5)
    assert path in check_bundle(pack(tampered)).problems[0]


async def test_receiving_the_same_item_twice_keeps_one(
    pair: tuple[Client, Client], tmp_path: Path
) -> None:
    alice, bob = pair
    records = fill(alice, tmp_path)
    for _ in range(2):
        await transfer.send_item(alice, "Bob", records[1].id.hex())
        await bob.sync()
    assert [i.id for i in vault.items(bob.profile.db)] == [records[1].id.hex()]


async def test_an_altered_or_ordinary_zip_stays_an_ordinary_file(
    pair: tuple[Client, Client], tmp_path: Path
) -> None:
    alice, bob = pair
    records = fill(alice, tmp_path)
    bundle = export_bundle(alice.profile, now=alice.clock(), ids=[records[0].id.hex()]).data
    files = members(bundle)
    files[layout.README] = b"altered"
    for data in (pack(files), pack({"a.txt": b"hello"}), b"PK\x03\x04 broken"):
        await alice.send_data("Bob", data, "bundle.zip")
    got = await bob.sync()
    assert len(got) == 3 and vault.items(bob.profile.db) == []


async def test_sending_needs_an_item_and_a_contact(
    pair: tuple[Client, Client], tmp_path: Path
) -> None:
    alice, _ = pair
    records = fill(alice, tmp_path)
    with pytest.raises(UsageError, match="no evidence item"):
        await transfer.send_item(alice, "Bob", "abcdef")
    with pytest.raises(UsageError):
        await transfer.send_item(alice, "Nobody", records[0].id.hex())


async def test_the_readme_commands_verify_a_received_item(
    pair: tuple[Client, Client], tmp_path: Path
) -> None:
    import shutil

    from tests.evidence.test_standard_tools import _run_readme

    if not (shutil.which("openssl") and shutil.which("sha256sum")):
        pytest.skip("needs openssl and sha256sum on the PATH")
    alice, bob = pair
    records = fill(alice, tmp_path)
    await transfer.send_item(alice, "Bob", records[0].id.hex())
    await bob.sync()
    bundle = export_bundle(bob.profile, now=bob.clock()).data
    done = _run_readme(bundle, tmp_path / "received")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        done.stdout.count("Signature Verified Successfully") == 4
    )  # lists, origin head, statement
    assert f"ok {records[0].id.hex()} azadi.jpg is entry 0 of 3" in done.stdout
