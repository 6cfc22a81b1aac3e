"""Fuzz targets: each takes arbitrary bytes and may only raise payk's own refusals.

Strategy: a target is a function ``(data: bytes) -> None`` over one parser that meets input
from the network or a file: the envelope (and a live session opening it), the invitation,
the relay's frames (decoded and handled by a real in-memory relay service), the offline
bundle (its body re-sealed so the fuzzer gets past the tag), and the group membership log.
``EXPECTED`` is what a target may raise; anything else, including a relay request that the
service logs as failed, is a crash. ``seeds()`` gives genuine inputs to mutate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import cache

from payk.errors import PaykError
from payk.protocol import bundle, content, group_content, group_log
from payk.protocol import envelope as env
from payk.protocol import mailbox as mb
from payk.protocol import primitives as p
from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.identity import Identity
from payk.protocol.invite import create_invitation, decode_binary, encode_binary
from payk.protocol.session import PairwiseSession

__all__ = ["EXPECTED", "TARGETS", "Crash", "seeds"]

EXPECTED: tuple[type[BaseException], ...] = (PaykError,)
NOW = 1000
_MAILBOX = MailboxAddress(
    relay=RelayAddress(fingerprint=b"\x07" * 32, host="relay.example.org", port=443),
    send_id=b"\x42" * 16,
)


class Crash(Exception):
    """A target did something other than accept or refuse with a payk error."""


@cache
def _pair() -> tuple[PairwiseSession, PairwiseSession]:
    alice_id, bob_id = Identity.generate(), Identity.generate()
    invitation, secret = create_invitation(alice_id, [_MAILBOX], now=NOW)
    bob = PairwiseSession.accept(bob_id, invitation, now=NOW)
    alice, _ = PairwiseSession.respond(alice_id, secret, bob.seal(b"hi", now=NOW), now=NOW)
    bob.open(alice.seal(b"hello", now=NOW), now=NOW)
    return alice, bob


def envelope(data: bytes) -> None:
    """Parse an envelope, then let an established session open it (state must not change)."""
    env.unpack(data)
    _, bob = _pair()
    before = repr(bob._state), bob._olm.pickle(bytes(32))
    try:
        bob.open(data, now=NOW)
    except PaykError:
        if (repr(bob._state), bob._olm.pickle(bytes(32))) != before:
            raise Crash("a refused envelope changed the session") from None
        raise


def content_item(data: bytes) -> None:
    """Decode what a contact's message or a group message carries once decrypted."""
    try:
        content.decode(data)
    finally:
        group_content.decode(data)


def invitation(data: bytes) -> None:
    """Parse the binary form of an invitation link."""
    decode_binary(data)


class _Collect(logging.Handler):
    """Keeps the error records the relay logs (a request it failed to handle)."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Service:
    def __init__(self) -> None:
        from payk.relay.service import RelayService
        from payk.relay.store.memory import MemoryStore

        self.loop = asyncio.new_event_loop()
        store = MemoryStore()
        self.loop.run_until_complete(store.open())
        self.service = RelayService(store, clock=lambda: NOW)
        self.session = self.service.open_session()
        self.errors: list[logging.LogRecord] = []
        logging.getLogger("payk.relay").addHandler(_Collect(self.errors))


@cache
def _service() -> _Service:
    return _Service()


def relay_frame(data: bytes) -> None:
    """Decode a client frame and have a real relay service (in-memory store) answer it."""
    request = mb.request_codec().decode(data)
    relay = _service()
    relay.errors.clear()
    answer = relay.loop.run_until_complete(relay.service.handle(relay.session, request))
    mb.response_codec().encode(answer)
    if relay.errors:
        raise Crash(f"the relay failed on a request: {relay.errors[0].getMessage()}")


def bundle_body(data: bytes) -> None:
    """Seal ``data`` as a bundle's plaintext (past the tag) and open it."""
    salt = bytes(bundle.SALT_LEN)
    key = p.hkdf(salt, salt=b"", info=bundle._KEY_INFO)
    size = bundle.padded_size(len(data))
    plaintext = data + bytes(size - bundle.SALT_LEN - bundle.TAG_LEN - len(data))
    bundle.open_bundle(salt + p.aead_seal(key, bundle._NONCE, plaintext, bundle._AAD))


def group_op(data: bytes) -> None:
    """Decode a signed group-log operation and apply it to a fresh group's state."""
    group_log.decode_op(data)
    group_log.apply(_group()[0], data)


@cache
def _group() -> tuple[group_log.GroupState, list[bytes]]:
    """A group after its create op, and genuine signed ops (create, invite) as seeds."""
    owner = Identity.generate()
    gid = bytes(range(16))
    member = group_log.Member(
        identity=owner.public.to_bytes(), x25519=bytes(range(32)), name="owner", role="owner"
    )
    create = group_log.Op(
        group=gid,
        seq=0,
        prev=bytes(32),
        kind="create",
        author=owner.public.ed25519,
        at=NOW,
        epoch=1,
        commit=bytes(32),
        member=member,
        name="group",
    )
    signed = group_log.sign_op(owner, create)
    state, _ = group_log.apply(group_log.GroupState(group=gid), signed)
    invite = group_log.Op(
        group=gid,
        seq=1,
        prev=state.head,
        kind="invite",
        author=owner.public.ed25519,
        at=NOW,
        epoch=1,
        invite=bytes(16),
        secret=bytes(32),
    )
    return state, [signed, group_log.sign_op(owner, invite)]


TARGETS: dict[str, Callable[[bytes], None]] = {
    "envelope": envelope,
    "invitation": invitation,
    "content": content_item,
    "relay_frame": relay_frame,
    "bundle": bundle_body,
    "group_op": group_op,
}


def seeds(name: str) -> list[bytes]:
    """Genuine inputs for ``name``, to start mutating from."""
    alice, _ = _pair()
    if name == "envelope":
        return [alice.seal(b"seed", now=NOW), alice.seal(bytes(2000), now=NOW)]
    if name == "invitation":
        return [encode_binary(create_invitation(Identity.generate(), [_MAILBOX], now=NOW)[0])]
    if name == "relay_frame":
        codec = mb.request_codec()
        return [
            codec.encode(mb.Ping(rid=1)),
            codec.encode(mb.Send(rid=2, send_id=b"s" * 16, body=b"x" * 40)),
            codec.encode(mb.Fetch(rid=3, recv_id=b"r" * 16)),
        ]
    if name == "bundle":
        item = bundle.BundleItem(
            relay=str(_MAILBOX.relay), send_id=b"s", envelope=b"e", created_at=1
        )
        body = bundle._encoder.encode(bundle._Body(items=[item]))
        return [bundle._HEADER.pack(bundle.VERSION, len(body)) + body]
    if name == "content":
        text = content.Text(id=bytes(16), text="seed", sent_at=NOW)
        return [
            content.encode(text),
            group_content.encode(group_content.GroupText(id=bytes(16), text="g", sent_at=NOW)),
        ]
    if name == "group_op":
        return list(_group()[1])
    return []
