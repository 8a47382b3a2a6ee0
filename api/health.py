"""``GET /api/health``: 200 when the database answers, a 503 problem when not."""

from __future__ import annotations

import logging

import psycopg
from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from psycopg_pool import PoolTimeout

from api import paths
from api.errors import ProblemError
from api.resources import get_resources
from common.api_models import HealthOut
from common.problems import Problem

__all__ = ["HealthController"]

log = logging.getLogger("tidewatch.api.health")

HEALTH_TIMEOUT_S = 2.0


class HealthController(Controller):
    """For load balancers and humans; needs no token."""

    path = paths.HEALTH
    tags = ["health"]

    @get(
        operation_id="getHealth",
        name="health",
        summary="Is the API up and its database reachable?",
        opt={"exclude_from_auth": True},
        security=[],
        responses={503: ResponseSpec(Problem, description="The database is not reachable")},
        cache_control=None,
    )
    async def health(self, state: State) -> HealthOut:
        res = get_resources(state)
        try:
            async with res.pool.connection(timeout=HEALTH_TIMEOUT_S) as conn:
                edition = await res.edition(conn)
                cur = await conn.execute("SELECT max(version) AS version FROM schema_migrations")
                row = await cur.fetchone()
        except (PoolTimeout, psycopg.Error) as exc:
            log.warning("health check failed: %s", str(exc).strip())
            raise ProblemError(
                503,
                f"the database did not answer within {HEALTH_TIMEOUT_S:.0f}s",
                title="Database unavailable",
                headers={"Retry-After": "5"},
            ) from None
        return HealthOut(
            status="ok",
            database="ok",
            edition=edition.value,
            schema_version=int(row["version"]) if row and row["version"] is not None else 0,
            live_feed="listening" if res.live.listening.is_set() else "reconnecting",
        )
