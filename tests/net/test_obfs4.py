"""A relay connection through a real obfs4 bridge: ``obfs4proxy`` on both sides, loopback.

The server-mode transport sits in front of the relay's TLS port; the client-mode transport
is started by payk as a managed pluggable transport and dialled over SOCKS5 with the bridge
arguments as credentials. Skips without ``obfs4proxy`` (fails in CI).
"""

from __future__ import annotations

import dataclasses

import pytest

from payk.errors import NetworkError, UsageError
from payk.net.obfs4 import Bridge, ManagedClient, ManagedServer
from payk.net.relay import RelayConnection
from tests.net.programs import require
from tests.relay.harness import RelayProcess

pytestmark = pytest.mark.e2e


async def test_send_and_fetch_through_an_obfs4_bridge(relay: RelayProcess) -> None:
    require("obfs4proxy")
    server = await ManagedServer.start(relay_host="127.0.0.1", relay_port=relay.address.port)
    client = await ManagedClient.start()
    try:
        route = client.route(server.bridge)
        async with await RelayConnection.connect(relay.address, proxy=route) as conn:
            box = await conn.create_mailbox()
            await conn.send(box.send_id, b"through the bridge")
            assert [d.envelope for d in await conn.fetch(box)] == [b"through the bridge"]
    finally:
        await client.close()
        await server.close()


async def test_a_wrong_bridge_certificate_does_not_connect(relay: RelayProcess) -> None:
    require("obfs4proxy")
    server = await ManagedServer.start(relay_host="127.0.0.1", relay_port=relay.address.port)
    client = await ManagedClient.start()
    try:
        cert = dict(server.bridge.args)["cert"]
        forged = "A" * len(cert) if cert[0] != "A" else "B" * len(cert)
        args = tuple((k, forged if k == "cert" else v) for k, v in server.bridge.args)
        wrong = dataclasses.replace(server.bridge, args=args)
        with pytest.raises(NetworkError):
            await RelayConnection.connect(relay.address, proxy=client.route(wrong), timeout=5)
    finally:
        await client.close()
        await server.close()


def test_bridge_lines_are_parsed() -> None:
    bridge = Bridge.parse("obfs4 192.0.2.1:443 4352E58420E68F5E cert=abc+/ iat-mode=0")
    assert (bridge.host, bridge.port) == ("192.0.2.1", 443)
    assert bridge.socks_credentials() == ("cert=abc+/;iat-mode=0", "\x00")
    assert Bridge.parse(str(bridge)) == bridge
    for bad in ("meek 1.2.3.4:1 cert=x", "obfs4 1.2.3.4 cert=x", "obfs4 1.2.3.4:1", ""):
        with pytest.raises(UsageError):
            Bridge.parse(bad)


def test_long_arguments_spill_into_the_password() -> None:
    bridge = Bridge(host="h", port=1, args=(("cert", "x" * 300),))
    username, password = bridge.socks_credentials()
    assert len(username) == 255
    assert username + password == "cert=" + "x" * 300
