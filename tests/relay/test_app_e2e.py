"""The relay process from outside: plain HTTPS routes, lifecycle, identity, logs."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from payk.net.relay import RelayConnection
from payk.protocol import mailbox as mb
from payk.protocol.address import b64u_encode
from payk.protocol.primitives import spki_fingerprint
from tests.relay.harness import RelayProcess, http_get, start_relay

pytestmark = pytest.mark.e2e


async def test_feed_is_served_as_cacheable_https_get(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        feed = await conn.create_feed()
        for i in range(3):
            await conn.append(feed, f"post {i}".encode())
    path = f"/feed/{b64u_encode(feed.feed_id)}"
    status, headers, body, der = await http_get(relay.address, f"{path}?offset=1")
    assert spki_fingerprint(der) == relay.address.fingerprint
    assert status == 200
    assert headers["cache-control"].startswith("public")
    entries = mb.response_codec().decode(body)
    assert isinstance(entries, mb.FeedEntries)
    assert [(e.offset, e.body) for e in entries.entries] == [(1, b"post 1"), (2, b"post 2")]
    full = await http_get(relay.address, f"{path}?offset=0&limit=2")
    assert "immutable" in full[1]["cache-control"]
    assert "immutable" not in headers["cache-control"]


async def test_feed_get_refuses_unknown_and_bad_requests(relay: RelayProcess) -> None:
    unknown = await http_get(relay.address, f"/feed/{b64u_encode(bytes(16))}")
    assert unknown[0] == 404
    for bad in ("/feed/!!!", f"/feed/{b64u_encode(bytes(16))}?offset=-1", "/feed/?limit=x"):
        assert (await http_get(relay.address, bad))[0] == 400
    assert (await http_get(relay.address, "/nothing-here"))[0] == 404


async def test_health_and_metrics(tmp_path: Path) -> None:
    relay = await start_relay(tmp_path / "relay", "--metrics-path", "/metrics")
    try:
        await _health_and_metrics(relay)
    finally:
        await relay.terminate()


async def test_metrics_are_off_unless_asked_for(relay: RelayProcess) -> None:
    status, _, body, _ = await http_get(relay.address, "/metrics")
    assert status == 404 and b"payk" not in body


async def _health_and_metrics(relay: RelayProcess) -> None:
    status, headers, body, _ = await http_get(relay.address, "/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"counted")
    status, headers, body, _ = await http_get(relay.address, "/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'payk_relay_requests_total{code="OK",command="Send"} 1.0' in text
    assert "payk_relay_connections" in text
    assert 'payk_relay_store{kind="envelopes"} 1.0' in text
    assert 'payk_relay_store{kind="mailboxes"} 1.0' in text


async def test_sigterm_stops_cleanly_and_identity_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    first = await start_relay(data)
    async with await RelayConnection.connect(first.address) as conn:
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"durable")
    assert await first.terminate() == 0
    second = await start_relay(data)
    try:
        assert second.address.fingerprint == first.address.fingerprint
        async with await RelayConnection.connect(second.address) as conn:
            assert [d.envelope for d in await conn.fetch(box)] == [b"durable"]
    finally:
        assert await second.terminate() == 0
    printed = await asyncio.to_thread(_relay_address, data, "127.0.0.1:9999")
    assert json.loads(printed)["address"] == str(first.address).rsplit(":", 1)[0] + ":9999"


def _relay_address(data: Path, listen: str) -> str:
    argv = ["-m", "payk", "--json", "relay", "address", "--data", str(data), "--listen", listen]
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, check=True
    ).stdout


def test_relay_address_without_identity_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "payk", "relay", "address", "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "no relay identity" in result.stderr


async def test_human_output_prints_the_address_line_and_sigint_stops(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payk",
        "relay",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        str(tmp_path / "r"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("relay address: payk://")
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C stops as cleanly as SIGTERM
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_logs_carry_no_mailbox_ids(relay: RelayProcess) -> None:
    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
        await conn.send(box.send_id, b"x")
        await conn.fetch(box)
        await conn.ack(box, [bytes(16)])
    await relay.terminate()
    log = relay.log()
    assert "relay listening" in log
    for ident in (box.recv_id, box.send_id):
        assert ident.hex() not in log and b64u_encode(ident) not in log
    assert "127.0.0.1" not in log


async def test_empty_and_waiting_answers_have_the_same_size(relay: RelayProcess) -> None:
    from websockets.asyncio.client import connect

    from payk.protocol.primitives import sign
    from tests.relay.harness import unverified_context

    async with await RelayConnection.connect(relay.address) as conn:
        box = await conn.create_mailbox()
    codec, answers = mb.request_codec(), mb.response_codec()
    async with connect(
        f"wss://127.0.0.1:{relay.address.port}/ws",
        ssl=unverified_context(),
        server_hostname=None,
        proxy=None,
        compression=None,
    ) as ws:
        challenge = answers.decode(await ws.recv())  # type: ignore[arg-type]
        assert isinstance(challenge, mb.Challenge)
        sig = sign(box.auth_seed, mb.auth_message(challenge.nonce, box.recv_id))
        await ws.send(codec.encode(mb.Auth(rid=1, recv_id=box.recv_id, sig=sig)))
        assert answers.decode(await ws.recv()) == mb.Ok(rid=1)  # type: ignore[arg-type]
        await ws.send(codec.encode(mb.Fetch(rid=2, recv_id=box.recv_id)))
        empty = await ws.recv()
        await ws.send(codec.encode(mb.Send(rid=3, send_id=box.send_id, body=b"e" * 1024)))
        assert answers.decode(await ws.recv()) == mb.Ok(rid=3)  # type: ignore[arg-type]
        await ws.send(codec.encode(mb.Fetch(rid=4, recv_id=box.recv_id)))
        waiting = await ws.recv()
    decoded = answers.decode(waiting)  # type: ignore[arg-type]
    assert isinstance(decoded, mb.Envelopes) and len(decoded.items) == 1
    assert len(empty) == len(waiting) == mb.padded_size(0)


async def test_proof_of_work_for_new_mailboxes(tmp_path: Path) -> None:
    from payk.errors import RelayRefusedError
    from payk.protocol.primitives import signing_key_generate, signing_public_key

    relay = await start_relay(tmp_path / "relay", "--pow-bits", "14")
    try:
        async with await RelayConnection.connect(relay.address) as conn:
            assert conn.pow_bits == 14
            box = await conn.create_mailbox()  # solves the puzzle itself
            await conn.send(box.send_id, b"worked for it")
            key = signing_public_key(signing_key_generate())
            nonce = conn._challenge.nonce
            bad = next(
                i.to_bytes(8, "big")
                for i in range(1000)
                if not mb.pow_valid(nonce, key, i.to_bytes(8, "big"), 14)
            )
            with pytest.raises(RelayRefusedError) as info:  # a client that skips the work
                await conn._call(
                    lambda rid: mb.CreateMailbox(rid=rid, auth_key=key, pow=bad),
                    mb.MailboxCreated,
                )
            assert info.value.code == "POW_REQUIRED"
    finally:
        assert await relay.terminate() == 0


async def test_a_busy_port_is_one_clear_sentence(relay: RelayProcess, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payk",
        "relay",
        "serve",
        "--data",
        str(tmp_path / "second"),
        "--listen",
        f"127.0.0.1:{relay.address.port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1].startswith("payk: cannot listen on 127.0.0.1:")


async def test_config_file_sets_what_the_command_line_does_not(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[relay]\npow_bits = 6\nport = 1\nhost = "127.0.0.1"\n')
    relay = await start_relay(tmp_path / "relay", "--config", str(config))  # --listen wins
    try:
        async with await RelayConnection.connect(relay.address) as conn:
            assert conn.pow_bits == 6
    finally:
        assert await relay.terminate() == 0
    config.write_text("[relay]\npow_bitz = 6\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payk",
        "relay",
        "serve",
        "--config",
        str(config),
        "--data",
        str(tmp_path / "relay"),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and b"unknown relay setting 'pow_bitz'" in err


async def test_a_full_mailbox_answers_quota(tmp_path: Path) -> None:
    from payk.errors import QuotaError

    relay = await start_relay(tmp_path / "relay", "--mailbox-max-count", "2")
    try:
        async with await RelayConnection.connect(relay.address) as conn:
            box = await conn.create_mailbox()
            await conn.send(box.send_id, b"one")
            await conn.send(box.send_id, b"two")
            with pytest.raises(QuotaError) as info:
                await conn.send(box.send_id, b"three")
            assert info.value.code == "QUOTA"
            got = await conn.fetch(box)
            await conn.ack(box, [got[0].id])
            await conn.send(box.send_id, b"three")  # room again after an ack
            assert [d.envelope for d in await conn.fetch(box)] == [b"two", b"three"]
    finally:
        assert await relay.terminate() == 0
