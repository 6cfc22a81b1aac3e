"""Fixed-parameter recipes over the audited libraries: the only module that imports them.

Strategy: every other module asks for an operation by purpose (``sign``, ``aead_seal``,
``kem_encap``...) and never picks an algorithm, a nonce size or a curve. Errors from the
libraries are turned here into payk's: any authentication failure is one opaque
``DecryptionError``. Randomness is drawn only by the thin ``random_bytes`` and ``*_generate``
wrappers, so the deterministic ``_from_parts`` functions elsewhere can be tested with vectors.
vodozemac objects stay inside ``OlmAccount`` and ``OlmSession``, which speak bytes only.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import TypeVar

import vodozemac
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from payk.errors import DecryptionError, LocalProtocolError, RemoteProtocolError, UsageError

_T = TypeVar("_T")

__all__ = [
    "AEAD_KEY_LEN",
    "AEAD_NONCE_LEN",
    "AEAD_TAG_LEN",
    "CURVE25519_KEY_LEN",
    "KEM_CIPHERTEXT_LEN",
    "KEM_DECAPSULATION_KEY_LEN",
    "KEM_ENCAPSULATION_KEY_LEN",
    "KEM_SHARED_SECRET_LEN",
    "PICKLE_KEY_LEN",
    "SIGNATURE_LEN",
    "SIGNING_KEY_LEN",
    "MegolmInbound",
    "MegolmOutbound",
    "OlmAccount",
    "OlmSession",
    "aead_open",
    "aead_seal",
    "check_curve25519_public",
    "check_kem_encapsulation_key",
    "constant_time_equal",
    "hkdf",
    "kem_decap",
    "kem_encap",
    "kem_generate",
    "kem_public_key",
    "random_bytes",
    "self_signed_certificate",
    "sha256",
    "sign",
    "signing_certificate_chain",
    "signing_key_generate",
    "signing_public_key",
    "spki_fingerprint",
    "verify",
    "x25519_generate",
    "x25519_public",
    "x25519_shared",
]

SIGNING_KEY_LEN = 32
SIGNATURE_LEN = 64
AEAD_KEY_LEN = 32
AEAD_NONCE_LEN = 12
AEAD_TAG_LEN = 16
CURVE25519_KEY_LEN = 32
KEM_ENCAPSULATION_KEY_LEN = 1184
KEM_DECAPSULATION_KEY_LEN = 64  # the FIPS 203 seed (d || z), from which the key is rebuilt
KEM_CIPHERTEXT_LEN = 1088
KEM_SHARED_SECRET_LEN = 32
PICKLE_KEY_LEN = 32


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's CSPRNG."""
    return os.urandom(n)


# --- Ed25519 (relay mailbox and feed authorisation) -------------------------------------------


def signing_key_generate() -> bytes:
    """A fresh Ed25519 private key, as its 32-byte seed."""
    return random_bytes(SIGNING_KEY_LEN)


def signing_public_key(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of ``seed``."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(seed: bytes, data: bytes) -> bytes:
    """An Ed25519 signature of ``data`` by the key with this seed."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(data)


def verify(public_key: bytes, data: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature (strict: non-canonical encodings and small-order keys or R
    are refused).

    Raises:
        DecryptionError: the key, the signature or the data do not match.
    """
    if len(public_key) != SIGNING_KEY_LEN or len(signature) != SIGNATURE_LEN:
        raise DecryptionError("the signature could not be verified")
    if _small_order(public_key) or _small_order(signature[:32]):
        raise DecryptionError("the signature could not be verified")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError) as exc:
        raise DecryptionError("the signature could not be verified") from exc


# The eight Ed25519 points of small order, by their encodings with the sign bit cleared
# (canonical, and y + p where that fits): as a public key ("weak key") the signature
# (identity, 0) verifies any message, so strict verification refuses them as keys and as R.
_SMALL_ORDER = frozenset(
    bytes.fromhex(encoding)
    for encoding in (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    )
)


def _small_order(point: bytes) -> bool:
    return point[:31] + bytes((point[31] & 0x7F,)) in _SMALL_ORDER


# --- TLS identity of a relay -------------------------------------------------------------------


