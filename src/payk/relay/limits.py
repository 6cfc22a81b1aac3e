"""Per-connection abuse limits of the relay.

Strategy: a token bucket per connection, fed the monotonic time by its caller (so tests need
no clock), plus a count of consecutive refusals: a client that keeps sending after being told
RATE_LIMITED is disconnected, so a flood costs the relay one cheap check per frame and then
nothing. Sizes are bounded elsewhere, before the body is read (the WebSocket ``max_size``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RateLimiter", "Verdict"]


class Verdict:
    """What to do with one incoming frame."""

    SERVE = "serve"
    REFUSE = "refuse"
    DISCONNECT = "disconnect"


@dataclass(slots=True)
class RateLimiter:
    """A token bucket of ``burst`` tokens refilled at ``rate`` per second."""

    rate: float
    burst: float
    max_refusals: int
    _tokens: float = field(init=False)
    _last: float | None = field(default=None, init=False)
    _refusals: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst

    def check(self, now: float) -> str:
        """Take a token for one frame at monotonic time ``now``; returns a ``Verdict``."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._refusals = 0
            return Verdict.SERVE
        self._refusals += 1
        return Verdict.DISCONNECT if self._refusals > self.max_refusals else Verdict.REFUSE
