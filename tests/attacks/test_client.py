"""Attacks on a client's stored state: restored backups, duplicates, deletions, a tampered
database. Two real ``Client`` objects talk through the in-memory relay twin, which the tests
use as the attacker's relay: they read, copy, replay, drop and inject envelopes.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from payk.client import contacts
from payk.client.facade import Client
from payk.client.messages import Message
from payk.errors import PaykError
from payk.net.memory import MemoryNetwork, MemoryRelay
from payk.protocol import content
from payk.protocol import envelope as env
from payk.protocol.content import Text
from tests.attacks.registry import attack


@dataclass
class People:
    alice: Client
    bob: Client
    net: MemoryNetwork
    relay: MemoryRelay
    tmp: Path

    async def reopen(self, who: str, home: Path | None = None) -> Client:
        old: Client = getattr(self, who)
        await old.close()
        fresh = Client.open(home or old.profile.home, f"{who} pass", network=self.net)
        fresh.config = replace(fresh.config, downloads=self.tmp / f"dl-{who}")
        setattr(self, who, fresh)
        return fresh


@pytest.fixture
async def people(tmp_path: Path) -> AsyncIterator[People]:
    net = MemoryNetwork()
    address = net.add_relay(4100)
    made = []
    for who, name in (("alice", "Alice"), ("bob", "Bob")):
        client = Client.create(
            tmp_path / who, f"{who} pass", name=name, relays=[address], network=net
        )
        client.config = replace(client.config, downloads=tmp_path / f"dl-{who}")
        made.append(client)
    folks = People(made[0], made[1], net, net.relays[address], tmp_path)
    link = await folks.alice.invite()
    await folks.bob.accept(link, alias="Alice")
    await folks.alice.sync()
    await folks.bob.sync()
    yield folks
    await folks.alice.close()
    await folks.bob.close()


def _held(relay: MemoryRelay) -> list[tuple[bytes, bytes]]:
    """(send id, envelope) of everything the relay holds now: what it can replay later."""
    return [
        (send_id, envelope)
        for send_id, box in relay._by_send.items()
        for envelope in box.queue.values()
    ]


def _texts(messages: Sequence[Message]) -> list[str]:
    return sorted(m.text or "" for m in messages)


def _backup(client: Client, to: Path) -> Path:
    shutil.copytree(client.profile.home, to)
    return to


# --- replay after restoring a backup ------------------------------------------------------------


@attack("replay-after-backup-restore")
async def test_a_restored_receiver_takes_each_message_once(people: People) -> None:
    """Models: Threema 2023 (Paterson, Scarlata, Truong): after a backup restore, replayed
    messages are accepted again.

    Alice reads "one", her profile is backed up, she reads "two", then the backup is
    restored. The relay replays both envelopes: "one" (seen in the backup) is dropped, "two"
    is shown once; a second replay of both shows nothing.
    """
    await people.bob.send_text("Alice", "one")
    first = _held(people.relay)
    assert _texts(await people.alice.sync()) == ["one"]
    await people.alice.close()
    backup = _backup(people.alice, people.tmp / "alice-backup")
    await people.reopen("alice")
    await people.bob.send_text("Alice", "two")
    second = _held(people.relay)
    assert _texts(await people.alice.sync()) == ["two"]
    await people.alice.close()
    shutil.rmtree(people.alice.profile.home)
    shutil.copytree(backup, people.alice.profile.home)
    alice = await people.reopen("alice")
    for send_id, envelope in first + second:
        people.relay.send(send_id, envelope)
    assert _texts(await alice.sync()) == ["two"]
    for send_id, envelope in first + second:
        people.relay.send(send_id, envelope)
    assert await alice.sync() == []


@attack("replay-after-backup-restore")
async def test_a_restored_sender_reuses_no_key_and_its_repeat_is_detected(
    people: People,
) -> None:
    """Models: Threema 2023 and the Double Ratchet's state-rollback problem: a sender restored
    from a backup repeats a message counter.

    Bob seals "one", is restored to the backup taken before it, and seals "two" at the same
    epoch and counter. The two envelopes differ in id and therefore in outer key (the id is
    the HKDF salt), so no key encrypts twice; Alice takes "one", refuses the repeat loudly
    (a dropped-envelope warning, no receipt for "two"), and the next message arrives.
    """
    await people.bob.close()
    backup = _backup(people.bob, people.tmp / "bob-backup")
    await people.reopen("bob")
    await people.bob.send_text("Alice", "one")
    await people.bob.close()
    shutil.rmtree(people.bob.profile.home)
    shutil.copytree(backup, people.bob.profile.home)
    bob = await people.reopen("bob")
    await bob.send_text("Alice", "two")
    held = [e for _, e in _held(people.relay)]
    assert len(held) == 2
    headers = {e[env.OVERHEAD : env.OVERHEAD + 9] for e in held}
    assert len(headers) == 1, "the restored sender repeated epoch and counter"
    assert len({env.envelope_id(e) for e in held}) == 2
    assert _texts(await people.alice.sync()) == ["one"]
    assert people.alice.warnings == ["1 envelope(s) could not be read and were dropped"]
    # The restore also forked Olm's root chain (a new ratchet key for "two"), so what Bob
    # sends next cannot be decrypted either: refused and reported, never shown altered.
    people.alice.warnings.clear()
    await bob.send_text("Alice", "three")
    got = _texts(await people.alice.sync())
    assert got == ["three"] or people.alice.warnings == [
        "1 envelope(s) could not be read and were dropped"
    ]


# --- duplicated messages ------------------------------------------------------------------------


@attack("duplicated-messages")
async def test_one_message_in_many_envelopes_and_copies_is_shown_once(people: People) -> None:
    """Models: Briar's duplicated forum messages: one post shown twice after a resend.

    Bob's client (after a crash, say) seals the same text message (same message id) into
    two different envelopes; the relay also delivers each envelope three times. Alice's
    profile shows it exactly once, now and after further syncs.
    """
    db, key = people.bob.profile.db, people.bob.profile.pickle_key
    contact = contacts.contact_by_alias(db, "Alice")
    item = content.encode(Text(id=b"\x07" * content.ID_LEN, text="only once", sent_at=1))
    with db.transaction():
        session = contacts.load_session(db, contact.id, key)
        copies = [session.seal(item, now=people.bob.clock()) for _ in range(2)]
        contacts.save_session(db, contact.id, session, key)
    target = contacts.targets(db, contact.id)[0]
    for envelope in copies * 3:
        people.relay.send(target.send_id, envelope)
    assert _texts(await people.alice.sync()) == ["only once"]
    assert await people.alice.sync() == []
    history = people.alice.history("Bob")
    assert [m.text for m in history].count("only once") == 1


# --- oversized or malformed content from a contact ---------------------------------------------


@attack("oversized-malformed-input")
async def test_malformed_content_from_a_contact_is_dropped_not_fatal(people: People) -> None:
    """Models: Briar (2017-2018): one malformed or oversized message crashed the app, again
    at every start, because it was never acknowledged.

    A contact (the only one who can get past the encryption) seals content that is not
    valid: invalid UTF-8 in a text (found by fuzzing: msgspec raises ``UnicodeDecodeError``,
    not its ``DecodeError``), an unknown type, a maximal blob of noise. Alice's sync drops
    each with a warning and still shows the genuine message after them; nothing comes back.
    """
    db, key = people.bob.profile.db, people.bob.profile.pickle_key
    contact = contacts.contact_by_alias(db, "Alice")
    bad = [b"\x81\xa4type\xa2\xff\xfe", b"\x81\xa4type\xa7unknown", bytes(60_000)]
    with db.transaction():
        session = contacts.load_session(db, contact.id, key)
        sealed = [session.seal(item, now=people.bob.clock()) for item in bad]
        contacts.save_session(db, contact.id, session, key)
    target = contacts.targets(db, contact.id)[0]
    for envelope in sealed:
        people.relay.send(target.send_id, envelope)
    await people.bob.send_text("Alice", "after the junk")
    assert _texts(await people.alice.sync()) == ["after the junk"]
    assert people.alice.warnings == ["3 envelope(s) could not be read and were dropped"]
    assert await people.alice.sync() == []


# --- deletion by the relay is detected ----------------------------------------------------------


@attack("replay-reflection-reorder-deletion")
async def test_a_message_the_relay_deletes_is_never_marked_delivered(people: People) -> None:
    """Models: Threema 2023 and Telegram 2021 message deletion by the server: a dropped
    message must be visible to the sender, not silently lost.

    The relay drops the first of three messages; Alice receives the other two, her receipts
    mark those two delivered, and the dropped one stays "sent" on Bob's side, where he can
    see it never arrived.
    """
    sent = [await people.bob.send_text("Alice", f"m{i}") for i in range(3)]
    box_items = [box for box in people.relay._by_send.values() if box.queue]
    assert len(box_items) == 1
    box = box_items[0]
    box.queue.pop(sorted(box.queue)[0])
    assert _texts(await people.alice.sync()) == ["m1", "m2"]
    await people.bob.sync()
    status = {m.id: m.status for m in people.bob.history("Alice")}
    assert status[sent[0].id] != "delivered"
    assert [status[s.id] for s in sent[1:]] == ["delivered", "delivered"]


# --- tampering with the local database ----------------------------------------------------------


@attack("local-database-tampering")
async def test_a_tampered_profile_database_is_refused_never_read_altered(people: People) -> None:
    """Models: a seized device whose store is edited offline to plant or alter messages.

    Alice's SQLCipher database is changed on disk at one byte in every page (and truncated).
    Each time the profile either refuses to open or to read (a ``PaykError``), or reads every
    row of every table exactly as it was (the changed page was free): never altered data.
    """
    await people.bob.send_text("Alice", "keep me intact")
    await people.alice.sync()
    await people.alice.close()
    home = people.alice.profile.home
    expected = await _dump(home)
    assert expected is not None and "keep me intact" in repr(expected)
    refused = 0
    for path in sorted(home.glob("*.db")):  # the profile's store (and a decoy's, if any)
        pristine = path.read_bytes()
        offsets = [4096 * n + 100 for n in range(len(pristine) // 4096)]
        for offset in [*offsets, 16, len(pristine) - 5]:
            data = bytearray(pristine)
            data[offset] ^= 0x5A
            path.write_bytes(bytes(data))
            got = await _dump(home)
            assert got is None or got == expected, f"{path.name}: byte {offset} changed a read"
            refused += got is None
        path.write_bytes(pristine[: len(pristine) // 2])
        got = await _dump(home)
        assert got is None or got == expected
        refused += got is None
        path.write_bytes(pristine)
    assert await _dump(home) == expected
    assert refused >= 2
    people.alice = Client.open(home, "alice pass", network=people.net)


async def _dump(home: Path) -> list[object] | None:
    """Every row of every table, or None when the profile refuses to open or read."""
    try:
        client = Client.open(home, "alice pass", network=MemoryNetwork())
    except PaykError:
        return None
    try:
        db = client.profile.db
        tables = [r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [
            (t, sorted(map(tuple, db.query(f"SELECT * FROM {t}")), key=repr))
            for t in sorted(tables)
        ]
    except PaykError:
        return None
    finally:
        await client.close()