def self_signed_certificate(
    *, now: datetime.datetime, common_name: str = "localhost"
) -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 certificate and its key, both PEM, valid ten years from ``now``.

    P-256 with SHA-256 and a plain host name is what an ordinary web server presents, so a
    prober that completes a TLS handshake learns nothing that sets a relay apart (Ed25519
    certificates, or a telling common name, would). Clients pin the key, not the name.
    """
    from cryptography import x509  # imported here: x509 pulls in socket
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def signing_certificate_chain(
    public_key: bytes, *, now: datetime.datetime, common_name: str
) -> bytes:
    """PEM certificates (leaf, then issuer) for an Ed25519 ``public_key`` held elsewhere.

    For formats that demand X.509 (C2PA): the issuer is a throwaway CA whose private key is
    discarded at once, so the chain vouches for nothing beyond "this key signed"; trust in
    the key comes from payk itself (safety codes, signed statements).
    """
    from cryptography import x509  # imported here: x509 pulls in socket
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = ed25519.Ed25519PrivateKey.generate()
    leaf_key = ed25519.Ed25519PublicKey.from_public_bytes(public_key)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
            crl_sign=not sign, encipher_only=False, decipher_only=False,
        )  # fmt: skip

    def base(subject: str, key: ed25519.Ed25519PublicKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(f"{common_name} (issuer)"))
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        )

    ca = (
        base(f"{common_name} (issuer)", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False), critical=True)
        .sign(ca_key, None)
    )
    leaf = (
        base(common_name, leaf_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, None)
    )
    return leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM
    )


def spki_fingerprint(certificate: bytes) -> bytes:
    """SHA-256 of the certificate's SubjectPublicKeyInfo; ``certificate`` is DER or PEM.

    Raises:
        UsageError: the bytes are not a certificate.
    """
    from cryptography import x509  # imported here: x509 pulls in socket

    try:
        if certificate.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(certificate)
        else:
            cert = x509.load_der_x509_certificate(certificate)
    except ValueError as exc:
        raise UsageError("not an X.509 certificate") from exc
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


# --- Hashing, key derivation, authenticated encryption -----------------------------------------


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings without leaking where they differ."""
    return hmac.compare_digest(a, b)


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869) of ``ikm``; ``info`` must start with a ``payk/v1/...`` label."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def aead_seal(key: bytes, nonce: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """ChaCha20-Poly1305 (RFC 8439): ciphertext with its 16-byte tag appended.

    Raises:
        LocalProtocolError: the key is not 32 bytes or the nonce not 12 (a caller bug).
    """
    _check_aead_parameters(key, nonce)
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, associated)


def aead_open(key: bytes, nonce: bytes, ciphertext: bytes, associated: bytes) -> bytes:
    """Open a ChaCha20-Poly1305 ciphertext sealed by :func:`aead_seal`.

    Raises:
        DecryptionError: wrong key, nonce or associated data, or a tampered ciphertext.
    """
    _check_aead_parameters(key, nonce)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag as exc:
        raise DecryptionError() from exc


def _check_aead_parameters(key: bytes, nonce: bytes) -> None:
    if len(key) != AEAD_KEY_LEN or len(nonce) != AEAD_NONCE_LEN:
        raise LocalProtocolError("an AEAD key is 32 bytes and its nonce 12 bytes")


# --- ML-KEM-768 (FIPS 203) ---------------------------------------------------------------------


def kem_generate() -> tuple[bytes, bytes]:
    """A fresh ML-KEM-768 key pair: (64-byte decapsulation seed, 1184-byte encapsulation key)."""
    key = mlkem.MLKEM768PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def kem_public_key(decapsulation_key: bytes) -> bytes:
    """The encapsulation key belonging to a decapsulation seed."""
    return _kem_private(decapsulation_key).public_key().public_bytes_raw()


def check_kem_encapsulation_key(encapsulation_key: bytes) -> None:
    """Refuse an encapsulation key of the wrong length or with out-of-range coefficients.

    Raises:
        RemoteProtocolError: the key is not a valid ML-KEM-768 encapsulation key.
    """
    _kem_public(encapsulation_key)


def kem_encap(encapsulation_key: bytes) -> tuple[bytes, bytes]:
    """Encapsulate to ``encapsulation_key``: (32-byte shared secret, 1088-byte ciphertext).

    Raises:
        RemoteProtocolError: the key is not a valid ML-KEM-768 encapsulation key.
    """
    shared, ciphertext = _kem_public(encapsulation_key).encapsulate()
    return shared, ciphertext


def kem_decap(decapsulation_key: bytes, ciphertext: bytes) -> bytes:
    """The shared secret in ``ciphertext``.

    ML-KEM rejects implicitly: a tampered ciphertext yields an unrelated secret, so the AEAD
    that uses the secret is what fails.

    Raises:
        RemoteProtocolError: the ciphertext has the wrong length.
    """
    if len(ciphertext) != KEM_CIPHERTEXT_LEN:
        raise RemoteProtocolError("an ML-KEM-768 ciphertext is 1088 bytes")
    return _kem_private(decapsulation_key).decapsulate(ciphertext)


def _kem_public(encapsulation_key: bytes) -> mlkem.MLKEM768PublicKey:
    if len(encapsulation_key) != KEM_ENCAPSULATION_KEY_LEN:
        raise RemoteProtocolError("an ML-KEM-768 encapsulation key is 1184 bytes")
    try:
        return mlkem.MLKEM768PublicKey.from_public_bytes(encapsulation_key)
    except ValueError as exc:
        raise RemoteProtocolError("not a valid ML-KEM-768 encapsulation key") from exc


def _kem_private(decapsulation_key: bytes) -> mlkem.MLKEM768PrivateKey:
    if len(decapsulation_key) != KEM_DECAPSULATION_KEY_LEN:
        raise LocalProtocolError("an ML-KEM-768 decapsulation seed is 64 bytes")
    return mlkem.MLKEM768PrivateKey.from_seed_bytes(decapsulation_key)


# --- Curve25519 key checks ---------------------------------------------------------------------

# Any fixed scalar works: every small-order point times a clamped scalar is the identity,
# which X25519 reports as an all-zero secret and pyca refuses. The scalar is public, so its
# key object is built once (loading it computes its public key, as costly as the probe).
_PROBE = x25519.X25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"payk/v1/curve25519/probe").digest()
)


def check_curve25519_public(key: bytes) -> None:
    """Refuse a Curve25519 public key of the wrong length, zero, or of small order.

    Raises:
        RemoteProtocolError: the key is unusable.
    """
    if len(key) != CURVE25519_KEY_LEN:
        raise RemoteProtocolError("a Curve25519 key is 32 bytes")
    try:
        _PROBE.exchange(x25519.X25519PublicKey.from_public_bytes(key))
    except ValueError as exc:
        raise RemoteProtocolError("a Curve25519 key is zero or of small order") from exc


# --- vodozemac Olm -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _check_pickle_key(key: bytes) -> None:
    if len(key) != PICKLE_KEY_LEN:
        raise LocalProtocolError("a pickle key is 32 bytes")


def _unpickle(load: Callable[[str, bytes], _T], data: bytes, key: bytes, what: str) -> _T:
    """Restore a vodozemac object from its pickle; any failure is one ``DecryptionError``."""
    _check_pickle_key(key)
    try:
        return load(data.decode("ascii"), key)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecryptionError(f"the stored {what} could not be opened") from exc


class OlmAccount:
    """A vodozemac Olm account: the Curve25519 and Ed25519 identity keys and one-time keys."""

    __slots__ = ("_account",)

    def __init__(self, account: vodozemac.Account | None = None) -> None:
        self._account = account if account is not None else vodozemac.Account()

    @property
    def curve25519(self) -> bytes:
        """The 32-byte Curve25519 identity key."""
        return self._account.curve25519_key.to_bytes()

    @property
    def ed25519(self) -> bytes:
        """The 32-byte Ed25519 identity key."""
        return _unb64(self._account.ed25519_key.to_base64())

    def sign(self, data: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``data`` by the identity key."""
        return _unb64(self._account.sign(data).to_base64())

    def new_one_time_key(self) -> bytes:
        """Generate, publish and return one fresh Curve25519 one-time key."""
        self._account.generate_one_time_keys(1)
        keys = self._account.one_time_keys
        self._account.mark_keys_as_published()
        return next(iter(keys.values())).to_bytes()

    def outbound(self, identity_key: bytes, one_time_key: bytes) -> OlmSession:
        """Start an Olm session to a peer's identity key and one of its one-time keys."""
        session = self._account.create_outbound_session(
            vodozemac.Curve25519PublicKey.from_bytes(identity_key),
            vodozemac.Curve25519PublicKey.from_bytes(one_time_key),
        )
        return OlmSession(session, sender_active=True)

    def inbound(
        self, sender_key: bytes, message_type: int, message: bytes
    ) -> tuple[OlmSession, bytes]:
        """Answer a pre-key message; consumes the one-time key it names.

        Raises:
            DecryptionError: not a pre-key message for this account, or it fails to decrypt.
        """
        try:
            pre_key = vodozemac.AnyOlmMessage.from_parts(message_type, message).to_pre_key()
            if pre_key is None:
                raise DecryptionError()
            session, plaintext = self._account.create_inbound_session(
                vodozemac.Curve25519PublicKey.from_bytes(sender_key), pre_key
            )
        except ValueError as exc:
            raise DecryptionError() from exc
        return OlmSession(session), plaintext

    def pickle(self, key: bytes) -> bytes:
        """The account encrypted with the 32-byte ``key`` (vodozemac pickle)."""
        _check_pickle_key(key)
        return self._account.pickle(key).encode("ascii")

    @classmethod
    def from_pickle(cls, data: bytes, key: bytes) -> OlmAccount:
        """Restore an account from :meth:`pickle`.

        Raises:
            DecryptionError: wrong key or damaged pickle.
        """
        return cls(_unpickle(vodozemac.Account.from_pickle, data, key, "account"))


