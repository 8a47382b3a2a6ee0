"""The agent's clock-offset estimator, on injected clocks, and the stamp each batch carries."""

from __future__ import annotations

import pytest

from agent.runtime.agent import stamp_clock
from agent.runtime.clock import ClockEstimate, ClockEstimator
from proto import agent_pb2

# The collector's clock is this far ahead of the agent's wall clock in these tests.
AHEAD_MS = 600_000
WALL_START_MS = 1_800_000_000_000


class Clocks:
    """An agent's wall clock and boot clock that tests move by hand."""

    def __init__(self) -> None:
        self.wall_ms = WALL_START_MS
        self.boot_s = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall_ms += round(seconds * 1000)
        self.boot_s += seconds

    def server_ms(self) -> int:
        return self.wall_ms + AHEAD_MS

    def estimator(self, **kwargs: object) -> ClockEstimator:
        return ClockEstimator(wall_ms=lambda: self.wall_ms, boot_s=lambda: self.boot_s, **kwargs)  # type: ignore[arg-type]


def exchange(
    clocks: Clocks, est: ClockEstimator, *, out_s: float, back_s: float, server_busy_s: float = 0.0
) -> None:
    """One probe: ``out_s`` to reach the collector, ``server_busy_s`` there, ``back_s`` back."""
    probe = est.open_probe()
    est.probe_sent(probe)
    clocks.advance(out_s)
    received = clocks.server_ms()
    clocks.advance(server_busy_s)
    sent = clocks.server_ms()
    clocks.advance(back_s)
    assert est.probe_answered(probe, server_received_ms=received, server_sent_ms=sent)


def test_unknown_until_the_first_exchange() -> None:
    est = Clocks().estimator()
    assert est.estimate() == ClockEstimate(offset_ms=0, rtt_ms=0, known=False)


def test_symmetric_exchange_gives_the_exact_offset_and_excludes_server_time_from_the_rtt() -> None:
    clocks = Clocks()
    est = clocks.estimator()
    exchange(clocks, est, out_s=0.020, back_s=0.020, server_busy_s=0.5)
    assert est.estimate() == ClockEstimate(offset_ms=AHEAD_MS, rtt_ms=40, known=True)


def test_handshake_round_trip_is_a_sample() -> None:
    clocks = Clocks()
    est = clocks.estimator()
    sent = est.now_boot_s()
    clocks.advance(0.050)
    server = clocks.server_ms()
    clocks.advance(0.050)
    est.add_handshake(sent_boot_s=sent, received_boot_s=est.now_boot_s(), server_time_ms=server)
    assert est.estimate() == ClockEstimate(offset_ms=AHEAD_MS, rtt_ms=100, known=True)


def test_the_lowest_round_trip_wins_over_a_later_asymmetric_one() -> None:
    clocks = Clocks()
    est = clocks.estimator()
    exchange(clocks, est, out_s=0.010, back_s=0.010)
    clocks.advance(10)
    # Queued for 4 s on the way back: on its own, this would be 2 s off.
    exchange(clocks, est, out_s=0.010, back_s=4.0)
    estimate = est.estimate()
    assert (estimate.offset_ms, estimate.rtt_ms) == (AHEAD_MS, 20)


def test_a_slow_first_sample_is_replaced_by_a_faster_one() -> None:
    clocks = Clocks()
    est = clocks.estimator()
    exchange(clocks, est, out_s=0.010, back_s=3.0)
    assert est.estimate().offset_ms == AHEAD_MS - 1495
    exchange(clocks, est, out_s=0.005, back_s=0.005)
    assert est.estimate() == ClockEstimate(offset_ms=AHEAD_MS, rtt_ms=10, known=True)


def test_old_samples_leave_the_window() -> None:
    clocks = Clocks()
    est = clocks.estimator(window=3, max_age_s=100.0)
    exchange(clocks, est, out_s=0.001, back_s=0.001)  # fast, soon too old
    clocks.advance(150)
    exchange(clocks, est, out_s=0.100, back_s=0.100)
    assert est.estimate() == ClockEstimate(offset_ms=AHEAD_MS, rtt_ms=200, known=True)


def test_count_window_keeps_only_the_last_exchanges() -> None:
    clocks = Clocks()
    est = clocks.estimator(window=2)
    exchange(clocks, est, out_s=0.001, back_s=0.001)
    exchange(clocks, est, out_s=0.1, back_s=0.1)
    exchange(clocks, est, out_s=0.2, back_s=0.2)
    assert est.estimate().rtt_ms == 200


def test_a_wall_clock_step_after_measuring_changes_the_offset_at_once() -> None:
    clocks = Clocks()
    est = clocks.estimator()
    exchange(clocks, est, out_s=0.01, back_s=0.01)
    clocks.advance(30)  # an outage: no exchanges, the estimate keeps serving
    assert est.estimate().offset_ms == AHEAD_MS
    clocks.wall_ms += AHEAD_MS  # NTP steps the wall clock to the right time
    assert est.estimate().offset_ms == 0


def test_impossible_exchanges_and_unknown_probes_are_ignored() -> None:
    clocks = Clocks()
    est = clocks.estimator()
    est.add_exchange(sent_boot_s=10.0, received_boot_s=9.0, server_received_ms=5, server_sent_ms=6)
    est.add_exchange(sent_boot_s=1.0, received_boot_s=2.0, server_received_ms=7, server_sent_ms=6)
    est.add_exchange(sent_boot_s=1.0, received_boot_s=2.0, server_received_ms=0, server_sent_ms=0)
    assert not est.estimate().known
    assert not est.probe_answered(12345, server_received_ms=1, server_sent_ms=1)
    assert not est.estimate().known


def test_probes_of_a_lost_stream_are_forgotten() -> None:
    clocks = Clocks()
    est = clocks.estimator(max_open_probes=2)
    first = est.open_probe()
    est.probe_sent(first)
    for _ in range(2):
        est.probe_sent(est.open_probe())
    assert not est.probe_answered(
        first, server_received_ms=clocks.server_ms(), server_sent_ms=clocks.server_ms()
    )


@pytest.mark.parametrize("kind", ["performance_batch", "docker_batch", "generic_metrics_batch"])
def test_every_batch_kind_is_stamped(kind: str) -> None:
    message = agent_pb2.MessageToServer()
    getattr(message, kind).SetInParent()
    stamp_clock(message, ClockEstimate(offset_ms=-600_123, rtt_ms=4, known=True))
    batch = getattr(message, kind)
    assert (batch.clock_offset_ms, batch.clock_offset_known) == (-600_123, True)
    stamp_clock(message, ClockEstimate(offset_ms=0, rtt_ms=0, known=False))
    assert not getattr(message, kind).clock_offset_known


def test_only_batches_are_stamped() -> None:
    with pytest.raises(ValueError, match="not a batch"):
        stamp_clock(
            agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat()),
            ClockEstimate(offset_ms=1, rtt_ms=1, known=True),
        )
