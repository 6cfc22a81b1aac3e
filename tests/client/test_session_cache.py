"""How a contact's session is stored: in two parts, and kept after a save only while the store
still holds exactly it."""

from __future__ import annotations

from pathlib import Path

import pytest

from payk.client import contacts
from payk.client.facade import Client
from payk.client.profile import unlock_profile
from payk.client.store.sqlcipher import Database
from payk.net.memory import MemoryNetwork
from payk.protocol.session import PairwiseSession


async def _pair(tmp_path: Path) -> tuple[Client, Client]:
    net = MemoryNetwork()
    relays = [net.add_relay(5000)]
    alice = Client.create(tmp_path / "a", "pa", name="Alice", relays=relays, network=net)
    bob = Client.create(tmp_path / "b", "pb", name="Bob", relays=relays, network=net)
    await bob.accept(await alice.invite(), alias="Alice")
    await alice.sync()
    await bob.sync()
    return alice, bob


def _advance(db: Database, contact_id: int, key: bytes) -> PairwiseSession:
    """Load, seal one message, save: what every send does inside its transaction."""
    session = contacts.load_session(db, contact_id, key)
    session.seal(b"a message", now=1)
    contacts.save_session(db, contact_id, session, key)
    return session


def _sent(session: PairwiseSession) -> int:
    """How many messages the session sealed in its current epoch (its ratchet position)."""
    return session._state.epochs[session.epoch].sent


async def test_a_saved_session_is_taken_again_without_restoring_it(tmp_path: Path) -> None:
    alice, bob = await _pair(tmp_path)
    db, key = bob.profile.db, bob.profile.pickle_key
    contact = contacts.contact_by_alias(db, "Alice")
    with db.transaction():
        session = _advance(db, contact.id, key)
    with db.transaction():
        assert contacts.load_session(db, contact.id, key) is session
    await alice.close()
    await bob.close()


async def test_a_rolled_back_seal_is_never_reused(tmp_path: Path) -> None:
    alice, bob = await _pair(tmp_path)
    db, key = bob.profile.db, bob.profile.pickle_key
    contact = contacts.contact_by_alias(db, "Alice")
    with db.transaction():
        committed = _sent(contacts.load_session(db, contact.id, key))
    with pytest.raises(RuntimeError), db.transaction():
        session = _advance(db, contact.id, key)
        raise RuntimeError("the transaction fails after the save")
    with db.transaction():
        again = contacts.load_session(db, contact.id, key)
    assert again is not session
    assert _sent(again) == committed and _sent(session) == committed + 1
    await alice.close()
    await bob.close()


async def test_a_session_advanced_elsewhere_is_restored_from_the_store(tmp_path: Path) -> None:
    alice, bob = await _pair(tmp_path)
    db, key = bob.profile.db, bob.profile.pickle_key
    contact = contacts.contact_by_alias(db, "Alice")
    with db.transaction():
        mine = _advance(db, contact.id, key)
    other = unlock_profile(tmp_path / "b", "pb")  # another process on the same profile
    try:
        with other.db.transaction():
            _advance(other.db, contact.id, other.pickle_key)
    finally:
        other.close()
    with db.transaction():
        now_here = contacts.load_session(db, contact.id, key)
    assert now_here is not mine and _sent(now_here) == _sent(mine) + 1
    await alice.close()
    await bob.close()


def _stored(db: Database, contact_id: int) -> tuple[bytes, bytes | None]:
    """The contact row's session part and the ratchet row (None: no ratchet row)."""
    fixed = db.one("SELECT session FROM contacts WHERE id = ?", (contact_id,))
    ratchet = db.one("SELECT state FROM session_ratchets WHERE contact_id = ?", (contact_id,))
    assert fixed is not None
    return bytes(fixed[0]), None if ratchet is None else bytes(ratchet[0])


async def _arrives_then_close(alice: Client, bob: Client, text: str) -> None:
    """Alice reads Bob's last message: the session he stored still seals what she opens."""
    await alice.sync()
    assert [m.text for m in alice.history("Bob")][-1] == text
    await alice.close()
    await bob.close()


async def test_a_send_rewrites_the_ratchet_row_and_leaves_the_contact_row(tmp_path: Path) -> None:
    alice, bob = await _pair(tmp_path)
    db = bob.profile.db
    contact = contacts.contact_by_alias(db, "Alice")
    before = _stored(db, contact.id)
    await bob.send_text("Alice", "one of many")
    after = _stored(db, contact.id)
    assert after[0] == before[0] and after[1] not in (None, before[1])
    await _arrives_then_close(alice, bob, "one of many")


async def test_a_session_stored_whole_before_the_split_loads_and_splits(tmp_path: Path) -> None:
    alice, bob = await _pair(tmp_path)
    db, key = bob.profile.db, bob.profile.pickle_key
    contact = contacts.contact_by_alias(db, "Alice")
    with db.transaction():  # what a profile from before schema 9 holds
        whole = contacts.load_session(db, contact.id, key).to_bytes(key)
        db.execute("UPDATE contacts SET session = ? WHERE id = ?", (whole, contact.id))
        db.execute("DELETE FROM session_ratchets WHERE contact_id = ?", (contact.id,))
    await bob.send_text("Alice", "still here")
    fixed, ratchet = _stored(db, contact.id)
    assert ratchet is not None and fixed != whole and len(fixed) + len(ratchet) < len(whole)
    await _arrives_then_close(alice, bob, "still here")


async def test_a_burst_in_one_transaction_stores_its_ratchet_once_and_exactly_as_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await _pair(tmp_path)
    monkeypatch.setattr(bob, "_flush_soon", lambda: None)  # no flush commits in between
    monkeypatch.setattr(bob, "_commit_soon", lambda: None)
    stored = 0
    to_parts = PairwiseSession.to_parts

    def counted(self: PairwiseSession, key: bytes) -> tuple[bytes | None, bytes]:
        nonlocal stored
        stored += 1
        return to_parts(self, key)

    monkeypatch.setattr(PairwiseSession, "to_parts", counted)
    texts = [f"burst {i}" for i in range(5)]
    for text in texts:
        await bob.send_text("Alice", text, wait=False)
    assert stored == 0
    bob.profile.db.commit()
    assert stored == 1
    await bob.close()
    again = Client.open(tmp_path / "b", "pb", network=bob.pool.network)  # restored from disk
    await again.send_text("Alice", "after the restart")
    assert [m.text for m in await alice.sync()] == [*texts, "after the restart"]
    await again.close()
    await alice.close()
