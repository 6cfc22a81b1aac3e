"""The relay crash campaign in its short CI form: SIGKILL under load, nothing lost or doubled.

The long form is ``python -m tools.crash_campaign relay --kills 1000`` (or set
``PAYK_CAMPAIGN_KILLS`` to run this test longer).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tools.relay_campaign import App, run_relay_campaign

from tests.relay.harness import postgres_schema_url

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
KILLS = int(os.environ.get("PAYK_CAMPAIGN_KILLS", "10"))


def test_the_app_shows_each_payload_once() -> None:
    app = App()
    for payload in (b"a", b"b", b"a", b"a"):
        app.deliver(payload)
    assert app.shown == [b"a", b"b"] and app.copies == 2


@pytest.mark.timeout(300)
async def test_sqlite_relay_survives_sigkill_under_load(tmp_path: Path) -> None:
    report = await run_relay_campaign(tmp_path, kills=KILLS, seed=11)
    assert report.kills == KILLS
    assert report.acked >= KILLS, report  # every round waits for an acknowledged send
    assert (report.lost, report.duplicates_to_app, report.resurrected) == (0, 0, 0), report
    assert report.delivered >= report.acked


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_schema_url("the crash campaign", prefix="payk_crash") as url:
        yield url


@pytest.mark.postgres
@pytest.mark.timeout(300)
async def test_postgres_relay_survives_sigkill_under_load(pg_url: str, tmp_path: Path) -> None:
    kills = max(1, KILLS // 2)
    report = await run_relay_campaign(tmp_path, kills=kills, db_url=pg_url, seed=12)
    assert report.kills == kills
    assert report.acked >= kills, report
    assert (report.lost, report.duplicates_to_app, report.resurrected) == (0, 0, 0), report
