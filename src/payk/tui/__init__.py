"""payk.tui: the terminal app (``payk tui``), a thin Textual front end over ``payk.client``.

Strategy: ``app`` moves between screens and owns the client's lifetime; each screen is a
module (``unlock``, ``main_screen``, the dialogs) built with ``compose()``, ``on_*`` handlers
and ``@work`` coroutines for anything that touches the network; ``render`` holds the pure
functions that turn client values into text; ``payk.tcss`` holds every style.
"""

from __future__ import annotations

from payk.tui.app import PaykApp, run_tui

__all__ = ["PaykApp", "run_tui"]
