"""``/api/status-page``: the public status page (no token), and its configuration (admins)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from api import paths
from api.audit import record_audit
from api.auth.guards import requires_admin
from api.auth.sessions import AuthUser
from api.errors import ProblemError, unmet_rule
from api.resources import Connection, Db, get_resources
from api.status_page.cache import DEFAULT_TTL_S
from api.status_page.queries import build_page, read_page_rows
from common.api_models.status_page import StatusGroupIn, StatusPageConfig, StatusPageConfigOut, StatusPageOut
from common.problems import Problem
from common.records import AuditAction

__all__ = ["StatusPageConfigController", "StatusPageController"]


def _turned_off() -> ProblemError:
    return ProblemError(404, "the public status page is turned off", title="Status page off")


class StatusPageController(Controller):
    """What visitors see, without signing in."""

    path = paths.STATUS_PAGE
    tags = ["status-page"]

    @get(
        operation_id="getStatusPage",
        name="status-page",
        summary="The public status page: chosen servers' state, uptime and load",
        description=f"Needs no token. Answers from a server-side cache refreshed at most every "
        f"{DEFAULT_TTL_S:g} s, whatever the number of visitors. No server id, name, address, hostname "
        "or label is in it: only the display names an admin chose.",
        opt={"exclude_from_auth": True},
        security=[],
        cache_control=CacheControlHeader(public=True, max_age=round(DEFAULT_TTL_S)),
        responses={404: ResponseSpec(Problem, description="The status page is turned off")},
    )
    async def status_page(self, state: State) -> StatusPageOut:
        res = get_resources(state)

        async def load() -> StatusPageOut | None:
            async with res.connection("status page") as conn:
                return build_page(await read_page_rows(conn))

        page = await res.status_page.get(load)
        if page is None:
            raise _turned_off()
        return page


async def _read_config(db: Connection) -> StatusPageConfigOut:
    cur = await db.execute(
        """
        SELECT p.enabled, p.title, p.updated_at,
               coalesce((SELECT json_agg(json_build_object('title', g.title, 'servers', coalesce(
                   (SELECT json_agg(json_build_object('vps_id', s.vps_id, 'display_name', s.display_name)
                                    ORDER BY s.position)
                    FROM status_page_servers s WHERE s.group_position = g.position), '[]'))
                   ORDER BY g.position) FROM status_page_groups g), '[]') AS groups
        FROM status_page p
        """
    )
    row = await cur.fetchone()
    assert row is not None, "migration 0018 inserts the status page's row"
    return msgspec.convert(row, StatusPageConfigOut)


async def _check_servers(db: Connection, groups: list[StatusGroupIn]) -> None:
    """422 naming the field of a server that appears twice or does not exist."""
    seen: set[int] = set()
    for g, group in enumerate(groups):
        for s, server in enumerate(group.servers):
            if server.vps_id in seen:
                raise unmet_rule(
                    f"groups[{g}].servers[{s}].vps_id", f"VPS {server.vps_id} is already on the page"
                )
            seen.add(server.vps_id)
    # KEY SHARE: a server cannot be deleted between this check and the insert.
    cur = await db.execute("SELECT id FROM vps WHERE id = ANY(%s) FOR KEY SHARE", (list(seen),))
    existing = {row["id"] for row in await cur.fetchall()}
    for g, group in enumerate(groups):
        for s, server in enumerate(group.servers):
            if server.vps_id not in existing:
                raise unmet_rule(f"groups[{g}].servers[{s}].vps_id", f"VPS {server.vps_id} does not exist")


class StatusPageConfigController(Controller):
    """Which servers the public page shows, and under which names."""

    path = paths.STATUS_PAGE_CONFIG
    tags = ["status-page"]
    guards = [requires_admin]

    @get(
        operation_id="getStatusPageConfig", name="status-page:config", summary="Read the status page's setup"
    )
    async def get_config(self, db: Db) -> StatusPageConfigOut:
        return await _read_config(db)

    @put(
        operation_id="putStatusPageConfig",
        name="status-page:config-put",
        summary="Turn the status page on or off and choose its servers and groups",
        description="Replaces the whole setup. A server appears at most once; one without a "
        'display name is shown as "Server N".',
    )
    async def put_config(
        self, data: JSONBody[StatusPageConfig], db: Db, state: State, request: Request[AuthUser, str, Any]
    ) -> StatusPageConfigOut:
        # One change at a time: a second admin's save waits, then replaces this one whole.
        await db.execute("SELECT 1 FROM status_page FOR UPDATE")
        await _check_servers(db, data.groups)
        await db.execute("DELETE FROM status_page_groups")
        async with db.cursor() as cur:
            await cur.executemany(
                "INSERT INTO status_page_groups (position, title) VALUES (%s, %s)",
                [(g, group.title) for g, group in enumerate(data.groups)],
            )
            await cur.executemany(
                "INSERT INTO status_page_servers (vps_id, group_position, position, display_name)"
                " VALUES (%s, %s, %s, %s)",
                [
                    (server.vps_id, g, s, server.display_name)
                    for g, group in enumerate(data.groups)
                    for s, server in enumerate(group.servers)
                ],
            )
        await db.execute(
            "UPDATE status_page SET enabled = %s, title = %s, updated_at = now(), updated_by = %s",
            (data.enabled, data.title, request.user.id),
        )
        await record_audit(db, request, AuditAction.STATUS_PAGE_UPDATE, user=request.user, target="status_page",
                           detail=msgspec.to_builtins(data))  # fmt: skip
        config = await _read_config(db)
        # Committed before the cache forgets, so no visitor can re-cache the old page.
        await db.commit()
        get_resources(state).status_page.invalidate()
        return config
