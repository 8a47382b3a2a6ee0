"""Counter deltas, rates and CPU shares: resets, wraps, zero intervals, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.collectors.rates import (
    CpuTimes,
    busy_percent,
    counter_delta,
    counter_rate,
    cpu_percentages,
    rate_per_second,
    share_percent,
)

U64 = 2**64
U32 = 2**32
counters = st.integers(min_value=0, max_value=U64 - 1)


# ------------------------------------------------------------------ counter_delta


def test_delta_of_a_growing_counter() -> None:
    assert counter_delta(100, 250) == 150


def test_delta_of_an_unchanged_counter_is_zero() -> None:
    assert counter_delta(42, 42) == 0


def test_counter_that_went_backwards_was_reset_and_counts_from_zero() -> None:
    # Reboot: 1 GB before, 300 bytes since boot. The 300 bytes are new traffic.
    assert counter_delta(1_000_000_000, 300) == 300


def test_reset_to_exactly_zero() -> None:
    assert counter_delta(5_000, 0) == 0


def test_wrap_of_a_32_bit_counter_when_the_width_is_known() -> None:
    assert counter_delta(U32 - 10, 5, wrap_at=U32) == 15


def test_wrap_of_a_64_bit_counter_when_the_width_is_known() -> None:
    assert counter_delta(U64 - 1, 0, wrap_at=U64) == 1


def test_without_a_width_a_wrap_reads_as_a_reset() -> None:
    # The conservative reading: never invent traffic we cannot prove.
    assert counter_delta(U32 - 10, 5) == 5


def test_values_beyond_the_wrap_width_fall_back_to_reset() -> None:
    # A 32-bit width cannot explain a previous reading above 2**32.
    assert counter_delta(U32 + 7, 3, wrap_at=U32) == 3


def test_negative_current_never_gives_a_negative_delta() -> None:
    assert counter_delta(10, -5) == 0


@given(previous=counters, current=counters)
def test_delta_is_never_negative(previous: int, current: int) -> None:
    assert counter_delta(previous, current) >= 0
    assert counter_delta(previous, current, wrap_at=U64) >= 0


@given(previous=counters, increase=st.integers(min_value=0, max_value=U64))
def test_delta_is_the_increase_when_no_reset_happened(previous: int, increase: int) -> None:
    assert counter_delta(previous, previous + increase) == increase


@given(
    start=st.integers(min_value=0, max_value=U32 - 1), increase=st.integers(min_value=0, max_value=U32 - 1)
)
def test_wrap_aware_delta_recovers_any_increase_smaller_than_the_width(start: int, increase: int) -> None:
    assert counter_delta(start, (start + increase) % U32, wrap_at=U32) == increase


@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**12), st.booleans()),
        min_size=1,
        max_size=50,
    ),
    start=st.integers(min_value=0, max_value=10**15),
)
def test_summed_deltas_never_exceed_true_traffic_and_match_it_without_resets(
    steps: list[tuple[int, bool]], start: int
) -> None:
    """Simulate a kernel counter read once per interval; some intervals start with a reset."""
    counter = start
    true_total = summed = 0
    any_reset = False
    for increase, reset_first in steps:
        previous = counter
        if reset_first:
            counter, any_reset = 0, True
        counter += increase
        true_total += increase
        delta = counter_delta(previous, counter)
        if reset_first and counter < previous:
            # A reset that leaves the counter below its last reading is seen and loses nothing.
            assert delta == increase
        summed += delta
    assert summed <= true_total
    if not any_reset:
        assert summed == true_total


# ------------------------------------------------------------------ rates


def test_rate_per_second() -> None:
    assert rate_per_second(300, 2.0) == 150.0
    assert rate_per_second(1.5, 0.5) == 3.0


@pytest.mark.parametrize("seconds", [0.0, -1.0, -0.0, 1e-300, math.nan])
def test_rate_over_no_time_is_zero_not_an_error(seconds: float) -> None:
    assert rate_per_second(1000, seconds) == 0.0


def test_rate_of_a_negative_delta_is_clamped_to_zero() -> None:
    assert rate_per_second(-5, 1.0) == 0.0


def test_counter_rate_handles_reset() -> None:
    assert counter_rate(1000, 1500, 1.0) == 500.0
    assert counter_rate(10**9, 2000, 2.0) == 1000.0
    assert counter_rate(1, 2, 0.0) == 0.0


@given(previous=counters, current=counters, seconds=st.floats(min_value=-10, max_value=1e6))
def test_rates_are_finite_and_never_negative(previous: int, current: int, seconds: float) -> None:
    rate = counter_rate(previous, current, seconds)
    assert rate >= 0.0
    assert math.isfinite(rate)


# ------------------------------------------------------------------ shares


def test_share_percent() -> None:
    assert share_percent(1, 4) == 25.0
    assert share_percent(1.5, 4, scale=4) == 150.0  # 1.5 CPUs of a 4-CPU host, as docker stats shows
    assert share_percent(5, 0) == 0.0
    assert share_percent(-1, 10) == 0.0


def times(**values: float) -> CpuTimes:
    return CpuTimes(**values)


def test_cpu_percentages_split_by_state() -> None:
    before = times(user=100, system=50, idle=800, iowait=10, steal=5)
    after = times(user=160, nice=10, system=70, idle=880, iowait=20, irq=4, softirq=6, steal=10)
    # Elapsed: 60 + 10 + 20 + 80 + 10 + 4 + 6 + 5 = 195
    shares = cpu_percentages(before, after)
    assert shares.user == pytest.approx(70 / 195 * 100)
    assert shares.system == pytest.approx(30 / 195 * 100)
    assert shares.iowait == pytest.approx(10 / 195 * 100)
    assert shares.steal == pytest.approx(5 / 195 * 100)
    assert shares.busy == pytest.approx((195 - 80 - 10) / 195 * 100)


def test_guest_time_is_not_counted_twice() -> None:
    # Linux already includes guest time in user.
    before = times(user=0, idle=0)
    after = times(user=50, guest=50, idle=50)
    assert busy_percent(before, after) == pytest.approx(50.0)


def test_cpu_percentages_over_no_time_are_zero() -> None:
    same = times(user=5, idle=5)
    shares = cpu_percentages(same, same)
    assert (shares.busy, shares.user, shares.system, shares.iowait, shares.steal) == (0, 0, 0, 0, 0)


def test_cpu_counter_stepping_back_does_not_go_negative() -> None:
    before = times(user=100, idle=100, steal=10)
    after = times(user=150, idle=150, steal=9)
    shares = cpu_percentages(before, after)
    assert shares.steal == 0.0
    assert shares.busy == pytest.approx(50.0)


def test_from_mapping_ignores_unknown_and_missing_fields() -> None:
    cpu = CpuTimes.from_mapping({"user": 1.0, "idle": 2.0, "interrupt": 9.0})
    assert cpu == CpuTimes(user=1.0, idle=2.0)


cpu_state = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(
    before=st.builds(
        CpuTimes, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state
    ),
    after=st.builds(
        CpuTimes, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state, cpu_state
    ),
)
def test_cpu_shares_stay_between_0_and_100(before: CpuTimes, after: CpuTimes) -> None:
    shares = cpu_percentages(before, after)
    for value in (shares.busy, shares.user, shares.system, shares.iowait, shares.steal):
        assert 0.0 <= value <= 100.0
    assert shares.user + shares.system + shares.steal <= 100.0 + 1e-6


def test_cpu_busy_never_goes_below_zero_from_float_rounding() -> None:
    # Hypothesis found this pair: elapsed - idle - iowait rounds to -1.1e-14.
    zero = CpuTimes(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    after = CpuTimes(0.0, 0.0, 0.0, 1.0, 524287.3418664218, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert cpu_percentages(zero, after).busy == 0.0
