"""Clock correction in batch conversion: stored times, the checks on them, and batch identity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.rows import TimeRules, clock_rules, convert_batch
from collector.validation import InvalidBatch
from proto import agent_pb2
from tests.factories import docker_batch, performance_batch

NOW_MS = 1_800_000_000_000
RULES = TimeRules(now_ms=NOW_MS, max_future_ms=300_000, max_age_ms=7 * 86_400_000)
T0 = NOW_MS - 60_000  # the real time of the first sample
AHEAD_MS = 600_000  # the agent's clock is 10 minutes ahead: its offset is -AHEAD_MS


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def ahead_batch(*, known: bool, sequence: int = 7) -> agent_pb2.PerformanceSnapshotBatch:
    """Two snapshots taken at T0 and T0 + 1 s, stamped by an agent 10 minutes ahead."""
    batch = performance_batch(sequence, [T0 + AHEAD_MS, T0 + AHEAD_MS + 1000], disks=1, interfaces=1)
    batch.clock_offset_ms, batch.clock_offset_known = (-AHEAD_MS, True) if known else (0, False)
    return batch


def test_unstamped_batch_without_an_estimate_is_checked_as_sent() -> None:
    with pytest.raises(InvalidBatch, match=r"snapshots\[0\].timestamp_unix_ms: .* 540 s in the future"):
        convert_batch(
            "performance_batch",
            ahead_batch(known=False),
            1,
            clock_rules(RULES, ahead_batch(known=False), None),
        )


def test_stamped_batch_is_stored_at_corrected_times_with_a_corrected_identity() -> None:
    batch = ahead_batch(known=True)
    rules = clock_rules(RULES, batch, stream_offset_ms=-123_456)  # the batch's own stamp wins
    assert (rules.offset_ms, rules.identity_offset_ms) == (-AHEAD_MS, -AHEAD_MS)
    converted = convert_batch("performance_batch", batch, 1, rules)
    assert converted.batch_time == at(T0) and converted.dedup_time == at(T0)
    for rows in converted.rows.values():
        assert sorted({row[0] for row in rows}) == [at(T0), at(T0 + 1000)]
    assert converted.live is not None and converted.live["time_ms"] == T0 + 1000


def test_unstamped_batch_uses_the_stream_estimate_and_keeps_its_sent_identity() -> None:
    batch = ahead_batch(known=False)
    converted = convert_batch("performance_batch", batch, 1, clock_rules(RULES, batch, -AHEAD_MS + 40))
    assert [row[0] for row in converted.rows["host_metrics"]] == [at(T0 + 40), at(T0 + 1040)]
    assert converted.batch_time == at(T0 + 40)
    # The identity must not depend on the collector's estimate, which differs on a resend.
    assert converted.dedup_time == at(T0 + AHEAD_MS)
    again = convert_batch("performance_batch", batch, 1, clock_rules(RULES, batch, -AHEAD_MS - 900))
    assert again.dedup_time == converted.dedup_time


def test_checks_apply_to_corrected_times() -> None:
    batch = performance_batch(1, [T0], disks=1, interfaces=1)
    batch.clock_offset_ms, batch.clock_offset_known = 400_000, True  # pushes the sample into the future
    with pytest.raises(
        InvalidBatch, match=rf"340 s in the future .*\(sent as {T0}, corrected by \+400000 ms\)"
    ):
        convert_batch("performance_batch", batch, 1, clock_rules(RULES, batch, None))
    batch.clock_offset_ms = -8 * 86_400_000  # before raw retention once corrected
    with pytest.raises(InvalidBatch, match="older than raw retention"):
        convert_batch("performance_batch", batch, 1, clock_rules(RULES, batch, None))


def test_docker_batch_times_and_container_times_are_corrected() -> None:
    batch = docker_batch(3, T0 - AHEAD_MS, containers=2)
    batch.containers[0].created_unix_ms = T0 - AHEAD_MS - 5000
    batch.containers[1].created_unix_ms = 0  # unknown stays unknown
    batch.clock_offset_ms, batch.clock_offset_known = AHEAD_MS, True  # the agent is behind
    converted = convert_batch("docker_batch", batch, 1, clock_rules(RULES, batch, None))
    assert converted.batch_time == converted.docker_time == converted.dedup_time == at(T0)
    assert {row[0] for row in converted.rows["container_metrics"]} == {at(T0)}
    assert converted.containers is not None
    assert converted.containers[0].created_at == at(T0 - 5000)
    assert converted.containers[1].created_at is None


def test_a_container_time_corrected_to_before_1970_is_left_unknown_not_refused() -> None:
    batch = docker_batch(3, T0 + AHEAD_MS, containers=1)
    batch.containers[0].created_unix_ms = 1000  # a clock reset to 1970 at some point
    batch.clock_offset_ms, batch.clock_offset_known = -AHEAD_MS, True
    converted = convert_batch("docker_batch", batch, 1, clock_rules(RULES, batch, None))
    assert converted.containers is not None and converted.containers[0].created_at is None


def test_generic_metrics_are_corrected() -> None:
    batch = agent_pb2.GenericMetricsBatch(
        sequence=9,
        metrics=[agent_pb2.GenericMetric(timestamp_unix_ms=T0 + AHEAD_MS, name="queue_depth", value=1.0)],
        clock_offset_ms=-AHEAD_MS,
        clock_offset_known=True,
    )
    converted = convert_batch("generic_metrics_batch", batch, 2, clock_rules(RULES, batch, None))
    assert converted.rows["generic_metrics"][0][0] == at(T0)
    assert converted.dedup_time == at(T0)


def test_an_identity_outside_timestamptz_is_refused() -> None:
    batch = performance_batch(1, [T0], disks=1, interfaces=1)
    batch.snapshots[0].timestamp_unix_ms = 253_402_300_800_000 + 5
    with pytest.raises(InvalidBatch, match="between 1970 and the year 9999"):
        convert_batch(
            "performance_batch",
            batch,
            1,
            clock_rules(RULES, batch, T0 - batch.snapshots[0].timestamp_unix_ms),
        )


@pytest.mark.parametrize("offset_ms", [-999, -40, 0, 40, 999])
def test_offsets_under_a_second_are_noise_and_leave_times_as_sent(offset_ms: int) -> None:
    batch = performance_batch(3, [T0, T0 + 1000], disks=1, interfaces=1)
    batch.clock_offset_ms, batch.clock_offset_known = offset_ms, True
    converted = convert_batch("performance_batch", batch, 1, clock_rules(RULES, batch, None))
    assert [row[0] for row in converted.rows["host_metrics"]] == [at(T0), at(T0 + 1000)]
    unstamped = performance_batch(4, [T0], disks=1, interfaces=1)
    rules = clock_rules(RULES, unstamped, stream_offset_ms=offset_ms)
    assert rules.offset_ms == 0


@pytest.mark.parametrize("offset_ms", [-1000, 1000, 1500])
def test_offsets_of_a_second_or_more_are_applied(offset_ms: int) -> None:
    batch = performance_batch(5, [T0], disks=1, interfaces=1)
    batch.clock_offset_ms, batch.clock_offset_known = offset_ms, True
    converted = convert_batch("performance_batch", batch, 1, clock_rules(RULES, batch, None))
    assert [row[0] for row in converted.rows["host_metrics"]] == [at(T0 + offset_ms)]
