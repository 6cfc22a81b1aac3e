"""Test helpers: two people with identities and a session between them (``SessionPair``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from payk.protocol.address import MailboxAddress, RelayAddress
from payk.protocol.identity import Identity
from payk.protocol.invite import Invitation, InvitationSecret, create_invitation
from payk.protocol.session import PairwiseSession, SessionConfig

STORAGE_KEY = bytes(range(32))
MAILBOX = MailboxAddress(
    relay=RelayAddress(fingerprint=b"\x07" * 32, host="relay.example.org", port=443),
    send_id=b"\x42" * 16,
)


def invitation_for(identity: Identity, *, now: int = 1000) -> tuple[Invitation, InvitationSecret]:
    return create_invitation(identity, [MAILBOX], now=now)


@dataclass
class SessionPair:
    """Alice invited Bob; Bob's first message has been answered, so both are established."""

    alice_id: Identity
    bob_id: Identity
    alice: PairwiseSession
    bob: PairwiseSession
    config: SessionConfig = field(default_factory=SessionConfig)

    @classmethod
    def handshake_only(
        cls, config: SessionConfig | None = None, *, now: int = 1000
    ) -> tuple[Identity, Identity, InvitationSecret, PairwiseSession]:
        config = config or SessionConfig()
        alice_id, bob_id = Identity.generate(), Identity.generate()
        invitation, secret = invitation_for(alice_id, now=now)
        bob = PairwiseSession.accept(bob_id, invitation, now=now, config=config)
        return alice_id, bob_id, secret, bob

    @classmethod
    def established(cls, config: SessionConfig | None = None, *, now: int = 1000) -> SessionPair:
        config = config or SessionConfig()
        alice_id, bob_id, secret, bob = cls.handshake_only(config, now=now)
        alice, first = PairwiseSession.respond(
            alice_id, secret, bob.seal(b"hello alice", now=now), now=now, config=config
        )
        assert first == b"hello alice"
        assert bob.open(alice.seal(b"hello bob", now=now), now=now) == b"hello bob"
        assert alice.open(bob.seal(b"ready", now=now), now=now) == b"ready"
        return cls(alice_id=alice_id, bob_id=bob_id, alice=alice, bob=bob, config=config)

    def reload(self) -> None:
        """Persist and restore both sessions, as a restart does."""
        self.alice = PairwiseSession.from_bytes(
            self.alice.to_bytes(STORAGE_KEY), STORAGE_KEY, config=self.config
        )
        self.bob = PairwiseSession.from_bytes(
            self.bob.to_bytes(STORAGE_KEY), STORAGE_KEY, config=self.config
        )


def snapshot(session: PairwiseSession) -> tuple[object, bytes]:
    """Everything observable about a session's state (for 'no state change' checks)."""
    state = session._state
    return (
        repr(state),
        session._olm.pickle(STORAGE_KEY),
    )
