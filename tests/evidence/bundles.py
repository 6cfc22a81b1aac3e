"""Helpers for bundle tests: fill a vault, export, and rewrite members (re-signed or not)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from payk.client.facade import Client
from payk.evidence import capture, layout, vault
from payk.evidence.export import export_bundle
from payk.evidence.statement import canonical
from payk.protocol.identity import Identity
from payk.protocol.primitives import sha256
from tests.evidence import samples


def fill(client: Client, tmp_path: Path) -> list[vault.Record]:
    """Three items: a photo with GPS, a testimony, a photo without GPS."""
    files = {
        "azadi.jpg": samples.photo(),
        "testimony.txt": b"At 14:00 the police closed the square.\n",
        "street.jpg": samples.photo(gps=False, scan=b"\x56\x78" * 500),
    }
    out = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        out.append(
            vault.add(
                client.profile, capture.capture_file(path, f"note {name}"), now=client.clock()
            )
        )
        client.clock.now += 60  # type: ignore[attr-defined]
    return out


def export(client: Client, *, strip: bool = False) -> bytes:
    return export_bundle(client.profile, now=client.clock(), strip=strip).data


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def pack(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def resign(files: dict[str, bytes], identity: Identity) -> bytes:
    """Recompute both signed lists over ``files``, as someone holding the key would."""
    files = dict(files)
    manifest = json.loads(files[layout.MANIFEST])
    signed = {layout.MANIFEST, layout.MANIFEST_SIG, layout.SUMS, layout.SUMS_SIG}
    manifest["members"] = {p: sha256(d).hex() for p, d in files.items() if p not in signed}
    files[layout.MANIFEST] = canonical(manifest)
    files[layout.MANIFEST_SIG] = identity.sign(files[layout.MANIFEST])
    sums = {p: sha256(d).hex() for p, d in files.items() if p not in (layout.SUMS, layout.SUMS_SIG)}
    files[layout.SUMS] = layout.render_sums(sums)
    files[layout.SUMS_SIG] = identity.sign(files[layout.SUMS])
    return pack(files)
