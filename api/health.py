"""``GET /api/health``: 200 when the database answers, a 503 problem when not."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout

from api import paths
from api.errors import ProblemError
from api.resources import get_resources
from common.api_models import HealthOut
from common.db_limits import DatabaseUnresponsive, is_connection_failure
from common.jobs import describe, read_job_problems
from common.problems import Problem

__all__ = ["HealthController"]

log = logging.getLogger("tidewatch.api.health")


def _unavailable(exc: Exception, budget_s: float) -> ProblemError:
    """The 503 problem for a failed check, saying what went wrong."""
    if isinstance(exc, DatabaseUnresponsive):
        detail = f"the database did not answer within {budget_s:g} s"
    elif isinstance(exc, PoolTimeout):
        detail = f"no database connection within {budget_s:g} s: it refuses connections or does not answer"
    elif is_connection_failure(exc):
        detail = "the database connection failed"
    else:
        detail = f"the database answered the health check with an error ({type(exc).__name__})"
    return ProblemError(503, detail, title="Database unavailable", headers={"Retry-After": "5"})


async def failing_jobs(conn: AsyncConnection[Any]) -> list[str]:
    """TimescaleDB jobs that failed last time or fell behind, one line each.

    Rollups and retention stay right regardless (the collector's maintenance
    does that work), so this degrades the health instead of failing it.
    """
    problems = await read_job_problems(conn)
    for problem in problems:
        log.warning("health degraded: TimescaleDB job %s", describe(problem))
    return [describe(p) for p in problems]


class HealthController(Controller):
    """For load balancers and humans; needs no token."""

    path = paths.HEALTH
    tags = ["health"]

    @get(
        operation_id="getHealth",
        name="health",
        summary="Is the API up, its database reachable and TimescaleDB's jobs healthy?",
        description="Answers within ``health_timeout_s`` (2 s by default), whether the database "
        "answers, refuses or hangs. Failing or stale TimescaleDB jobs make it ``degraded``.",
        opt={"exclude_from_auth": True},
        security=[],
        responses={503: ResponseSpec(Problem, description="The database refuses or does not answer")},
        cache_control=None,
    )
    async def health(self, state: State) -> HealthOut:
        res = get_resources(state)
        budget_s = res.settings.health_timeout_s
        try:
            # Every check runs in this block: one connection, one time budget for all.
            async with res.connection("health check", budget_s) as conn:
                edition = await res.edition(conn)
                cur = await conn.execute("SELECT max(version) AS version FROM schema_migrations")
                row = await cur.fetchone()
                jobs = await failing_jobs(conn)
        except (PoolTimeout, psycopg.Error) as exc:
            log.warning("health check failed: %s", str(exc).strip() or type(exc).__name__)
            raise _unavailable(exc, budget_s) from None
        return HealthOut(
            status="degraded" if jobs else "ok",
            database="ok",
            edition=edition.value,
            schema_version=int(row["version"]) if row and row["version"] is not None else 0,
            live_feed="listening" if res.live.listening.is_set() else "reconnecting",
            jobs=jobs,
        )
