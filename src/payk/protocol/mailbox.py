"""The relay protocol, for both roles: requests, answers, the challenge and the error codes.

Strategy: pure message definitions over ``payk.protocol.wire`` plus the few byte recipes both
sides must agree on (what an owner signs, the proof of work, the padding buckets). The
connection is a pipeline of requests, each carrying a request id ``rid`` that its answer
echoes; ``SendMany`` stores several envelopes in one frame and its ``Sent`` answers each
one (a relay that predates it answers ``UNKNOWN_COMMAND``, and the client falls back to
``Send``); pushes (``Push``, or ``Pushes`` for several envelopes in one frame once a
``Subscribe`` asked for them with ``many``) carry no rid, and an ``Ack`` marked ``quiet`` is
answered only if it fails. The relay speaks first with a ``Challenge`` holding a
fresh nonce; an owner proves a receive id (``Auth``) or a feed writer key (``FeedAuth``) once
per connection by signing the nonce with a versioned label, so a signature never works on
another connection. Answers that would reveal whether envelopes are waiting (``Envelopes``,
``Push``, ``Pushes``) are padded to size buckets. Fields are only ever appended, with
defaults, so an older peer skips what it does not know.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from payk.protocol.envelope import MAX_ENVELOPE
from payk.protocol.primitives import sha256
from payk.protocol.wire import Codec, Message

__all__ = [
    "AUTH_LABEL",
    "FEED_AUTH_LABEL",
    "ID_LEN",
    "MAX_BATCH",
    "MAX_ENVELOPE",
    "MAX_REQUEST",
    "MAX_RESPONSE",
    "MAX_SEND_MANY",
    "NONCE_LEN",
    "POW_LABEL",
    "PUSHES_BYTES",
    "Ack",
    "Append",
    "Appended",
    "Auth",
    "Challenge",
    "CreateFeed",
    "CreateMailbox",
    "DeleteMailbox",
    "Envelopes",
    "Error",
    "ErrorCode",
    "FeedAuth",
    "FeedCreated",
    "FeedEntries",
    "FeedEntry",
    "Fetch",
    "Forward",
    "Item",
    "MailboxCreated",
    "Ok",
    "Ping",
    "Push",
    "Pushed",
    "Pushes",
    "ReadFeed",
    "Request",
    "Response",
    "Send",
    "SendItem",
    "SendMany",
    "Sent",
    "Subscribe",
    "Unsubscribe",
    "auth_message",
    "feed_auth_message",
    "padded_size",
    "pow_valid",
    "request_codec",
    "response_codec",
    "solve_pow",
]


ID_LEN: Final = 16
NONCE_LEN: Final = 32
MAX_BATCH: Final = 1000
MAX_REQUEST: Final = MAX_ENVELOPE + 1024
MAX_RESPONSE: Final = 4 * 1024 * 1024
MAX_SEND_MANY: Final = 256  # envelopes in one SendMany (its frame is bounded by MAX_REQUEST)
PUSHES_BYTES: Final = 256 * 1024  # a relay starts a new Pushes frame past this many bytes
AUTH_LABEL: Final = b"payk/v1/relay/auth"
FEED_AUTH_LABEL: Final = b"payk/v1/relay/feed-auth"
POW_LABEL: Final = b"payk/v1/relay/pow"
_MIN_BUCKET = 4096
_BUCKET_SLACK = 512


class ErrorCode:
    """The error codes a relay answers with (``Error.code``)."""

    MALFORMED: Final = "MALFORMED"
    UNKNOWN_COMMAND: Final = "UNKNOWN_COMMAND"
    UNAUTHORIZED: Final = "UNAUTHORIZED"
    UNKNOWN: Final = "UNKNOWN"
    QUOTA: Final = "QUOTA"
    RATE_LIMITED: Final = "RATE_LIMITED"
    TOO_LARGE: Final = "TOO_LARGE"
    POW_REQUIRED: Final = "POW_REQUIRED"
    BAD_TARGET: Final = "BAD_TARGET"
    UNAVAILABLE: Final = "UNAVAILABLE"


Rid = Annotated[int, msgspec.Meta(ge=0, lt=2**32)]
Id = Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]
Key = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Sig = Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
Body = Annotated[bytes, msgspec.Meta(max_length=MAX_ENVELOPE)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
Text = Annotated[str, msgspec.Meta(max_length=512)]
Code = Annotated[str, msgspec.Meta(max_length=32)]  # an ErrorCode, or "" in Sent


# --- requests (client -> relay) ----------------------------------------------------------------


class CreateMailbox(Message, frozen=True, tag="mc"):
    """Create a mailbox owned by ``auth_key``; ``pow`` solves the challenge if asked."""

    rid: Rid
    auth_key: Key
    pow: Annotated[bytes, msgspec.Meta(max_length=64)] = b""


class Auth(Message, frozen=True, tag="au"):
    """Prove ownership of ``recv_id`` for this connection: a signature of ``auth_message``."""

    rid: Rid
    recv_id: Id
    sig: Sig


class Send(Message, frozen=True, tag="se"):
    """Store ``body`` in the mailbox whose send id is ``send_id``."""

    rid: Rid
    send_id: Id
    body: Body


class SendItem(msgspec.Struct, frozen=True, array_like=True):
    """One envelope of a ``SendMany``: the mailbox's send id and the body."""

    send_id: Id
    body: Body


