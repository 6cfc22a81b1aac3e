"""Where command results go: rich text for people, one JSON object for scripts.

Commands build a plain dict (the ``--json`` contract in CLI.md) and a renderable for people,
and hand both to ``Output.emit``; only one of them is printed. Errors never pass through here:
``payk.cli.main`` writes them to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, RenderableType

__all__ = ["Output"]


class Output:
    """Prints either for people (rich) or for scripts (JSON), never both."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def emit(self, data: dict[str, Any], human: RenderableType | None = None) -> None:
        """Print one result: ``data`` as a JSON line with ``--json``, else ``human``."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            self.console.print(human)

    def info(self, human: RenderableType) -> None:
        """Print progress meant for people only (suppressed with ``--json``)."""
        if not self.json_mode:
            self.err.print(human)