class OlmSession:
    """A vodozemac Olm session (3DH + Double Ratchet); messages are (type, bytes) pairs.

    A failed ``decrypt`` leaves the session exactly as it was. vodozemac (0.10) already
    works on copies of the receiving chain and of the sending ratchet and keeps them only
    when the MAC checked, with one exception: a message naming an unknown ratchet key, while
    this side has not sent since it last turned the ratchet (its sending ratchet is
    "inactive"), activates the sending ratchet (a fresh ratchet key, as the next ``encrypt``
    would make) even when the message then fails. So ``decrypt`` keeps an in-memory pickle to
    restore only while that can happen: not after an ``encrypt`` (the ratchet is active) and
    not for a message on the chain of the last message that decrypted (a known chain).
    """

    __slots__ = ("_known_chain", "_sender_active", "_session")

    def __init__(self, session: vodozemac.Session, *, sender_active: bool = False) -> None:
        self._session = session
        # Whether the sending ratchet is surely active; False when it may be inactive.
        self._sender_active = sender_active
        # The ratchet key of the last message that decrypted: its receiving chain exists.
        self._known_chain: bytes | None = None

    def encrypt(self, plaintext: bytes) -> tuple[int, bytes]:
        """Encrypt and advance the ratchet: (0 for pre-key or 1 for normal, message bytes)."""
        parts = self._session.encrypt(plaintext).to_parts()
        self._sender_active = True
        return parts

    def decrypt(self, message_type: int, message: bytes) -> bytes:
        """Decrypt a message; on failure the session is left exactly as it was.

        Raises:
            DecryptionError: the message does not belong to this session, was seen, or is damaged.
        """
        try:
            parsed = vodozemac.AnyOlmMessage.from_parts(message_type, message)
        except ValueError as exc:
            raise DecryptionError() from exc
        chain = _ratchet_key(message_type, message)
        if self._sender_active or (chain is not None and chain == self._known_chain):
            try:
                plaintext = self._session.decrypt(parsed)
            except ValueError as exc:
                raise DecryptionError() from exc
        else:
            saved = self._session.pickle(_SNAPSHOT_KEY)
            try:
                plaintext = self._session.decrypt(parsed)
            except ValueError as exc:
                self._session = vodozemac.Session.from_pickle(saved, _SNAPSHOT_KEY)
                raise DecryptionError() from exc
        if chain is None or chain != self._known_chain:
            self._sender_active = False  # it may have opened a new chain, turning the ratchet
        self._known_chain = chain
        return plaintext

    def pickle(self, key: bytes) -> bytes:
        """The session encrypted with the 32-byte ``key`` (vodozemac pickle)."""
        _check_pickle_key(key)
        return self._session.pickle(key).encode("ascii")

    @classmethod
    def from_pickle(cls, data: bytes, key: bytes) -> OlmSession:
        """Restore a session from :meth:`pickle`.

        Raises:
            DecryptionError: wrong key or damaged pickle.
        """
        return cls(_unpickle(vodozemac.Session.from_pickle, data, key, "session"))


