"""The protocol core: pure functions and state machines, no I/O.

Nothing in this package opens a socket or a file, starts a thread or an event loop, reads the
clock or the environment: time and randomness come in as arguments (or through one thin public
wrapper per function), bytes come in and bytes go out. Everything that does I/O depends on
this package; it depends on nothing in payk but ``payk.errors``.
"""

from __future__ import annotations

__all__: list[str] = []
