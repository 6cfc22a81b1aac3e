"""``Client``: the one object the front ends use (contacts, outbox, sync, inbox, files).

Strategy: a thin coordinator over the small modules along the data flow. Every operation that
advances a ratchet loads the session, seals or opens, saves it and stores the message and the
outbox rows in one transaction (``BEGIN IMMEDIATE`` also serialises two payk processes on one
profile); network I/O happens only after the commit. Time comes from one ``clock`` function and
is passed into the protocol. Relays are reached through a ``RelayPool``; problems with single
relays are collected in ``warnings`` for the front end to show, and only "no relay at all"
raises ``NetworkError``. One flush runs at a time. While listening, delivery receipts are held
for ``RECEIPT_DELAY`` and sent as one receipt per contact, as messaging apps batch them: a burst
of a hundred messages costs one sealed receipt, not a hundred.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from payk.client import contacts, disappearing, files, groups, invites, outbox, reading, safety
from payk.client.carry import flush_carried
from payk.client.config import Config, load_config
from payk.client.contacts import Contact
from payk.client.feed_listen import FeedPoller
from payk.client.inbox import InboxResult, forget_old_seen
from payk.client.mailboxes import (
    add_mailbox,
    all_mailboxes,
    create_on_relays,
    expired_invitation_mailboxes,
    forget_mailbox,
)
from payk.client.messages import Message, history, messages_by_rowid
from payk.client.paths import network_for
from payk.client.profile import Profile, create_profile, unlock_profile
from payk.client.router import Network, RelayLink, RelayPool, unreachable
from payk.client.store.header import KdfParams
from payk.client.sync import Listeners, fetch_all
from payk.errors import PaykError, StorageError, UsageError
from payk.protocol import content, primitives
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.content import Hello, MailboxRef, Receipt, Text
from payk.protocol.invite import Invitation, create_invitation, decode_link, encode_link
from payk.protocol.safety import safety_code, safety_qr_payload
from payk.protocol.session import PairwiseSession

__all__ = ["Client", "Safety", "Sent"]

Clock = Callable[[], int]
Progress = Callable[[int, int], None]
POLL_INTERVAL = 0.25
MAILBOX_CHECK = 2.0  # seconds between looks for mailboxes made while listening
RECEIPT_DELAY = 0.2  # seconds a listening client gathers delivery receipts before sending
COMMIT_DELAY = 0.02  # at most this long a send(wait=False) stays uncommitted (see send_text)


def system_clock() -> int:
    """Seconds since the epoch: the one clock the client passes into the protocol."""
    return int(time.time())


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """The result of ``send``: the message id and how many relays already hold it."""

    id: str
    paths: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Safety:
    """A contact's safety code, the QR payload to show, and whether it was confirmed."""

    contact: str
    code: str
    qr: bytes
    verified: bool