# An in-memory snapshot never leaves the process, so a fixed pickle key is enough for it.
_SNAPSHOT_KEY = bytes(PICKLE_KEY_LEN)

# A normal Olm message (vodozemac encodes it this way and no other): version 3, then the
# protobuf fields ratchet key (tag 0x0A, 32 bytes), chain index (0x10, varint) and
# ciphertext (0x22, length-prefixed), then an 8-byte truncated MAC.
_OLM_HEAD = b"\x03\x0a\x20"
_OLM_MAC_LEN = 8


def _ratchet_key(message_type: int, message: bytes) -> bytes | None:
    """The ratchet key of a normal message in exactly vodozemac's encoding, else None.

    Only an exact layout counts: protobuf lets a field repeat (the last one wins), so a
    message that is not laid out exactly so is treated as naming an unknown chain.
    """
    if message_type != 1 or message[:3] != _OLM_HEAD or message[35:36] != b"\x10":
        return None
    _, pos = _read_varint(message, 36)
    if pos < 0 or message[pos : pos + 1] != b"\x22":
        return None
    length, pos = _read_varint(message, pos + 1)
    if pos < 0 or pos + length + _OLM_MAC_LEN != len(message):
        return None
    return message[3:35]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A protobuf varint at ``pos``: (value, position after it), or (0, -1) if malformed."""
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return 0, -1


# --- X25519 (group epoch-key wraps, next to ML-KEM) --------------------------------------------


def x25519_generate() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair: (32-byte private key, 32-byte public key)."""
    key = x25519.X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return key.private_bytes_raw(), key.public_key().public_bytes(*raw)