class SendMany(Message, frozen=True, tag="sm"):
    """Store each item's body in its mailbox, in item order; answered by one ``Sent``.

    The frame is bounded by ``MAX_REQUEST`` like every request, so it carries one envelope of
    the largest size or many small ones. An item refused (a full or unknown mailbox) does not
    undo the others.
    """

    rid: Rid
    items: Annotated[list[SendItem], msgspec.Meta(min_length=1, max_length=MAX_SEND_MANY)]


class Forward(Message, frozen=True, tag="fw"):
    """Hand ``body`` to this relay for the mailbox ``send_id`` on relay ``relay`` (an address)."""

    rid: Rid
    relay: Text
    send_id: Id
    body: Body


class Fetch(Message, frozen=True, tag="fe"):
    """Up to ``limit`` waiting envelopes of an authenticated mailbox."""

    rid: Rid
    recv_id: Id
    limit: Limit = 100


class Ack(Message, frozen=True, tag="ak"):
    """Delete these envelopes from an authenticated mailbox.

    With ``quiet`` the relay sends no ``Ok``, only an ``Error`` if the ack fails: a client
    acking in the background saves a frame per ack (an older relay answers anyway).
    """

    rid: Rid
    recv_id: Id
    ids: Annotated[list[Id], msgspec.Meta(max_length=MAX_BATCH)]
    quiet: bool = False


class Subscribe(Message, frozen=True, tag="sb"):
    """Push this authenticated mailbox's envelopes as they arrive.

    ``many`` says this client reads ``Pushes``: from then on the connection's pending pushes
    may share a frame (an older relay ignores the field and sends ``Push`` frames).
    """

    rid: Rid
    recv_id: Id
    many: bool = False


class Unsubscribe(Message, frozen=True, tag="us"):
    """Stop pushing this mailbox's envelopes."""

    rid: Rid
    recv_id: Id


class DeleteMailbox(Message, frozen=True, tag="md"):
    """Delete an authenticated mailbox and everything in it."""

    rid: Rid
    recv_id: Id


class CreateFeed(Message, frozen=True, tag="fc"):
    """Create a feed that only holders of ``writer_key``'s private key can append to."""

    rid: Rid
    writer_key: Key


class FeedAuth(Message, frozen=True, tag="fa"):
    """Prove the writer key of ``feed_id`` for this connection (``feed_auth_message``)."""

    rid: Rid
    feed_id: Id
    sig: Sig


class Append(Message, frozen=True, tag="ap"):
    """Append ``body`` to an authenticated feed."""

    rid: Rid
    feed_id: Id
    body: Body


class ReadFeed(Message, frozen=True, tag="rf"):
    """Up to ``limit`` entries of a feed from ``offset`` on; needs only the feed id."""

    rid: Rid
    feed_id: Id
    offset: Offset = 0
    limit: Limit = 100


class Ping(Message, frozen=True, tag="pi"):
    """Ask for an ``Ok``; keeps a connection measured and alive."""

    rid: Rid


Request = (
    CreateMailbox
    | Auth
    | Send
    | SendMany
    | Forward
    | Fetch
    | Ack
    | Subscribe
    | Unsubscribe
    | DeleteMailbox
    | CreateFeed
    | FeedAuth
    | Append
    | ReadFeed
    | Ping
)


# --- answers (relay -> client) -----------------------------------------------------------------


class Item(msgspec.Struct, frozen=True, array_like=True):
    """One envelope in a mailbox and its relay-assigned id."""

    id: Id
    body: Body


class FeedEntry(msgspec.Struct, frozen=True, array_like=True):
    """One feed entry at its offset."""

    offset: Offset
    body: Body


class Challenge(Message, frozen=True, tag="ch"):
    """The relay's first frame: a fresh nonce and the proof-of-work difficulty (0: none)."""

    nonce: Annotated[bytes, msgspec.Meta(min_length=NONCE_LEN, max_length=NONCE_LEN)]
    pow_bits: Annotated[int, msgspec.Meta(ge=0, le=32)] = 0
    max_envelope: int = MAX_ENVELOPE


class Ok(Message, frozen=True, tag="ok"):
    """The request succeeded (for ``Send``/``Forward``: the envelope is durable)."""

    rid: Rid


