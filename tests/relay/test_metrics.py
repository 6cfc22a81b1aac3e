"""The relay's metrics: answers are counted per command and code, in one registry per relay."""

from __future__ import annotations

from payk.relay.metrics import RelayMetrics


def test_answers_are_counted_per_command_and_code() -> None:
    metrics, other = RelayMetrics(), RelayMetrics()
    for _ in range(3):
        metrics.answered("Send", "OK")
    metrics.answered("Send", "QUOTA")
    metrics.answered("Ack", "OK")
    text = metrics.render().decode()
    assert 'payk_relay_requests_total{code="OK",command="Send"} 3.0' in text
    assert 'payk_relay_requests_total{code="QUOTA",command="Send"} 1.0' in text
    assert 'payk_relay_requests_total{code="OK",command="Ack"} 1.0' in text
    assert "payk_relay_requests_total{" not in other.render().decode()
