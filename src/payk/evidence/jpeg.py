"""JPEG segments and the EXIF metadata inside them, parsed by a small bounded reader.

Strategy: a JPEG is cut into segments exactly as stored: the start marker, each marker
segment before the first scan (``FFxx`` + length + payload), then everything from the first
start-of-scan to the end as one ``scan`` segment. Joining the segments gives back the file
byte for byte, so a copy without some segments can be proven, segment by segment, to be the
original minus those. Metadata segments that may carry a location or a device's identity
(APP1: EXIF and XMP, APP13: IPTC, COM: comments) are the ones a shared copy drops.

EXIF is read from the APP1 segment's TIFF structure: IFD0 (make, model, software), the EXIF
IFD (time taken, serial numbers) and the GPS IFD (latitude, longitude, altitude). Every offset
and count is checked against the data before use, loops are bounded, and anything malformed
yields no metadata rather than an error: a person's photo is evidence even when its metadata
is damaged. Pixels are never decoded, so no image library (and its attack surface) is needed.
Pure: bytes in, values out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "REMOVABLE_MARKERS",
    "Exif",
    "Segment",
    "is_jpeg",
    "parse_exif",
    "split",
    "strip",
]

REMOVABLE_MARKERS = frozenset({0xE1, 0xED, 0xFE})  # APP1 (EXIF, XMP), APP13 (IPTC), COM
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_SOI, _SOS = 0xD8, 0xDA
_MAX_SEGMENTS = 1000
_MAX_IFD_ENTRIES = 500
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One stored piece of a JPEG: its marker (``0xD8`` start, ``0xDA`` scan-to-end) and bytes."""

    marker: int
    data: bytes

    @property
    def removable(self) -> bool:
        """Whether a shared copy drops this segment (it may hold a location or a device id)."""
        return self.marker in REMOVABLE_MARKERS


@dataclass(frozen=True, slots=True, kw_only=True)
class Exif:
    """What payk keeps from EXIF: when, with what device, and where."""

    taken_at: str | None = None
    device: dict[str, str] = field(default_factory=dict)
    gps: dict[str, Any] | None = None


def is_jpeg(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG."""
    return data[:3] == b"\xff\xd8\xff"


def split(data: bytes) -> list[Segment] | None:
    """The segments of a JPEG, or None when it is not one or its structure is broken."""
    if not is_jpeg(data):
        return None
    segments, pos = [Segment(marker=_SOI, data=data[:2])], 2
    while pos < len(data) and len(segments) < _MAX_SEGMENTS:
        if data[pos] != 0xFF or pos + 2 > len(data):
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes between header segments: too unusual to take apart
            return None
        if marker == _SOS:
            segments.append(Segment(marker=_SOS, data=data[pos:]))
            return segments
        if marker in _STANDALONE:
            segments.append(Segment(marker=marker, data=data[pos : pos + 2]))
            pos += 2
            continue
        if pos + 4 > len(data):
            return None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            return None
        segments.append(Segment(marker=marker, data=data[pos:end]))
        pos = end
    return segments if pos == len(data) else None


def strip(data: bytes) -> bytes | None:
    """A copy of a JPEG without its removable segments, or None when it is not a JPEG."""
    segments = split(data)
    if segments is None:
        return None
    return b"".join(s.data for s in segments if not s.removable)


def parse_exif(data: bytes) -> Exif | None:
    """The EXIF metadata of a JPEG, or None when there is none (or it cannot be read)."""
    for segment in split(data) or []:
        payload = segment.data[4:]
        if segment.marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            try:
                return _Tiff(payload[6:]).exif()
            except (struct.error, ValueError, IndexError, TypeError, ZeroDivisionError):
                return None
    return None


class _Tiff:
    """A bounded reader over the TIFF structure inside an EXIF segment."""

    def __init__(self, data: bytes) -> None:
        if data[:4] not in (b"II*\x00", b"MM\x00*"):
            raise ValueError("not a TIFF header")
        self.data = data
        self.order = "<" if data[:2] == b"II" else ">"

    def _u(self, fmt: str, offset: int) -> int:
        value: int = struct.unpack_from(self.order + fmt, self.data, offset)[0]
        return value

    def ifd(self, offset: int) -> dict[int, Any]:
        count = self._u("H", offset)
        if count > _MAX_IFD_ENTRIES:
            raise ValueError("too many IFD entries")
        entries: dict[int, Any] = {}
        for i in range(count):
            base = offset + 2 + 12 * i
            tag, kind, n = self._u("H", base), self._u("H", base + 2), self._u("I", base + 4)
            value = self._value(kind, n, base + 8)
            if value is not None:
                entries[tag] = value
        return entries

    def _value(self, kind: int, n: int, at: int) -> Any:
        size = _TYPE_SIZES.get(kind)
        if size is None or n > 4096:
            return None
        start = at if size * n <= 4 else self._u("I", at)
        raw = self.data[start : start + size * n]
        if len(raw) != size * n:
            raise ValueError("an EXIF value runs past the segment")
        if kind == 2:
            return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
        if kind in (5, 10):
            sign = "i" if kind == 10 else "I"
            parts = struct.unpack(f"{self.order}{2 * n}{sign}", raw)
            return [parts[i] / parts[i + 1] if parts[i + 1] else 0.0 for i in range(0, 2 * n, 2)]
        if kind in (3, 4, 9):
            fmt = {3: "H", 4: "I", 9: "i"}[kind]
            return list(struct.unpack(f"{self.order}{n}{fmt}", raw))
        return raw

    def exif(self) -> Exif:
        ifd0 = self.ifd(self._u("I", 4))
        sub = self.ifd(ifd0[0x8769][0]) if 0x8769 in ifd0 else {}
        gps = self.ifd(ifd0[0x8825][0]) if 0x8825 in ifd0 else {}
        device = {
            name: str(source[tag])
            for name, source, tag in (
                ("make", ifd0, 0x010F),
                ("model", ifd0, 0x0110),
                ("software", ifd0, 0x0131),
                ("serial", sub, 0xA431),
                ("lens", sub, 0xA434),
                ("lens_serial", sub, 0xA435),
                ("image_id", sub, 0xA420),
            )
            if isinstance(source.get(tag), str) and source[tag]
        }
        taken = sub.get(0x9003) or ifd0.get(0x0132)
        return Exif(
            taken_at=taken if isinstance(taken, str) and taken else None,
            device=device,
            gps=_gps(gps),
        )


def _gps(ifd: dict[int, Any]) -> dict[str, Any] | None:
    lat, lon = _degrees(ifd.get(2), ifd.get(1), "S"), _degrees(ifd.get(4), ifd.get(3), "W")
    if lat is None or lon is None:
        return None
    out: dict[str, Any] = {"latitude": lat, "longitude": lon}
    alt = ifd.get(6)
    if isinstance(alt, list) and alt:
        below = isinstance(ifd.get(5), bytes) and ifd[5][:1] == b"\x01"
        out["altitude"] = round(-alt[0] if below else alt[0], 2)
    if isinstance(ifd.get(29), str):
        out["date"] = ifd[29]
    return out


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    if not isinstance(value, list) or len(value) != 3:
        return None
    degrees = float(value[0] + value[1] / 60 + value[2] / 3600)
    if not -180 <= degrees <= 180:
        return None
    return round(-degrees if ref == negative else degrees, 7)
