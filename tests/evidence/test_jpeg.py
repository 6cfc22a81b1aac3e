"""JPEG segments and EXIF: exact splitting, stripping, and refusing broken structure."""

from __future__ import annotations

import pytest

from payk.evidence import jpeg
from tests.evidence import samples


def test_segments_join_back_to_the_file() -> None:
    data = samples.photo()
    segments = jpeg.split(data)
    assert segments is not None
    assert b"".join(s.data for s in segments) == data
    assert [s.marker for s in segments] == [0xD8, 0xE0, 0xE1, 0xFE, 0xDB, 0xDA]
    assert [s.removable for s in segments] == [False, False, True, True, False, False]


def test_exif_gives_time_device_and_position() -> None:
    exif = jpeg.parse_exif(samples.photo())
    assert exif is not None
    assert exif.taken_at == samples.TAKEN_AT
    assert exif.device == {"make": "Fonecam", "model": "Model 7", "serial": samples.SERIAL}
    assert exif.gps is not None
    assert exif.gps["latitude"] == pytest.approx(samples.LATITUDE)
    assert exif.gps["longitude"] == pytest.approx(samples.LONGITUDE)
    assert exif.gps["altitude"] == 1200
    assert exif.gps["date"] == "2026:11:20"


def test_no_gps_means_no_position() -> None:
    exif = jpeg.parse_exif(samples.photo(gps=False))
    assert exif is not None and exif.gps is None and exif.device["serial"] == samples.SERIAL


def test_strip_removes_exif_and_comment_only() -> None:
    data = samples.photo()
    stripped = jpeg.strip(data)
    assert stripped is not None
    assert samples.SERIAL.encode() not in stripped and b"Sara" not in stripped
    assert b"Exif" not in stripped and stripped.endswith(b"\xff\xd9")
    assert jpeg.parse_exif(stripped) is None
    assert len(data) - len(stripped) == len(samples.exif_segment()) + 30


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not a jpeg",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xe0\x00\x40abc",  # a length past the end
        b"\xff\xd8\xff\xe0\x00\x01",  # a length below its own size
        b"\xff\xd8\x00\x00",  # no marker where one must be
    ],
)
def test_broken_structure_is_not_a_jpeg(bad: bytes) -> None:
    assert jpeg.split(bad) is None
    assert jpeg.strip(bad) is None
    assert jpeg.parse_exif(bad) is None


def test_damaged_exif_gives_no_metadata_and_no_error() -> None:
    data = bytearray(samples.photo())
    at = data.index(b"II*\x00")
    data[at + 4 : at + 8] = b"\xff\xff\xff\x00"  # IFD0 offset far outside the segment
    assert jpeg.parse_exif(bytes(data)) is None
    for cut in range(at, at + 120, 7):
        broken = bytes(data[:cut]) + bytes(data[cut + 3 :])
        jpeg.parse_exif(broken)  # never raises, whatever the damage
