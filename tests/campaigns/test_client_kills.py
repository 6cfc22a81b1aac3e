"""The client crash campaign in its short CI form: SIGKILL ``payk sync`` while it syncs.

The long form is ``python -m tools.crash_campaign client --kills 200`` (or set
``PAYK_CAMPAIGN_CLIENT_KILLS`` to run this test longer).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tools.client_campaign import run_client_campaign
from tools.crash_campaign import main

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
KILLS = int(os.environ.get("PAYK_CAMPAIGN_CLIENT_KILLS", "6"))


@pytest.mark.timeout(300)
async def test_killing_payk_sync_loses_doubles_and_reuses_nothing(tmp_path: Path) -> None:
    report = await run_client_campaign(tmp_path, kills=KILLS, seed=5)
    assert report.kills == KILLS
    assert report.sent >= KILLS and report.received == report.sent, report
    assert (report.lost, report.duplicates, report.keys_reused) == (0, 0, 0), report
    assert report.failed_opens == 0, report
    assert report.receipts_checked >= 1


def test_the_command_refuses_an_unknown_campaign(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["everything"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