def x25519_public(private_key: bytes) -> bytes:
    """The X25519 public key of a 32-byte private key."""
    if len(private_key) != CURVE25519_KEY_LEN:
        raise LocalProtocolError("an X25519 private key is 32 bytes")
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return x25519.X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(*raw)


def x25519_shared(private_key: bytes, public_key: bytes) -> bytes:
    """The X25519 shared secret of our ``private_key`` and a peer's ``public_key``.

    Raises:
        RemoteProtocolError: the public key is malformed, zero or of small order.
    """
    if len(private_key) != CURVE25519_KEY_LEN:
        raise LocalProtocolError("an X25519 private key is 32 bytes")
    check_curve25519_public(public_key)
    private = x25519.X25519PrivateKey.from_private_bytes(private_key)
    return private.exchange(x25519.X25519PublicKey.from_public_bytes(public_key))


# --- vodozemac Megolm (one outbound session per group sender per epoch) ----------------------


class MegolmOutbound:
    """A vodozemac Megolm outbound session: encrypts and signs one sender's group messages."""

    __slots__ = ("_session",)

    def __init__(self, session: vodozemac.GroupSession | None = None) -> None:
        self._session = session if session is not None else vodozemac.GroupSession()

    @property
    def session_id(self) -> str:
        """The session's public signing key (base64), naming it to receivers."""
        return str(self._session.session_id)

    @property
    def session_key(self) -> bytes:
        """The exportable session key (ratchet at the current index and signing key)."""
        return str(self._session.session_key.to_base64()).encode("ascii")

    @property
    def message_index(self) -> int:
        """The index the next message will carry."""
        return int(self._session.message_index)

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt, sign and advance the ratchet: the Megolm message bytes."""
        return bytes(self._session.encrypt(plaintext).to_bytes())

    def pickle(self, key: bytes) -> bytes:
        """The session encrypted with the 32-byte ``key`` (vodozemac pickle)."""
        _check_pickle_key(key)
        return str(self._session.pickle(key)).encode("ascii")

    @classmethod
    def from_pickle(cls, data: bytes, key: bytes) -> MegolmOutbound:
        """Restore a session from :meth:`pickle`.

        Raises:
            DecryptionError: wrong key or damaged pickle.
        """
        return cls(_unpickle(vodozemac.GroupSession.from_pickle, data, key, "group session"))


class MegolmInbound:
    """A vodozemac Megolm inbound session: checks and decrypts one sender's group messages."""

    __slots__ = ("_session",)

    def __init__(self, session: vodozemac.InboundGroupSession) -> None:
        self._session = session

    @classmethod
    def from_session_key(cls, session_key: bytes) -> MegolmInbound:
        """The inbound half of an exported session key.

        Raises:
            DecryptionError: the key is malformed or its signature does not verify.
        """
        try:
            return cls(vodozemac.InboundGroupSession(vodozemac.SessionKey(session_key.decode())))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecryptionError() from exc

    @property
    def session_id(self) -> str:
        """The sender session's public signing key (base64)."""
        return str(self._session.session_id)

    def decrypt(self, message: bytes) -> tuple[bytes, int]:
        """Check the signature and decrypt: (plaintext, message index).

        Raises:
            DecryptionError: a damaged or forged message, or one from another session.
        """
        try:
            decrypted = self._session.decrypt(vodozemac.MegolmMessage.from_bytes(message))
        except ValueError as exc:
            raise DecryptionError() from exc
        return bytes(decrypted.plaintext), int(decrypted.message_index)

    def pickle(self, key: bytes) -> bytes:
        """The session encrypted with the 32-byte ``key`` (vodozemac pickle)."""
        _check_pickle_key(key)
        return str(self._session.pickle(key)).encode("ascii")

    @classmethod
    def from_pickle(cls, data: bytes, key: bytes) -> MegolmInbound:
        """Restore a session from :meth:`pickle`.

        Raises:
            DecryptionError: wrong key or damaged pickle.
        """
        return cls(_unpickle(vodozemac.InboundGroupSession.from_pickle, data, key, "group session"))
