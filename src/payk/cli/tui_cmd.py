"""``payk tui``: the terminal app.

Strategy: check that a profile exists (so a newcomer gets the one sentence that says how to
make one, not an empty screen), then hand the terminal to ``payk.tui.PaykApp``. The passphrase
is typed on the app's unlock screen; with ``$PAYK_PASSPHRASE`` set the app unlocks by itself,
as every other command does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from payk.cli.output import Output
from payk.cli.profile_cmd import home_of
from payk.client.profile import profile_exists
from payk.errors import UsageError
from payk.tui import PaykApp, run_tui

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``payk tui`` to the ``payk`` parser."""
    tui = sub.add_parser("tui", help="the terminal app: conversations, invitations, files")
    tui.add_argument(
        "--save", type=Path, metavar="DIR", help="where received files go (default: Downloads/payk)"
    )
    tui.add_argument("--light", action="store_true", help="start with the light theme")
    tui.set_defaults(handler=_tui)


def _tui(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    if not profile_exists(home):
        raise UsageError(
            f"no profile in {home}; create one with: payk init --name NAME --relay ..."
        )
    app = PaykApp(
        home,
        passphrase=os.environ.get("PAYK_PASSPHRASE"),
        downloads=args.save,
        light=args.light,
    )
    asyncio.run(run_tui(app))
    return 0