class Client:
    """An unlocked profile and its connections to relays."""

    def __init__(
        self,
        profile: Profile,
        *,
        config: Config | None = None,
        network: Network | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.profile = profile
        self.config = config or load_config(profile.home)
        self.clock = clock
        self.pool = RelayPool(
            network or network_for(self.config), timeout=self.config.network_timeout
        )
        self.warnings: list[str] = []
        self._flushing = asyncio.Lock()  # one flush at a time: no envelope sent twice by us
        self._flusher: asyncio.Task[None] | None = None  # see _flush_soon
        self._flush_again = False
        self._committer: asyncio.TimerHandle | None = None  # see _commit_soon
        self._seen_trimmed_at = -3600.0
        disappearing.purge(profile.db, clock())  # timers that ran out while closed

    # --- opening and closing -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: Path,
        passphrase: str,
        *,
        name: str,
        relays: Sequence[RelayAddress],
        network: Network | None = None,
        clock: Clock = system_clock,
        kdf: KdfParams | None = None,
    ) -> Client:
        """Create a new profile in ``home`` and open it (no network needed)."""
        profile = create_profile(
            home, passphrase, name=name, relays=relays, now=clock(), params=kdf
        )
        return cls(profile, network=network, clock=clock)

    @classmethod
    def open(
        cls,
        home: Path,
        passphrase: str,
        *,
        network: Network | None = None,
        clock: Clock = system_clock,
    ) -> Client:
        """Unlock the profile in ``home``.

        Raises:
            AuthenticationError: wrong passphrase.
        """
        return cls(unlock_profile(home, passphrase), network=network, clock=clock)

    async def close(self) -> None:
        """Finish a background flush, then close relay connections and the store."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._committer is not None:
            self._committer.cancel()  # closing the store commits
        await self.pool.close()
        self.profile.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def name(self) -> str:
        """The name new contacts see."""
        return self.profile.name

    @property
    def relays(self) -> list[str]:
        """The profile's relay addresses."""
        return [str(relay) for relay in self.profile.relays()]

    # --- contacts ------------------------------------------------------------------------

    async def invite(self, *, ttl: int = 7 * 86400) -> str:
        """A one-time invitation link, with fresh mailboxes on up to two relays.

        Raises:
            NetworkError: no relay could create a mailbox.
        """
        created = await create_on_relays(self.pool, self.relays, self.config.mailboxes_per_contact)
        now = self.clock()
        db = self.profile.db
        with db.transaction():
            identity = self.profile.identity()
            reply_to = [_address(relay, creds) for relay, creds in created]
            invitation, secret = create_invitation(identity, reply_to, now=now, ttl=ttl)
            self.profile.save_identity(identity)
            invites.store_secret(db, secret, expires_at=invitation.expires_at, now=now)
            for relay, creds in created:
                add_mailbox(db, relay, creds, invite_id=invitation.invite_id)
        self._note_relay_errors()
        return encode_link(invitation)

    async def accept(self, link: str, *, alias: str | None = None) -> str:
        """Accept an invitation; the contact can be written to at once. Returns the alias.

        Raises:
            InvitationError: the link is garbled, tampered with or expired.
            UsageError: the link was accepted before, or the alias is taken.
            NetworkError: no relay could create our mailboxes.
        """
        now = self.clock()
        invitation = decode_link(link, now=now)
        db = self.profile.db
        if invites.already_accepted(db, invitation.invite_id):
            raise UsageError("this invitation was already used; ask for a new one")
        if alias is not None and contacts.unique_alias(db, alias) != " ".join(alias.split()):
            raise UsageError(f"there is already a contact named {alias!r}")
        created = await create_on_relays(self.pool, self.relays, self.config.mailboxes_per_contact)
        with db.transaction():
            _, name = self._accept_in_tx(invitation, created, alias, now)
        await self.flush(force=True)
        return name

    def _accept_in_tx(
        self, invitation: Invitation, created: list[tuple[str, object]], alias: str | None, now: int
    ) -> tuple[int, str]:
        db, key = self.profile.db, self.profile.pickle_key
        identity = self.profile.identity()
        session = PairwiseSession.accept(identity, invitation, now=now)
        mine = [_address(relay, creds) for relay, creds in created]
        hello = Hello(name=self.name, mailboxes=[MailboxRef.of(m) for m in mine])
        handshake = session.seal(content.encode(hello), now=now)
        name = contacts.unique_alias(db, alias or "contact")
        contact_id = contacts.add_contact(
            db,
            alias=name,
            peer=session.peer_keys,
            session=session,
            key=key,
            now=now,
            named_by_peer=alias is None,
        )
        reply_to = list(invitation.reply_to)
        contacts.add_targets(db, contact_id, reply_to)
        for relay, creds in created:
            add_mailbox(db, relay, creds, contact_id=contact_id)
        invites.mark_accepted(db, invitation.invite_id, contact_id)
        self.profile.save_identity(identity)
        outbox.enqueue(
            db, contact_id=contact_id, envelopes=[handshake], targets=reply_to, message=None
        )
        return contact_id, name

    def contacts(self) -> list[Contact]:
        """Every contact."""
        return contacts.all_contacts(self.profile.db)

    def safety(self, alias: str) -> Safety:
        """The safety code to compare with ``alias`` (read aloud or scan)."""
        contact = contacts.contact_by_alias(self.profile.db, alias)
        own = self.profile.identity().public
        return Safety(
            contact=contact.alias,
            code=safety_code(own, contact.peer),
            qr=safety_qr_payload(own, contact.peer),
            verified=contact.verified,
        )

    def confirm(self, alias: str) -> Safety:
        """Mark the contact's safety code as checked."""
        contact = contacts.contact_by_alias(self.profile.db, alias)
        contacts.set_verified(self.profile.db, contact.id)
        return self.safety(contact.alias)

    # --- sending -------------------------------------------------------------------------

    async def send_text(
        self,
        alias: str,
        text: str,
        *,
        expire: int | None = None,
        reply_to: str | None = None,
        wait: bool = True,
    ) -> Sent:
        """Seal, store and send a text message to every mailbox of the contact.

        ``expire``: seconds until it disappears on both sides (default: the conversation's
        timer, see ``payk.client.disappearing``). ``reply_to``: the id (or an unambiguous
        prefix) of the message it answers. ``wait=False`` returns as soon as the message is
        sealed and written on this device, as an app's send button wants, and a background
        flush hands it to the relays (``paths`` is then 0; ``close`` waits for that flush). Its
        transaction is committed by the flush, durably, before its envelope leaves, or within
        ``COMMIT_DELAY`` if the flush is busy, and every send made meanwhile shares that commit
        and its fsync (a group commit): a process killed in that window loses those sends, all
        of them, before anything of them left. Never raises for relays being down: the message
        waits in the outbox.
        """
        if not text:
            raise UsageError("the message is empty")
        if len(text) > 60_000:
            raise UsageError("the message is too long (at most 60000 characters)")
        if groups.is_feed(self.profile.db, alias):  # a group or channel: one feed upload
            if reply_to:
                raise UsageError("--reply works with contacts, not yet in groups or channels")
            msg_id_hex, paths = await groups.send_text(self, alias, text, expire=expire)
            return Sent(id=msg_id_hex, paths=paths)
        contact_id = contacts.contact_id(self.profile.db, alias)
        msg_id = primitives.random_bytes(content.ID_LEN)
        now = self.clock()
        expire = disappearing.timer_for(self.profile.db, contact_id, expire)
        answers = b""
        if reply_to is not None:
            answers = reading.resolve_reply(self.profile.db, contact_id, reply_to)
        item = Text(id=msg_id, text=text, sent_at=now, expire=expire, reply_to=answers)
        with self.profile.db.transaction(defer=not wait):  # else outbox.pending commits first
            rowid = self._queue(contact_id, content.encode(item), [], msg_id, now, text=text)
            disappearing.start(self.profile.db, rowid, expire, now)
            if answers:
                self.profile.db.execute(
                    "UPDATE messages SET reply_to = ? WHERE rowid_ = ?", (answers, rowid)
                )
        if not wait:
            self._commit_soon()
            self._flush_soon()
            await asyncio.sleep(0)  # let the flush start before the next send
            return Sent(id=msg_id.hex(), paths=0)  # no relay has answered yet
        await self.flush(force=True)
        return self._sent(rowid)

    async def send_file(
        self,
        alias: str,
        path: Path,
        *,
        progress: Progress | None = None,
        expire: int | None = None,
    ) -> Sent:
        """Send a file: an offer through the ratchet, then sealed chunks.

        Raises:
            UsageError: the file cannot be read (nothing is queued then).
        """
        contact_id = contacts.contact_id(self.profile.db, alias)
        data = files.read_file(path)
        msg_id = primitives.random_bytes(content.ID_LEN)
        now = self.clock()
        prepared = files.prepare_file(data, path.name, message_id=msg_id, now=now)
        expire = disappearing.timer_for(self.profile.db, contact_id, expire)
        offer = msgspec.structs.replace(prepared.offer, expire=expire)
        with self.profile.db.transaction():
            rowid = self._queue(
                contact_id, content.encode(offer), prepared.chunks, msg_id, now, file=path
            )
            disappearing.start(self.profile.db, rowid, expire, now)
        total = len(prepared.chunks) + 1
        tick = _Ticker(progress, total * len(self._targets_of(contact_id)))
        await self.flush(force=True, progress=tick)
        return self._sent(rowid)

    async def send_data(self, alias: str, data: bytes, name: str) -> Sent:
        """Send bytes held in memory as a file called ``name`` (nothing is written to disk).

        Raises:
            UsageError: the data is larger than a file may be.
        """
        if len(data) > files.MAX_FILE:
            raise UsageError(f"{name} is larger than {files.MAX_FILE // (1024 * 1024)} MB")
        contact_id = contacts.contact_id(self.profile.db, alias)
        msg_id = primitives.random_bytes(content.ID_LEN)
        now = self.clock()
        prepared = files.prepare_file(data, name, message_id=msg_id, now=now)
        with self.profile.db.transaction() as db:
            rowid = self._queue(
                contact_id, content.encode(prepared.offer), prepared.chunks, msg_id, now
            )
            db.execute(
                "UPDATE messages SET file_name = ?, file_size = ? WHERE rowid_ = ?",
                (prepared.offer.name, len(data), rowid),
            )
        await self.flush(force=True)
        return self._sent(rowid)

    def _queue(
        self,
        contact_id: int,
        plaintext: bytes,
        extra: list[bytes],
        msg_id: bytes,
        now: int,
        *,
        text: str | None = None,
        file: Path | None = None,
    ) -> int:
        db, key = self.profile.db, self.profile.pickle_key
        with db.transaction():
            session = contacts.load_session(db, contact_id, key)
            sealed = session.seal(plaintext, now=now)
            contacts.save_session(db, contact_id, session, key)
            rowid = db.execute(
                "INSERT INTO messages (contact_id, msg_id, outgoing, text, file_name, "
                "file_size, file_path, sent_at, stored_at, status) "
                "VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, 'queued')",
                (
                    contact_id,
                    msg_id,
                    text,
                    file.name if file else None,
                    file.stat().st_size if file else None,
                    str(file.resolve()) if file else None,
                    now,
                    now,
                ),
            )
            outbox.enqueue(
                db,
                contact_id=contact_id,
                envelopes=[sealed, *extra],
                targets=contacts.targets(db, contact_id),
                message=rowid,
            )
        return rowid

    def _targets_of(self, contact_id: int) -> list[object]:
        return list(contacts.targets(self.profile.db, contact_id)) or [None]

    def _sent(self, rowid: int) -> Sent:
        row = self.profile.db.one("SELECT msg_id, paths FROM messages WHERE rowid_ = ?", (rowid,))
        if row is None:
            raise StorageError("the message just sent is missing from the store")
        return Sent(id=bytes(row[0]).hex(), paths=int(row[1]))

    async def flush(
        self, *, force: bool = False, progress: Callable[[int], None] | None = None
    ) -> outbox.FlushReport:
        """Hand waiting envelopes to their relays (``force``: ignore backoff)."""
        async with self._flushing:
            return await self._flush(force=force, progress=progress)

    async def _flush(
        self, *, force: bool, progress: Callable[[int], None] | None
    ) -> outbox.FlushReport:
        if force:
            self.pool.forget_errors()
        report = await outbox.flush(
            self.profile.db,
            self.pool,
            now=time.time(),
            retry_base=self.config.retry_base,
            retry_max=self.config.retry_max,
            force=force,
            progress=progress,
        )
        if report.failed:
            self._note_relay_errors()
        if force:
            await flush_carried(self.profile.db, self.pool)  # envelopes we carry for others
        return report

    def _commit_soon(self) -> None:
        """Commit deferred sends within ``COMMIT_DELAY``, should no flush do it first."""
        if self._committer is None or self._committer.cancelled():
            self._committer = asyncio.get_running_loop().call_later(COMMIT_DELAY, self._commit)

    def _commit(self) -> None:
        self._committer = None
        try:
            self.profile.db.commit()
        except PaykError as exc:
            self.warnings.append(f"{exc} (the messages sent in the last moment were not kept)")

    def _flush_soon(self) -> None:
        """Flush in the background; a call while one runs makes it go round once more."""
        self._flush_again = True
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_while_asked())

    async def _flush_while_asked(self) -> None:
        while self._flush_again:
            self._flush_again = False
            try:
                await self.flush()
            except PaykError as exc:
                self.warnings.append(str(exc))
                return

    def pending(self) -> int:
        """How many envelope copies still wait for a relay."""
        return outbox.pending_count(self.profile.db)

    # --- receiving -----------------------------------------------------------------------

    async def sync(self, *, wait: float = 0.0) -> list[Message]:
        """Fetch over every relay, store what is new, and send receipts.

        With ``wait``, keep polling up to that many seconds until something arrives.

        Raises:
            NetworkError: not one relay could be reached (nothing is lost).
        """
        self.pool.forget_errors()
        await self.flush(force=True)
        deadline = time.monotonic() + wait
        while True:
            result = await fetch_all(self.profile, self.pool, clock=self.clock)
            self._check_some_relay_answered()
            messages = await self._after_receive(result)
            messages += await groups.sync_all(self)
            await self._prune_expired_invitations()
            self._forget_old_seen()
            if messages or result.new_contacts or time.monotonic() >= deadline:
                return messages
            await asyncio.sleep(POLL_INTERVAL)

    async def take_in(self, result: InboxResult) -> list[Message]:
        """Finish envelopes that arrived without a relay (bundle, LAN): files, receipts."""
        return await self._after_receive(result)

    def _forget_old_seen(self) -> None:
        """Trim ``seen`` (a scan of the table), at most once an hour per process."""
        if time.monotonic() - self._seen_trimmed_at >= 3600.0:
            forget_old_seen(self.profile.db, now=self.clock())
            self._seen_trimmed_at = time.monotonic()

    async def _prune_expired_invitations(self) -> None:
        """Delete the mailboxes of unanswered, expired invitations (best effort on relays)."""
        db = self.profile.db
        for mailbox in expired_invitation_mailboxes(db, now=self.clock()):
            creds = self.pool.network.creds(mailbox.recv_id, mailbox.send_id, mailbox.auth_seed)
            await self.pool.call(mailbox.relay, _deleter(creds))
            forget_mailbox(db, mailbox.id)

    def _check_some_relay_answered(self) -> None:
        relays = {m.relay for m in all_mailboxes(self.profile.db)} or set(self.relays)
        if relays and relays <= set(self.pool.errors):
            raise unreachable({r: self.pool.errors[r] for r in relays})
        self._note_relay_errors()

    async def _after_receive(
        self, result: InboxResult, *, held: dict[int, list[bytes]] | None = None
    ) -> list[Message]:
        db = self.profile.db
        folder = self.config.downloads  # decrypted copies only where the person asked
        for rowid in result.files if folder is not None else ():
            try:
                files.save_copy(db, rowid, folder)  # type: ignore[arg-type]
            except StorageError as exc:
                self.warnings.append(str(exc))
        paths = _paths_by_row(result)
        messages = messages_by_rowid(db, result.messages, self.name, paths)
        if held is not None:  # listening: receipts go out together, see _receipts_forever
            for contact_id, ids in result.receipts.items():
                held.setdefault(contact_id, []).extend(ids)
            if result.new_contacts:
                await self.flush(force=True)
        elif result.receipts:
            self._queue_receipts(result.receipts)
        if held is None and (result.receipts or result.new_contacts):
            await self.flush(force=True)
        if result.dropped:
            self.warnings.append(f"{result.dropped} envelope(s) could not be read and were dropped")
        return messages

    def _queue_receipts(self, receipts: dict[int, list[bytes]], *, read: bool = False) -> None:
        db, key = self.profile.db, self.profile.pickle_key
        now = self.clock()
        with db.transaction():
            for contact_id, ids in receipts.items():
                for start in range(0, len(ids), content.MAX_RECEIPT_IDS):
                    chunk = ids[start : start + content.MAX_RECEIPT_IDS]
                    session = contacts.load_session(db, contact_id, key)
                    sealed = session.seal(content.encode(Receipt(ids=chunk, read=read)), now=now)
                    contacts.save_session(db, contact_id, session, key)
                    outbox.enqueue(
                        db,
                        contact_id=contact_id,
                        envelopes=[sealed],
                        targets=contacts.targets(db, contact_id),
                        message=None,
                    )

    async def listen(self) -> AsyncGenerator[Message, None]:
        """Stay connected to every relay; yield messages as they arrive (until cancelled)."""
        queue: asyncio.Queue[InboxResult] = asyncio.Queue()
        listeners = Listeners(
            self.profile,
            self.pool,
            clock=self.clock,
            on_batch=queue.put_nowait,
            retry_base=self.config.retry_base / 2,
            retry_max=self.config.retry_max,
        )
        listeners.refresh()
        tasks = [asyncio.create_task(listeners.watch(MAILBOX_CHECK))]
        tasks.append(asyncio.create_task(self._flush_forever()))
        tasks.append(asyncio.create_task(disappearing.purge_forever(self)))
        poller = FeedPoller(self, lambda: queue.put_nowait(InboxResult()))  # groups, channels
        tasks.append(asyncio.create_task(poller.run()))
        held: dict[int, list[bytes]] = {}  # delivery receipts not yet sealed
        tasks.append(asyncio.create_task(self._receipts_forever(held)))
        watch = safety.LockWatch(self.profile.home, self.profile.signal_key, self.profile.note)
        try:
            while True:
                result = await safety.next_unless_locked(queue, watch)  # payk lock: raises
                while not queue.empty():
                    result.merge(queue.get_nowait())
                if result.new_contacts:
                    listeners.refresh()  # their mailboxes, at once rather than at the next check
                for message in await self._after_receive(result, held=held) + poller.take():
                    yield message
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await listeners.stop()
            if watch.tripped:
                self.profile.forget_keys()
            elif held:
                self._queue_receipts(held)  # sent by the next flush, whenever that is

    async def _receipts_forever(self, held: dict[int, list[bytes]]) -> None:
        """Seal and send the held delivery receipts every ``RECEIPT_DELAY`` seconds: one
        receipt per contact for everything that arrived meanwhile, rather than one each."""
        while True:
            await asyncio.sleep(RECEIPT_DELAY)
            if not held:
                continue
            receipts = dict(held)
            held.clear()
            try:
                self._queue_receipts(receipts)
                await self.flush(force=True)
            except PaykError as exc:
                self.warnings.append(str(exc))

    async def _flush_forever(self) -> None:
        while True:
            try:
                self._forget_old_seen()
                await self.flush()
            except PaykError as exc:
                self.warnings.append(str(exc))
            await asyncio.sleep(self.config.retry_base)

    def history(self, alias: str, *, limit: int = 50) -> list[Message]:
        """The last ``limit`` messages with ``alias``, oldest first."""
        if groups.is_feed(self.profile.db, alias):
            return groups.history(self, alias, limit=limit)
        disappearing.purge(self.profile.db, self.clock())
        contact = contacts.contact_by_alias(self.profile.db, alias)
        return history(self.profile.db, contact.id, self.name, limit)

    async def mark_read(self, alias: str) -> int:
        """Mark a contact's incoming messages read and send them a read receipt (how many).

        Groups and channels have no read receipts (0). Relays being down never raise here.
        """
        if groups.is_feed(self.profile.db, alias):
            return 0
        contact = contacts.contact_by_alias(self.profile.db, alias)
        ids = reading.mark_read(self.profile.db, contact.id, self.clock())
        if ids:
            self._queue_receipts({contact.id: ids}, read=True)
            await self.flush(force=True)
        return len(ids)

    def unread(self) -> dict[str, int]:
        """Incoming messages from each contact not yet viewed (``history`` or the TUI's thread
        marks them read); kept in the store, so the counts outlive the process."""
        return reading.unread_counts(self.profile.db)

    def _note_relay_errors(self) -> None:
        for relay, exc in self.pool.errors.items():
            note = f"relay {relay} is unreachable: {exc}"
            if note not in self.warnings:
                self.warnings.append(note)


def _address(relay: str, creds: object) -> MailboxAddress:
    return MailboxAddress(relay=RelayAddress.parse(relay), send_id=creds.send_id)  # type: ignore[attr-defined]


def _deleter(creds: object) -> Callable[[RelayLink], Awaitable[bool]]:
    async def delete(link: RelayLink) -> bool:
        await link.delete_mailbox(creds)
        return True

    return delete


def _paths_by_row(result: InboxResult) -> dict[int, int]:
    return {row: len(result.via.get(eid, ())) for row, eid in result.envelope_of.items()}


class _Ticker:
    """Turns per-envelope progress ticks into (done, total) calls."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)
