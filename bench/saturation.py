"""Saturation mode of ``bench.collector_load``: raise the fleet until ingest falls behind.

Each step is a full load run (fresh database, fresh collector) at a larger fleet:
``agents``, then ``agents * step`` and so on, until a step is not sustained (p99 lag
over 2 s, under 95 % of the offered rows committed, acks not drained after the
window, or any loss) or ``max_agents`` is passed. The first step also runs raw
binary COPY of the same rows, so that the ratio compares figures of one invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["GOAL_P99_LAG_S", "next_fleet", "print_saturation", "saturated"]

GOAL_P99_LAG_S = 2.0


def next_fleet(agents: int, step: float) -> int:
    """The next fleet size: at least one agent more."""
    return max(agents + 1, round(agents * step))


def saturated(summary: dict[str, Any]) -> bool:
    """Whether this step shows the collector (or the machine) no longer keeping up."""
    return not (summary["sustained"] and summary["drained"])


def _per_core(cpu_s_per_mrows: float | None) -> str:
    return f"{1e6 / cpu_s_per_mrows:,.0f}" if cpu_s_per_mrows else "n/a"


def print_saturation(summaries: list[dict[str, Any]], say: Callable[[str], None] = print) -> None:
    """The highest sustained step beside raw COPY of the same run, and the CPU per million rows."""
    say("\n=== saturation ===")
    say(" agents  offered/s  committed/s  lag p99  drained  collector  PG   generators  (CPU-s per M rows)")
    for s in summaries:
        say(
            f" {s['agents']:>6}  {s['offered_rows_per_s']:>9,}  {s['committed_rows_per_s']:>11,}"
            f"  {s['lag_newest_p99_s']:>6.2f}s  {'yes' if s['drained'] else 'NO':>7}"
            f"  {s['collector_cpu_s_per_mrows']!s:>9}  {s['pg_cpu_s_per_mrows']!s:>4}"
            f"  {s['generators_cpu_s_per_mrows']!s:>10}  {'sustained' if not saturated(s) else 'SATURATED'}"
        )
    held = [s for s in summaries if not saturated(s)]
    raw = next((s for s in summaries if "raw_copy_rows_per_s" in s), None)
    if not held:
        say(
            f"highest sustained      none: the first step ({summaries[0]['agents']} agents) already fell behind"
        )
        best = None
    else:
        best = max(held, key=lambda s: s["committed_rows_per_s"])
        say(
            f"highest sustained      {best['committed_rows_per_s']:,} rows/s with {best['agents']:,} agents"
            f" (p99 lag {best['lag_newest_p99_s']} s <= {GOAL_P99_LAG_S} s, no loss)"
        )
    if raw is not None:
        say(
            f"raw binary COPY        {raw['raw_copy_rows_per_s']:,} rows/s; client {raw['raw_copy_client_cpu_s_per_mrows']}"
            f" CPU-s per M rows, PostgreSQL {raw['raw_copy_pg_cpu_s_per_mrows']}"
        )
        if best is not None:
            ratio = best["committed_rows_per_s"] / raw["raw_copy_rows_per_s"]
            say(
                f"sustained / raw COPY   {ratio:.3f} (a lower bound where the generators, not the collector, ran out)"
            )
    top = best or summaries[0]
    say(
        f"CPU per million rows   collector {top['collector_cpu_s_per_mrows']} s"
        f" (one core: {_per_core(top['collector_cpu_s_per_mrows'])} rows/s),"
        f" PostgreSQL {top['pg_cpu_s_per_mrows']} s, generators {top['generators_cpu_s_per_mrows']} s"
        " (the simulated fleet, not part of the system under test)"
    )
    last = summaries[-1]
    if saturated(last):
        say(
            f"stopped at             {last['agents']:,} agents: machine {last['cpu_machine_pct']}% of 200%"
            f" (collector {last['cpu_collector_pct']}%, PostgreSQL {last['cpu_postgres_all_pct']}%,"
            f" generators {last['cpu_generators_pct']}%)"
        )
