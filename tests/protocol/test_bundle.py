"""The bundle container: round trip, size classes, and refusal of any change."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payk.errors import IntegrityError
from payk.protocol import bundle
from payk.protocol.bundle import MIN_BUNDLE, BundleItem, open_bundle, padded_size, seal

RELAY = "payk://" + "A" * 43 + "@127.0.0.1:4430"


def item(n: int, size: int = 1024) -> BundleItem:
    return BundleItem(
        relay=RELAY, send_id=bytes([n % 256]) * 16, envelope=bytes(size), created_at=n
    )


def test_round_trip() -> None:
    items = [item(n) for n in range(5)]
    assert open_bundle(seal(items)) == items
    assert open_bundle(seal([])) == []


def test_the_file_shows_only_a_size_class() -> None:
    one, many = seal([item(1)]), seal([item(n) for n in range(40)])
    assert len(one) == len(many) == MIN_BUNDLE
    assert seal([item(1)]) != one  # a fresh salt every time
    assert RELAY.encode() not in one and bytes(16) * 4 not in one
    assert len(seal([item(n, 16384) for n in range(10)])) == 256 * 1024
    assert padded_size(0) == MIN_BUNDLE


def test_the_salt_is_the_only_randomness() -> None:
    salt = bytes(range(32))
    assert bundle._seal_from_parts([item(1)], salt) == bundle._seal_from_parts([item(1)], salt)


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0, max_value=MIN_BUNDLE - 1), flip=st.integers(1, 255))
def test_any_changed_byte_rejects_the_whole_bundle(position: int, flip: int) -> None:
    data = bytearray(bundle._seal_from_parts([item(1), item(2)], bytes(32)))
    data[position] ^= flip
    with pytest.raises(IntegrityError):
        open_bundle(bytes(data))


def test_cut_extended_or_foreign_files_are_refused() -> None:
    data = seal([item(1)])
    for bad in (data[:-1], data + b"\0", b"", bytes(MIN_BUNDLE), data[: MIN_BUNDLE // 2]):
        with pytest.raises(IntegrityError):
            open_bundle(bad)


def test_a_bundle_naming_a_bad_relay_is_refused() -> None:
    bad = BundleItem(relay="not a relay", send_id=b"x", envelope=b"y", created_at=0)
    with pytest.raises(IntegrityError):
        open_bundle(seal([bad]))
