"""A relay connection through the real ``microsocks`` SOCKS5 proxy on loopback.

``microsocks`` is Debian's small SOCKS5 server; these tests skip without it (except in CI,
where ``.ci/run`` installs it and a missing program is a failure).
"""

from __future__ import annotations

import dataclasses

import pytest

from payk.errors import NetworkError, UsageError
from payk.net.relay import RelayConnection
from payk.net.socks import SocksRoute, parse_proxy
from tests.net.programs import Microsocks
from tests.relay.harness import RelayProcess

pytestmark = pytest.mark.e2e


async def test_send_and_fetch_through_microsocks(relay: RelayProcess) -> None:
    async with Microsocks.running() as proxy:
        async with await RelayConnection.connect(relay.address, proxy=proxy.url) as conn:
            box = await conn.create_mailbox()
            await conn.send(box.send_id, b"through microsocks")
            assert [d.envelope for d in await conn.fetch(box)] == [b"through microsocks"]


async def test_a_stopped_proxy_is_a_network_error(relay: RelayProcess) -> None:
    async with Microsocks.running() as proxy:
        url = proxy.url
    with pytest.raises(NetworkError):
        await RelayConnection.connect(relay.address, proxy=url, timeout=5)


def test_proxy_urls_are_parsed_strictly() -> None:
    assert parse_proxy("socks5://127.0.0.1:9050") == SocksRoute(host="127.0.0.1", port=9050)
    assert parse_proxy("socks5h://u:p@tor:9050").username == "u"
    for bad in ("http://127.0.0.1:1", "socks5://127.0.0.1", "socks5://:80", "socks4://a:1"):
        with pytest.raises(UsageError):
            parse_proxy(bad)


async def test_an_onion_relay_is_never_dialled_without_a_proxy(relay: RelayProcess) -> None:
    onion = dataclasses.replace(relay.address, host="payk" + "a" * 52 + ".onion")
    with pytest.raises(NetworkError, match="Tor"):
        await RelayConnection.connect(onion, timeout=5)
