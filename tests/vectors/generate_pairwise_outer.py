"""Regenerate pairwise_outer.json: an independent re-implementation of docs/protocol.md.

Run ``python tests/vectors/generate_pairwise_outer.py > tests/vectors/pairwise_outer.json``.
It shares no code with payk: HKDF is written out from RFC 5869 with the standard library's
HMAC, the byte layouts from the tables in docs/protocol.md, and the AEAD is pyca's
ChaCha20-Poly1305 checked first against RFC 8439 section 2.8.2. Inputs are fixed byte patterns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

BUCKETS = (1024, 4096, 16384, 65536)


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes((counter,)), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def pattern(n: int, seed: int) -> bytes:
    return bytes((seed + 7 * i) % 256 for i in range(n))


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def frame(kind: int, envelope_id: bytes, clear: bytes, inner: bytes, key: bytes) -> bytes:
    header = bytes((1, kind)) + envelope_id
    need = 22 + len(clear) + len(inner) + 16
    size = next(b for b in BUCKETS if need <= b)
    padded = inner + bytes(size - need)
    sealed = ChaCha20Poly1305(key).encrypt(bytes(12), padded, header + clear)
    body = clear + sealed
    return header + u32(len(body)) + body


def rfc8439_check() -> dict[str, str]:
    key = bytes(range(0x80, 0xA0))
    nonce = bytes.fromhex("070000004041424344454647")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    text = (
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
        b"the future, sunscreen would be it."
    )
    sealed = ChaCha20Poly1305(key).encrypt(nonce, text, aad)
    assert sealed[-16:].hex() == "1ae10b594f09e26a7e902ecbd0600691"
    return {
        "source": "RFC 8439 section 2.8.2",
        "key": key.hex(),
        "nonce": nonce.hex(),
        "aad": aad.hex(),
        "plaintext": text.hex(),
        "sealed": sealed.hex(),
    }


def main() -> None:
    shared, shared_next = pattern(32, 1), pattern(32, 2)
    invitation_digest = sha256(b"an invitation")
    kem_ct, kem_ct_next = pattern(1088, 3), pattern(1088, 4)
    invitee = bytes((1,)) + pattern(1248, 5)
    next_ek = pattern(1184, 6)
    envelope_id = pattern(16, 9)
    th0 = sha256(b"payk/v1/pairwise/transcript-0" + invitation_digest + kem_ct)
    th1 = sha256(b"payk/v1/pairwise/transcript-1" + th0 + invitee)
    hs_key = hkdf(shared, th0, b"payk/v1/pairwise/handshake")
    e0 = hkdf(shared, th1, b"payk/v1/pairwise/epoch-0")
    e1 = hkdf(
        e0 + shared_next, sha256(next_ek + kem_ct_next), b"payk/v1/pairwise/epoch-next" + u32(1)
    )
    msg_key = hkdf(e1, envelope_id, b"payk/v1/pairwise/message" + bytes((1,)) + u32(1) + u32(7))
    hs_msg_key = hkdf(hs_key, envelope_id, b"payk/v1/pairwise/handshake-message" + u32(0))
    olm = pattern(90, 10)
    clear = bytes((1,)) + u32(1) + u32(7) + kem_ct_next
    inner = bytes((0,)) + bytes((1,)) + u32(len(olm)) + olm
    pairwise = frame(2, envelope_id, clear, inner, msg_key)
    signature = pattern(64, 11)
    hs_clear = pattern(16, 12) + kem_ct + u32(0)
    hs_inner = invitee + signature + bytes((0,)) + u32(len(olm)) + olm
    handshake = frame(1, envelope_id, hs_clear, hs_inner, hs_msg_key)
    vectors = {
        "source": "tests/vectors/generate_pairwise_outer.py: an independent implementation of "
        "the pairwise outer layer in docs/protocol.md (HKDF from RFC 5869 over stdlib HMAC)",
        "aead": rfc8439_check(),
        "inputs": {
            "shared_secret": shared.hex(),
            "next_shared_secret": shared_next.hex(),
            "invitation_digest": invitation_digest.hex(),
            "kem_ciphertext": kem_ct.hex(),
            "next_kem_ciphertext": kem_ct_next.hex(),
            "next_encapsulation_key": next_ek.hex(),
            "invitee_identity": invitee.hex(),
            "envelope_id": envelope_id.hex(),
            "olm_message": olm.hex(),
            "signature": signature.hex(),
            "invite_id": pattern(16, 12).hex(),
        },
        "keys": {
            "transcript_0": th0.hex(),
            "transcript_1": th1.hex(),
            "handshake_key": hs_key.hex(),
            "epoch_0": e0.hex(),
            "epoch_1": e1.hex(),
            "message_key_responder_epoch1_counter7": msg_key.hex(),
            "handshake_message_key_counter0": hs_msg_key.hex(),
        },
        "envelopes": {
            "pairwise_epoch1_counter7_with_ciphertext": pairwise.hex(),
            "handshake_counter0": handshake.hex(),
        },
    }
    print(json.dumps(vectors, indent=1))


if __name__ == "__main__":
    main()
