"""Predictive disk-full: a robust trend over a mount's recent use.

Deletes and log rotation show as drops; the fit starts after the last big drop and
uses the Theil-Sen estimator (median of pairwise slopes), which small drops and
spikes barely move.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["DISK_TREND_SQL", "seconds_until_full"]

MAX_POINTS = 240
# Used bytes per mount at 1-minute resolution over the lookback: what the fit reads.
# Parameters: vps ids, lookback seconds, mountpoint (or NULL for all), twice.
DISK_TREND_SQL = """
SELECT vps_id, mountpoint, extract(epoch FROM time_bucket('1 minute', time))::float8 AS t,
       last(used_bytes, time)::float8 AS used, last(total_bytes, time)::float8 AS total
FROM disk_metrics
WHERE vps_id = ANY(%s) AND time > now() - make_interval(secs => %s) AND (%s::text IS NULL OR mountpoint = %s)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
# A drop larger than this share of the disk starts a new trend segment.
BIG_DROP_FRACTION = 0.01


def seconds_until_full(
    times_s: npt.ArrayLike, used_bytes: npt.ArrayLike, total_bytes: float, min_points: int = 5
) -> float | None:
    """Seconds from the last sample until ``used_bytes`` reaches ``total_bytes`` at the
    fitted rate; None when the trend is flat, falling or too short to judge."""
    t = np.asarray(times_s, dtype=np.float64)
    u = np.asarray(used_bytes, dtype=np.float64)
    if t.size != u.size or t.size < min_points or total_bytes <= 0:
        return None
    drops = np.flatnonzero(np.diff(u) < -BIG_DROP_FRACTION * total_bytes)
    if drops.size:
        t, u = t[drops[-1] + 1 :], u[drops[-1] + 1 :]
    if t.size < min_points or t[-1] <= t[0]:
        return None
    if t.size > MAX_POINTS:
        pick = np.linspace(0, t.size - 1, MAX_POINTS).astype(np.int64)
        t, u = t[pick], u[pick]
    i, j = np.triu_indices(t.size, 1)
    dt = t[j] - t[i]
    keep = dt > 0
    slope = float(np.median((u[j] - u[i])[keep] / dt[keep]))
    if slope <= 0:
        return None
    intercept = float(np.median(u - slope * t))
    used_now = intercept + slope * float(t[-1])
    return max((total_bytes - used_now) / slope, 0.0)
