"""TimescaleDB background jobs that fail or fall behind, read from ``tw_job_problems()``.

Tidewatch never depends on these jobs for correct rollups or retention (the
collector's maintenance does that work itself), but a failing job is reported:
as collector metrics, a warning in the collector's log and a "degraded" health.
"""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import tuple_row

__all__ = ["JobProblem", "describe", "read_job_problems"]


class JobProblem(msgspec.Struct, frozen=True):
    """One job: ``problem`` is ``failing`` (its last run failed) or ``stale``
    (no success for three of its intervals, and at least an hour)."""

    job_id: int
    job_name: str
    problem: str
    total_failures: int
    seconds_since_success: float | None


async def read_job_problems(conn: AsyncConnection[Any]) -> list[JobProblem]:
    """Failing or stale jobs; none before migration 0008 defines ``tw_job_problems()``."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT to_regprocedure('tw_job_problems()') IS NOT NULL")
    defined = await cur.fetchone()
    if not defined or not defined[0]:
        return []
    await cur.execute(
        "SELECT job_id, job_name, problem, total_failures, seconds_since_success FROM tw_job_problems()"
    )
    return [
        JobProblem(int(r[0]), str(r[1]), str(r[2]), int(r[3] or 0), None if r[4] is None else float(r[4]))
        for r in await cur.fetchall()
    ]


def describe(problem: JobProblem) -> str:
    """One line naming the job, for logs and the health response."""
    since = (
        "never succeeded"
        if problem.seconds_since_success is None
        else f"last success {problem.seconds_since_success:.0f} s ago"
    )
    return f"{problem.job_name} (job {problem.job_id}) is {problem.problem}: {problem.total_failures} failures, {since}"
