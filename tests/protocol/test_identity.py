"""Identities: public form, signatures, encrypted storage."""

from __future__ import annotations

import pytest

from payk.errors import DecryptionError, LocalProtocolError, RemoteProtocolError
from payk.protocol.identity import (
    PUBLIC_IDENTITY_LEN,
    Identity,
    IdentityKeys,
    PublicIdentity,
)

KEY = bytes(range(32))


def test_public_identity_round_trips_and_signatures_verify() -> None:
    identity = Identity.generate()
    public = identity.public
    assert len(public.to_bytes()) == PUBLIC_IDENTITY_LEN
    assert PublicIdentity.from_bytes(public.to_bytes()) == public
    signature = identity.sign(b"statement")
    public.verify(b"statement", signature)
    with pytest.raises(DecryptionError):
        public.verify(b"statement!", signature)
    with pytest.raises(DecryptionError):
        Identity.generate().public.verify(b"statement", signature)


def test_public_identity_refuses_garbage_and_bad_keys() -> None:
    good = Identity.generate().public.to_bytes()
    for bad in (b"", good[:-1], good + b"\0", b"\x02" + good[1:]):
        with pytest.raises(RemoteProtocolError):
            PublicIdentity.from_bytes(bad)
    zero_curve = good[:1] + bytes(32) + good[33:]
    with pytest.raises(RemoteProtocolError):
        PublicIdentity.from_bytes(zero_curve)
    bad_kem = good[:65] + b"\xff" * (len(good) - 65)
    with pytest.raises(RemoteProtocolError):
        PublicIdentity.from_bytes(bad_kem)


def test_identity_keys_round_trip_and_refuse_low_order() -> None:
    keys = Identity.generate().public.keys
    assert IdentityKeys.from_bytes(keys.to_bytes()) == keys
    with pytest.raises(RemoteProtocolError):
        IdentityKeys.from_bytes(bytes(64))
    with pytest.raises(RemoteProtocolError):
        IdentityKeys.from_bytes(keys.to_bytes()[:-1])


def test_storage_round_trip_needs_the_key() -> None:
    identity = Identity.generate()
    stored = identity.to_bytes(KEY)
    restored = Identity.from_bytes(stored, KEY)
    assert restored.public == identity.public
    restored.public.verify(b"x", restored.sign(b"x"))
    with pytest.raises(DecryptionError):
        Identity.from_bytes(stored, bytes(32))
    with pytest.raises(DecryptionError):
        Identity.from_bytes(stored[:-1] + bytes([stored[-1] ^ 1]), KEY)
    with pytest.raises(RemoteProtocolError):
        Identity.from_bytes(b"\x09" + stored[1:], KEY)
    with pytest.raises(LocalProtocolError):
        identity.to_bytes(b"short")


def test_storage_is_not_deterministic() -> None:
    identity = Identity.generate()
    assert identity.to_bytes(KEY) != identity.to_bytes(KEY)
