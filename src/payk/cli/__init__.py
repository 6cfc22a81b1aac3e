"""The command line: thin commands over ``payk.client`` and ``payk.relay``."""

from __future__ import annotations

__all__: list[str] = []
