"""Sample JPEG files built byte by byte: EXIF with a GPS position and device serials.

The pixels are not a decodable image (nothing in payk decodes pixels); the segment structure
and the TIFF inside the EXIF segment follow the JPEG and EXIF 2.3 layouts exactly.
"""

from __future__ import annotations

import struct

# Tehran, Azadi Square: 35 deg 41' 59.64" N, 51 deg 20' 16.8" E, 1200 m.
LATITUDE = 35 + 41 / 60 + 59.64 / 3600
LONGITUDE = 51 + 20 / 60 + 16.8 / 3600
SERIAL = "SN-4711-0815"
TAKEN_AT = "2026:11:20 14:03:00"

Entry = tuple[int, int, int, bytes]


def _ascii(tag: int, text: str) -> Entry:
    raw = text.encode() + b"\x00"
    return (tag, 2, len(raw), raw)


def _rationals(tag: int, values: list[tuple[int, int]]) -> Entry:
    raw = b"".join(struct.pack("<II", n, d) for n, d in values)
    return (tag, 5, len(values), raw)


def _long(tag: int, value: int) -> Entry:
    return (tag, 4, 1, struct.pack("<I", value))


def _ifd_size(entries: list[Entry]) -> int:
    extra = sum(len(raw) for *_, raw in entries if len(raw) > 4)
    return 2 + 12 * len(entries) + 4 + extra


def _ifd(entries: list[Entry], start: int) -> bytes:
    data_at = start + 2 + 12 * len(entries) + 4
    head, extra = struct.pack("<H", len(entries)), b""
    for tag, kind, count, raw in sorted(entries):
        if len(raw) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\x00")
        else:
            head += struct.pack("<HHII", tag, kind, count, data_at + len(extra))
            extra += raw
    return head + struct.pack("<I", 0) + extra


def exif_segment(*, gps: bool = True) -> bytes:
    """An APP1 EXIF segment with make, model, time taken, a serial and (optionally) GPS."""
    sub = [_ascii(0x9003, TAKEN_AT), _ascii(0xA431, SERIAL)]
    where = [
        _ascii(1, "N"),
        _rationals(2, [(35, 1), (41, 1), (5964, 100)]),
        _ascii(3, "E"),
        _rationals(4, [(51, 1), (20, 1), (168, 10)]),
        (5, 1, 1, b"\x00"),
        _rationals(6, [(1200, 1)]),
        _ascii(29, "2026:11:20"),
    ]
    ifd0 = [_ascii(0x010F, "Fonecam"), _ascii(0x0110, "Model 7"), _long(0x8769, 0)]
    if gps:
        ifd0.append(_long(0x8825, 0))
    start0 = 8
    start_sub = start0 + _ifd_size(ifd0)
    start_gps = start_sub + _ifd_size(sub)
    ifd0 = [e if e[0] != 0x8769 else _long(0x8769, start_sub) for e in ifd0]
    ifd0 = [e if e[0] != 0x8825 else _long(0x8825, start_gps) for e in ifd0]
    tiff = b"II*\x00" + struct.pack("<I", start0) + _ifd(ifd0, start0) + _ifd(sub, start_sub)
    if gps:
        tiff += _ifd(where, start_gps)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def photo(*, gps: bool = True, scan: bytes = b"\x12\x34" * 300) -> bytes:
    """A JPEG with JFIF, EXIF (with GPS), a comment, a table and a scan."""
    return (
        b"\xff\xd8"
        + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + exif_segment(gps=gps)
        + _segment(0xFE, b"taken by the phone of Sara")
        + _segment(0xDB, bytes(range(65)))
        + _segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
        + scan
        + b"\xff\xd9"
    )
