"""C2PA: exported JPEG copies that also carry a C2PA manifest (optional extra ``payk[c2pa]``).

Strategy: when ``c2pa-python`` is installed, export adds, next to each JPEG's shared copy, the
same copy with a C2PA manifest embedded, signed by the profile's identity key through a
signer callback over ``Identity.sign`` (the key never leaves the Olm account). C2PA demands an
X.509 chain, so ``primitives.signing_certificate_chain`` wraps the identity key in a leaf
certificate issued by a throwaway CA: C2PA validators report the signer as untrusted, which
is the truth; trust in the key comes from payk (safety codes, the signed statement). The C2PA
library inserts only APP11 (JUMBF) segments, so ``derives`` proves, without the library, that
the C2PA copy is exactly the shared copy plus those segments. Without the library, or for
other file types, nothing is added.
"""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Callable
from typing import Any

from payk.evidence import jpeg
from payk.protocol.identity import Identity
from payk.protocol.primitives import signing_certificate_chain

__all__ = ["APP11", "Embed", "available", "derives", "embedder"]

APP11 = 0xEB
# What the person declared by adding the file to the vault; payk cannot see the camera.
_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
_DESCRIPTION = (
    "exported from a payk evidence vault; the signed payk statement in the same bundle "
    "(items/ID/statement.json) is the authoritative record of this file"
)
Embed = Callable[[bytes, str], bytes | None]


def available() -> bool:
    """Whether ``c2pa-python`` can be imported."""
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return False
    return True


def _manifest(title: str) -> str:
    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": "payk", "version": "1"}],
        "title": title,
        "format": "image/jpeg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": _CAPTURE,
                            "parameters": {"description": _DESCRIPTION},
                        }
                    ]
                },
            }
        ],
    }
    return json.dumps(manifest)


def embedder(identity: Identity, *, now: int) -> Embed | None:
    """A function that embeds a C2PA manifest in a JPEG, or None without ``c2pa-python``."""
    if not available():
        return None
    import c2pa

    chain = signing_certificate_chain(
        identity.public.ed25519,
        now=datetime.datetime.fromtimestamp(now, datetime.UTC),
        common_name="payk evidence signer",
    ).decode()

    def embed(data: bytes, title: str) -> bytes | None:
        if jpeg.split(data) is None:
            return None
        out = io.BytesIO()
        try:
            signer = c2pa.Signer.from_callback(
                identity.sign, c2pa.C2paSigningAlg.ED25519, chain, None
            )
            with signer, c2pa.Builder(_manifest(title)) as builder:
                builder.sign(signer, "image/jpeg", io.BytesIO(data), out)
        except c2pa.C2paError:
            return None
        copy = out.getvalue()
        return copy if derives(copy, data) else None

    return embed


def derives(copy: bytes, shared: bytes) -> bool:
    """Whether ``copy`` is ``shared`` with APP11 (C2PA JUMBF) segments added and nothing else."""
    segments = jpeg.split(copy)
    if segments is None or not any(s.marker == APP11 for s in segments):
        return False
    return b"".join(s.data for s in segments if s.marker != APP11) == shared
