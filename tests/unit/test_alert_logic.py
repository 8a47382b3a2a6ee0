"""Pure alert logic: traffic cycles and forecast, disk-full trend, silences, fleet outages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from alerts.observation import Observation, group_fleet_outage
from common.silence_window import silence_active
from common.traffic import DailyBytes, cycle_start_date, cycles_from_days, forecast, used_bytes
from common.trend import seconds_until_full

GIB = 1024**3


def test_cycle_start_follows_the_reset_day_across_month_and_year() -> None:
    assert cycle_start_date(date(2026, 3, 15), 15) == date(2026, 3, 15)
    assert cycle_start_date(date(2026, 3, 14), 15) == date(2026, 2, 15)
    assert cycle_start_date(date(2026, 1, 3), 5) == date(2025, 12, 5)
    with pytest.raises(ValueError):
        cycle_start_date(date(2026, 1, 3), 29)


def test_daily_bytes_across_a_reset_day_give_cycle_totals_and_forecast() -> None:
    tz = "Europe/Berlin"
    # 10 GiB in and 1 GiB out every day from 1 Feb to 19 Mar 2026, reset on the 10th.
    days = [DailyBytes(date(2026, 2, 1) + timedelta(days=i), 10 * GIB, GIB) for i in range(47)]
    now = datetime(2026, 3, 20, 0, 0, tzinfo=ZoneInfo(tz))
    cycles = cycles_from_days(days, now, 10, tz, 3)
    assert [c.start.date() for c in cycles] == [date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)]
    assert cycles[-1].end.date() == date(2026, 4, 10)
    # 1-9 Feb belong to the January cycle, 10 Feb-9 Mar (28 days) to February's, 10-19 Mar to March's.
    assert [c.rx_bytes // GIB for c in cycles] == [90, 280, 100]
    assert [c.tx_bytes // GIB for c in cycles] == [9, 28, 10]
    assert used_bytes(cycles[-1].rx_bytes, cycles[-1].tx_bytes, "max") == 100 * GIB
    assert used_bytes(cycles[-1].rx_bytes, cycles[-1].tx_bytes, "total") == 110 * GIB

    # 110 GiB in 10 days is 11 GiB/day: a 200 GiB quota runs out after 200/11 days.
    outlook = forecast(cycles[-1], now, "total", 200 * GIB)
    assert outlook.bytes_per_day == pytest.approx(11 * GIB)
    assert outlook.projected_bytes == pytest.approx(11 * GIB * 31, rel=1e-9)
    expected = cycles[-1].start + timedelta(days=200 / 11)
    assert outlook.exhausted_at is not None
    assert abs((outlook.exhausted_at - expected).total_seconds()) < 1
    # A quota the pace never reaches this cycle has no exhaustion date.
    assert forecast(cycles[-1], now, "total", 1000 * GIB).exhausted_at is None


def test_disk_full_prediction_is_within_ten_percent_despite_rotation_and_noise() -> None:
    rng = np.random.default_rng(7)
    total = 100 * GIB
    rate = 50 * 1024**2 / 60.0  # 50 MiB a minute
    t = np.arange(0, 6 * 3600, 60, dtype=np.float64)
    used = 40 * GIB + rate * t + rng.normal(0, 20 * 1024**2, t.size)
    # A log rotation drops 5 GiB two hours in; small deletes here and there.
    used[t >= 2 * 3600] -= 5 * GIB
    used[rng.choice(t.size, 10, replace=False)] -= 200 * 1024**2
    truth = (total - (40 * GIB + rate * t[-1] - 5 * GIB)) / rate
    predicted = seconds_until_full(t, used, total)
    assert predicted is not None
    assert abs(predicted - truth) / truth < 0.10
    assert seconds_until_full(t, np.full(t.size, 40 * GIB), total) is None


def test_recurring_silence_uses_its_timezone() -> None:
    nightly = {"cron": "0 2 * * *", "duration_s": 3600.0, "timezone": "Asia/Tokyo"}
    tokyo = ZoneInfo("Asia/Tokyo")
    assert silence_active(nightly, datetime(2026, 5, 1, 2, 30, tzinfo=tokyo).astimezone(UTC))
    assert silence_active(nightly, datetime(2026, 5, 1, 2, 0, tzinfo=tokyo).astimezone(UTC))
    assert not silence_active(nightly, datetime(2026, 5, 1, 3, 0, tzinfo=tokyo).astimezone(UTC))
    one_off = {"starts_at": datetime(2026, 5, 1, tzinfo=UTC), "ends_at": datetime(2026, 5, 2, tzinfo=UTC)}
    assert silence_active(one_off, datetime(2026, 5, 1, 12, tzinfo=UTC))
    assert not silence_active(one_off, datetime(2026, 5, 2, tzinfo=UTC))


def _down(key: str, fire: bool = True) -> Observation:
    return Observation(key, int(key.split(":")[1]), key, fire=fire, clear=not fire)


def test_a_fleet_wide_outage_is_one_incident() -> None:
    observations = [_down(f"vps:{i}") for i in range(1, 6)]
    grouped = group_fleet_outage(observations, {}, 5, 0.5)
    assert [o.target_key for o in grouped] == ["fleet"]
    assert grouped[0].details["members"] == [f"vps:{i}" for i in range(1, 6)]
    # While it is open, its members raise nothing alone; it clears when all are back.
    open_details = {"fleet": grouped[0].details}
    partly = [_down("vps:1", fire=False), *(_down(f"vps:{i}") for i in range(2, 6))]
    still = group_fleet_outage(partly, open_details, 5, 0.5)
    assert [(o.target_key, o.fire, o.clear) for o in still] == [("fleet", True, False)]
    back = group_fleet_outage([_down(f"vps:{i}", fire=False) for i in range(1, 6)], open_details, 5, 0.5)
    assert [(o.target_key, o.clear) for o in back] == [("fleet", True)]
    # One VPS down alone is its own incident.
    single = group_fleet_outage([_down("vps:1"), _down("vps:2", fire=False)], {}, 5, 0.5)
    assert [o.target_key for o in single if o.fire] == ["vps:1"]