class Sent(Message, frozen=True, tag="sn"):
    """The outcome of each item of a ``SendMany``, in item order.

    ``""`` means stored durably (what ``Ok`` means for ``Send``); anything else is the
    ``ErrorCode`` that refused that item (``QUOTA``, ``UNKNOWN``, ...).
    """

    rid: Rid
    codes: Annotated[list[Code], msgspec.Meta(max_length=MAX_SEND_MANY)]


class MailboxCreated(Message, frozen=True, tag="cr"):
    """The new mailbox's receive id (kept by the owner) and send id (given to contacts)."""

    rid: Rid
    recv_id: Id
    send_id: Id


class Envelopes(Message, frozen=True, tag="ev"):
    """Waiting envelopes, oldest first (padded on the wire to a size bucket)."""

    rid: Rid
    items: Annotated[list[Item], msgspec.Meta(max_length=MAX_BATCH)]


class FeedCreated(Message, frozen=True, tag="fC"):
    """The new feed's id."""

    rid: Rid
    feed_id: Id


class Appended(Message, frozen=True, tag="ad"):
    """The appended entry's offset."""

    rid: Rid
    offset: Offset


class FeedEntries(Message, frozen=True, tag="en"):
    """Feed entries from the requested offset, in order."""

    rid: Rid
    entries: Annotated[list[FeedEntry], msgspec.Meta(max_length=MAX_BATCH)]


class Push(Message, frozen=True, tag="pu"):
    """An envelope that arrived in a subscribed mailbox (padded like ``Envelopes``)."""

    recv_id: Id
    item: Item


class Pushed(msgspec.Struct, frozen=True, array_like=True):
    """One envelope of a ``Pushes`` frame and the mailbox it arrived in."""

    recv_id: Id
    item: Item


class Pushes(Message, frozen=True, tag="pm"):
    """Envelopes that arrived in subscribed mailboxes, in push order (padded like ``Push``).

    Sent only on a connection whose ``Subscribe`` said ``many``; a relay puts at most
    ``MAX_BATCH`` envelopes and about ``PUSHES_BYTES`` of bodies in one.
    """

    items: Annotated[list[Pushed], msgspec.Meta(max_length=MAX_BATCH)]


class Error(Message, frozen=True, tag="er"):
    """The request failed; ``code`` is one of ``ErrorCode``."""

    rid: Rid
    code: Annotated[str, msgspec.Meta(max_length=32)]
    detail: Text = ""


Response = (
    Challenge
    | Ok
    | Sent
    | MailboxCreated
    | Envelopes
    | FeedCreated
    | Appended
    | FeedEntries
    | Push
    | Pushes
    | Error
)


def request_codec() -> Codec[Request]:
    """The codec a relay reads requests with (frames up to ``MAX_REQUEST``)."""
    return Codec(Request, max_size=MAX_REQUEST)


def response_codec() -> Codec[Response]:
    """The codec a client reads answers with (frames up to ``MAX_RESPONSE``)."""
    return Codec(Response, max_size=MAX_RESPONSE)


# --- recipes both sides agree on --------------------------------------------------------------


def auth_message(nonce: bytes, recv_id: bytes) -> bytes:
    """What a mailbox owner signs to prove ``recv_id`` on the connection with ``nonce``."""
    return AUTH_LABEL + nonce + recv_id


def feed_auth_message(nonce: bytes, feed_id: bytes) -> bytes:
    """What a feed writer signs to prove ``feed_id`` on the connection with ``nonce``."""
    return FEED_AUTH_LABEL + nonce + feed_id


def _pow_digest(nonce: bytes, auth_key: bytes, solution: bytes) -> bytes:
    return sha256(POW_LABEL + nonce + auth_key + solution)


def _leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def pow_valid(nonce: bytes, auth_key: bytes, solution: bytes, bits: int) -> bool:
    """Whether ``solution`` is a proof of work of ``bits`` for this nonce and key."""
    return bits <= 0 or _leading_zero_bits(_pow_digest(nonce, auth_key, solution)) >= bits


def solve_pow(nonce: bytes, auth_key: bytes, bits: int) -> bytes:
    """The first counter (8 bytes, big-endian) that is a proof of work of ``bits``."""
    counter = 0
    while True:
        solution = counter.to_bytes(8, "big")
        if pow_valid(nonce, auth_key, solution, bits):
            return solution
        counter += 1


def padded_size(length: int) -> int:
    """The size bucket a padded answer of ``length`` bytes is sent at.

    Buckets are 4 KiB, 8 KiB, 16 KiB... each plus a little slack for framing, so an answer
    with no envelope and one with a small envelope have the same size.
    """
    bucket = _MIN_BUCKET
    while bucket + _BUCKET_SLACK < length:
        bucket *= 2
    return bucket + _BUCKET_SLACK
