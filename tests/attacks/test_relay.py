"""Attacks through the relay: what its answers' sizes reveal, and what its logs (and the
clients' error output) could give away. Real relay processes, real ``payk`` commands.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from payk.net.relay import MailboxCreds, RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol.address import b64u_encode
from payk.protocol.primitives import sign, signing_key_generate
from tests.attacks.registry import attack
from tests.e2e.conftest import Payk
from tests.e2e.conftest import connect as connect_people
from tests.relay.harness import RelayProcess, raw_websocket, start_relay

pytestmark = pytest.mark.e2e
REQUESTS, ANSWERS = mb.request_codec(), mb.response_codec()


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    process = await start_relay(tmp_path / "relay", "--log-level", "DEBUG")
    yield process
    await process.terminate()


async def _size(ws: ClientConnection, request: mb.Request) -> tuple[int, mb.Response]:
    await ws.send(REQUESTS.encode(request))
    frame = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(frame, bytes)
    return len(frame), ANSWERS.decode(frame)


@attack("response-length-oracle")
async def test_answer_sizes_do_not_tell_what_a_mailbox_holds(relay: RelayProcess) -> None:
    """Models: SimpleX audit (Trail of Bits, 2022): traffic-correlation oracles from the
    sizes of a server's answers.

    An observer of the TLS stream sees only frame sizes. A fetch of an empty mailbox, of one
    small envelope and of three, have one size; failed authorisation of an unknown mailbox
    and of a known mailbox with the wrong key are the same bytes; acks of ids that exist
    and ids that do not are the same size.
    """
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
    ghost = MailboxCreds(recv_id=b"\x01" * 16, send_id=b"\x02" * 16, auth_seed=box.auth_seed)
    ws, challenge = await raw_websocket(relay)
    async with ws:
        wrong = sign(signing_key_generate(), mb.auth_message(challenge.nonce, box.recv_id))
        ghost_sig = sign(ghost.auth_seed, mb.auth_message(challenge.nonce, ghost.recv_id))
        n1, a1 = await _size(ws, mb.Auth(rid=1, recv_id=box.recv_id, sig=wrong))
        n2, a2 = await _size(ws, mb.Auth(rid=1, recv_id=ghost.recv_id, sig=ghost_sig))
        assert (n1, a1) == (n2, a2) and isinstance(a1, mb.Error)
        good = sign(box.auth_seed, mb.auth_message(challenge.nonce, box.recv_id))
        assert (await _size(ws, mb.Auth(rid=2, recv_id=box.recv_id, sig=good)))[1] == mb.Ok(rid=2)
        sizes = []
        for count in (0, 1, 3):
            while (await _size(ws, mb.Fetch(rid=3, recv_id=box.recv_id)))[1] != mb.Envelopes(
                rid=3, items=[]
            ):
                pass
            for _ in range(count):
                await _size(ws, mb.Send(rid=4, send_id=box.send_id, body=bytes(1024)))
            size, answer = await _size(ws, mb.Fetch(rid=5, recv_id=box.recv_id))
            assert isinstance(answer, mb.Envelopes) and len(answer.items) == count
            sizes.append(size)
            real = [item.id for item in answer.items]
            ack_real = await _size(ws, mb.Ack(rid=6, recv_id=box.recv_id, ids=real[:1]))
            ack_fake = await _size(ws, mb.Ack(rid=6, recv_id=box.recv_id, ids=[b"\x09" * 8]))
            assert ack_real == ack_fake
        assert len(set(sizes)) == 1, sizes


def _relay_secrets(data: Path) -> list[bytes]:
    found: list[bytes] = []
    for path in data.rglob("*.db"):
        with sqlite3.connect(path) as db:
            for row in db.execute("SELECT recv_id, send_id, auth_key FROM mailboxes"):
                found.extend(bytes(v) for v in row)
    return found


class _DebugPayk(Payk):
    def env(self, passphrase: str | None = None) -> dict[str, str]:
        return {**super().env(passphrase), "PAYK_DEBUG": "1"}


@attack("secrets-in-logs")
async def test_no_secret_reaches_a_log_or_an_error_message(
    relay: RelayProcess, tmp_path: Path
) -> None:
    """Models: clients and servers that log keys, ids or plaintext (Matrix client debug
    logs, Telegram Desktop's log files) which a seized device or server then gives away.

    A relay at DEBUG level and two people whose commands run with ``PAYK_DEBUG=1``
    (tracebacks on) invite, accept, talk and make mistakes (a wrong passphrase, an unknown
    contact, a garbled link). No passphrase, message text, mailbox id or auth key, in raw,
    hex or base64url form, appears in the relay's log or in any command's error output.
    """
    alice = _DebugPayk(tmp_path / "alice", "alice secret phrase", tmp_path / "dl-a")
    bob = _DebugPayk(tmp_path / "bob", "bob secret phrase", tmp_path / "dl-b")
    address = str(relay.address)
    errors: list[str] = []
    for person in (alice, bob):
        errors.append(person.init(person.home.name.capitalize(), [address]).stderr)
    await asyncio.to_thread(connect_people, alice, bob)
    errors.append(bob("send", "Alice", "the meeting is at the old mill").stderr)
    errors.append(alice("sync").stderr)
    errors.append(alice("sync", passphrase="wrong guess", check=False).stderr)
    errors.append(alice("send", "Nobody", "hidden text two", check=False).stderr)
    errors.append(bob("accept", "payk:inviteAAAA", check=False).stderr)
    await relay.terminate()
    text = relay.log() + "\n".join(errors)
    assert "Traceback" in text  # the debug output was really on
    secrets = [b"alice secret phrase", b"bob secret phrase", b"the meeting is at the old mill"]
    secrets += [b"hidden text two", *_relay_secrets(relay.data)]
    assert len(secrets) >= 5 + 3
    for secret in secrets:
        for form in (secret.hex(), b64u_encode(secret), repr(secret)[2:-1]):
            if len(form) >= 8:
                assert form not in text, f"a secret appears in the logs as {form!r}"
