"""Random and mutated input never crashes the parsers: only payk's own errors come out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payk.errors import InvitationError, RemoteProtocolError
from payk.protocol import envelope as env
from payk.protocol.address import b64u_encode
from payk.protocol.identity import Identity, PublicIdentity
from payk.protocol.invite import LINK_PREFIX, decode_link, encode_binary

from .pairs import SessionPair, invitation_for, snapshot

NOW = 1000
PAIR = SessionPair.established()
GOOD = PAIR.alice.seal(b"fuzz target", now=NOW)
LINK_DATA = encode_binary(invitation_for(Identity.generate())[0])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_unpack_random_bytes(data: bytes) -> None:
    try:
        env.unpack(data)
    except RemoteProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_decode_random_links(text: str) -> None:
    with pytest.raises(InvitationError):
        decode_link(LINK_PREFIX + text, now=0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(LINK_DATA) - 1), st.binary(min_size=1, max_size=8))
def test_decode_spliced_links(at: int, junk: bytes) -> None:
    spliced = LINK_DATA[:at] + junk + LINK_DATA[at + len(junk) :]
    if spliced == LINK_DATA:
        return
    with pytest.raises(InvitationError):
        decode_link(LINK_PREFIX + b64u_encode(spliced), now=0)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1300))
def test_public_identity_random_bytes(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        PublicIdentity.from_bytes(b"\x01" + data)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.binary(min_size=1, max_size=16))
def test_session_open_spliced_envelopes(at: int, junk: bytes) -> None:
    spliced = GOOD[:at] + junk + GOOD[at + len(junk) :]
    if spliced[: len(GOOD)] == GOOD:
        return
    before = snapshot(PAIR.bob)
    with pytest.raises(RemoteProtocolError):
        PAIR.bob.open(spliced, now=NOW)
    assert snapshot(PAIR.bob) == before
