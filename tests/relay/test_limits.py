"""The per-connection token bucket: bursts pass, floods are refused, then disconnected."""

from __future__ import annotations

from payk.relay.limits import RateLimiter, Verdict


def test_a_burst_passes_then_refusals_then_disconnect() -> None:
    limiter = RateLimiter(rate=10, burst=5, max_refusals=3)
    verdicts = [limiter.check(0.0) for _ in range(10)]
    assert verdicts[:5] == [Verdict.SERVE] * 5
    assert verdicts[5:8] == [Verdict.REFUSE] * 3
    assert verdicts[8:] == [Verdict.DISCONNECT] * 2


def test_tokens_refill_with_time_and_reset_refusals() -> None:
    limiter = RateLimiter(rate=10, burst=2, max_refusals=1)
    assert [limiter.check(0.0) for _ in range(3)] == [Verdict.SERVE, Verdict.SERVE, Verdict.REFUSE]
    assert limiter.check(0.1) == Verdict.SERVE  # 0.1 s at 10/s is one token
    assert limiter.check(0.1) == Verdict.REFUSE
    assert limiter.check(10.0) == Verdict.SERVE
    assert [limiter.check(10.0) for _ in range(2)] == [Verdict.SERVE, Verdict.REFUSE]


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    limiter = RateLimiter(rate=100, burst=3, max_refusals=100)
    limiter.check(0.0)
    served = [limiter.check(1000.0) for _ in range(5)].count(Verdict.SERVE)
    assert served == 3
