"""Receiving one envelope: drop duplicates, open, and commit everything it changes at once.

Strategy: the envelope id is read before any decryption; an id already in ``seen`` is a copy
that came over another relay and is dropped. Otherwise one transaction records the id, opens
the envelope (a handshake on an invitation mailbox creates the contact; anything else goes
through the contact's session), saves the new ratchet state and stores what it carried. The
caller acks to the relay only after this returns, so a crash at any point means the relay
delivers again and ``seen`` or the unchanged ratchet decide what happens, never a lost or
doubled message. Envelopes that fail to authenticate are dropped (and counted), never fatal.
``seen`` forgets ids after ``SEEN_KEEP``: by then relays have expired the envelope, and a copy
that still turns up (an old bundle) finds its message key used and is dropped by the ratchet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from payk.client import contacts, disappearing, files, invites, outbox
from payk.client.mailboxes import OwnMailbox, all_mailboxes, assign_to_contact, mailbox_by_id
from payk.client.profile import Profile
from payk.client.store.sqlcipher import Database
from payk.errors import RemoteProtocolError
from payk.protocol import content, envelope
from payk.protocol.content import FileOffer, Hello, MailboxRef, Receipt, Text, Timer
from payk.protocol.session import PairwiseSession, is_handshake

__all__ = ["SEEN_KEEP", "InboxResult", "forget_old_seen", "receive"]

SEEN_KEEP = 60 * 86400  # seconds an envelope id is remembered (relays keep envelopes 21 days)


@dataclass(slots=True, kw_only=True)
class InboxResult:
    """What a batch of envelopes brought."""

    messages: list[int] = field(default_factory=list)
    files: list[int] = field(default_factory=list)
    receipts: dict[int, list[bytes]] = field(default_factory=dict)
    new_contacts: list[str] = field(default_factory=list)
    duplicates: int = 0
    dropped: int = 0
    via: dict[bytes, set[str]] = field(default_factory=dict)
    envelope_of: dict[int, bytes] = field(default_factory=dict)

    def merge(self, other: InboxResult) -> None:
        """Add what ``other`` brought (so one receipt covers several batches)."""
        self.messages += other.messages
        self.files += other.files
        for contact_id, ids in other.receipts.items():
            self.receipts.setdefault(contact_id, []).extend(ids)
        self.new_contacts += other.new_contacts
        self.duplicates += other.duplicates
        self.dropped += other.dropped
        for envelope_id, relays in other.via.items():
            self.via.setdefault(envelope_id, set()).update(relays)
        self.envelope_of.update(other.envelope_of)


def receive(
    profile: Profile, mailbox_id: int, relay: str, data: bytes, *, now: int, result: InboxResult
) -> None:
    """Process one envelope fetched from one of our mailboxes (commits before returning)."""
    try:
        parsed = envelope.unpack(data)
    except RemoteProtocolError:
        result.dropped += 1
        return
    result.via.setdefault(parsed.envelope_id, set()).add(relay)
    db = profile.db
    with db.transaction():
        if db.one("SELECT 1 FROM seen WHERE envelope_id = ?", (parsed.envelope_id,)):
            result.duplicates += 1
            return
        db.execute(
            "INSERT INTO seen (envelope_id, seen_at) VALUES (?, ?)", (parsed.envelope_id, now)
        )
        mailbox = mailbox_by_id(db, mailbox_id)
        before = len(result.messages)
        try:
            _dispatch(profile, mailbox, parsed, data, now=now, result=result)
        except RemoteProtocolError:
            result.dropped += 1
        for rowid in result.messages[before:]:
            result.envelope_of[rowid] = parsed.envelope_id


def _dispatch(
    profile: Profile,
    mailbox: OwnMailbox | None,
    parsed: envelope.Envelope,
    data: bytes,
    *,
    now: int,
    result: InboxResult,
) -> None:
    if mailbox is None:
        raise RemoteProtocolError("an envelope for a mailbox we no longer have")
    if parsed.kind is envelope.Kind.FILE_CHUNK:
        if mailbox.contact_id is None:
            raise RemoteProtocolError("a file chunk on an invitation mailbox")
        done = files.chunk_received(profile.db, parsed.body)
        _file_done(done, mailbox.contact_id, profile.db, result)
    elif mailbox.contact_id is None:
        _handshake(profile, mailbox, data, now=now, result=result)
    else:
        _message(profile, mailbox.contact_id, data, now=now, result=result)


def _handshake(
    profile: Profile, mailbox: OwnMailbox, data: bytes, *, now: int, result: InboxResult
) -> None:
    db = profile.db
    secret = None
    if mailbox.invite_id is not None and is_handshake(data):
        secret = invites.secret_for(db, mailbox.invite_id, now=now)
    if secret is None or mailbox.invite_id is None:
        raise RemoteProtocolError("not an answer to an open invitation of ours")
    identity = profile.identity()
    session, plaintext = PairwiseSession.respond(identity, secret, data, now=now)
    hello = content.decode(plaintext)
    if not isinstance(hello, Hello):
        raise RemoteProtocolError("a handshake must carry the contact's hello")
    alias = contacts.unique_alias(db, hello.name)
    contact_id = contacts.add_contact(
        db, alias=alias, peer=session.peer_keys, session=session, key=profile.pickle_key, now=now
    )
    contacts.add_targets(db, contact_id, [ref.address() for ref in hello.mailboxes])
    assign_to_contact(db, mailbox.invite_id, contact_id)
    invites.mark_used(db, mailbox.invite_id, contact_id)
    profile.save_identity(identity)
    mine = [m.address for m in all_mailboxes(db) if m.contact_id == contact_id]
    reply = Hello(name=profile.name, mailboxes=[MailboxRef.of(m) for m in mine])
    sealed = session.seal(content.encode(reply), now=now)
    contacts.save_session(db, contact_id, session, profile.pickle_key)
    outbox.enqueue(
        db,
        contact_id=contact_id,
        envelopes=[sealed],
        targets=contacts.targets(db, contact_id),
        message=None,
    )
    result.new_contacts.append(alias)


def _message(
    profile: Profile, contact_id: int, data: bytes, *, now: int, result: InboxResult
) -> None:
    db, key = profile.db, profile.pickle_key
    session = contacts.load_session(db, contact_id, key)
    plaintext = session.open(data, now=now)
    contacts.save_session(db, contact_id, session, key)
    item = content.decode(plaintext)
    if isinstance(item, Text):
        rowid = db.execute(
            "INSERT OR IGNORE INTO messages (contact_id, msg_id, outgoing, text, sent_at, "
            "stored_at, status, reply_to) VALUES (?, ?, 0, ?, ?, ?, 'received', ?)",
            (contact_id, item.id, item.text, item.sent_at, now, item.reply_to or None),
        )
        if rowid:
            result.messages.append(rowid)
            result.receipts.setdefault(contact_id, []).append(item.id)
    elif isinstance(item, FileOffer):
        done = files.offer_received(db, contact_id, item, now=now)
        _file_done(done, contact_id, db, result)
    elif isinstance(item, Receipt):
        db.execute_many(  # a read receipt wins over a delivery receipt, whichever comes first
            "UPDATE messages SET status = ? WHERE contact_id = ? AND msg_id = ? "
            "AND outgoing = 1 AND status NOT IN ('read', 'notice')",
            [("read" if item.read else "delivered", contact_id, i) for i in item.ids],
        )
    elif isinstance(item, Timer):
        pass  # a new conversation default: see disappearing.received below
    else:
        contacts.add_targets(db, contact_id, [ref.address() for ref in item.mailboxes])
        contacts.take_peer_name(db, contact_id, item.name)
    notice = disappearing.received(db, contact_id, item, now=now)
    if notice:  # the default changed: show the notice with the new messages, no receipt
        result.messages.append(notice)


def _file_done(done: int | None, contact_id: int, db: Database, result: InboxResult) -> None:
    if done is None:
        return
    result.messages.append(done)
    result.files.append(done)
    row = db.one("SELECT msg_id FROM messages WHERE rowid_ = ?", (done,))
    if row is not None:
        result.receipts.setdefault(contact_id, []).append(bytes(row[0]))


def forget_old_seen(db: Database, *, now: int) -> int:
    """Forget envelope ids seen more than ``SEEN_KEEP`` seconds ago; returns how many."""
    with db.transaction(durable=False):  # lost to a power cut, the next run deletes them
        return db.changes("DELETE FROM seen WHERE seen_at < ?", (now - SEEN_KEEP,))
