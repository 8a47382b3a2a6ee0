"""The ``server_settings`` row merged over the environment's defaults.

Every reader (the register route, the install script, "Add server") reads the row
in its own request, so a change made through one API instance holds on all of them
at once, with nothing to invalidate.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from api.errors import invalid, unmet_rule
from api.resources import Connection
from common.addresses import is_valid_host, split_host_port
from common.api_models.settings import RetentionOut, ServerSettingsOut, ServerSettingsUpdate
from common.install import join_host_port, one_line_install_command
from common.settings import ApiSettings, InstallSettings

__all__ = [
    "EffectiveSettings",
    "effective_settings",
    "registration_open",
    "settings_out",
    "update_settings",
]

TOKEN_PLACEHOLDER = "YOUR_AGENT_TOKEN"
_COLUMNS = (
    "allow_registration",
    "public_api_url",
    "collector_host",
    "collector_port",
    "collector_tls",
    "collector_ca_pem",
)
_READ = f"""
SELECT {", ".join(_COLUMNS)}, s.updated_at, u.username AS updated_by
FROM server_settings s LEFT JOIN users u ON u.id = s.updated_by
"""


@dataclass(frozen=True)
class EffectiveSettings:
    """The values in force: the row's, where it has one, else the environment's."""

    allow_registration: bool
    public_api_url: str
    collector_host: str
    collector_port: int
    collector_tls: bool
    collector_ca_pem: str
    # From TIDEWATCH_INSTALL_CA_FILE: a CA path on the VPS, used when no PEM is stored.
    collector_ca_file: str
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def collector_address(self) -> str:
        return join_host_port(self.collector_host, self.collector_port)


def _defaults(api: ApiSettings, install: InstallSettings) -> dict[str, Any]:
    host, port = split_host_port(install.collector_address)
    return {
        "allow_registration": api.allow_registration,
        "public_api_url": install.api_url.rstrip("/"),
        "collector_host": host,
        "collector_port": port,
        "collector_tls": install.tls,
        "collector_ca_pem": "",
    }


async def _row(conn: Connection) -> dict[str, Any]:
    cur = await conn.execute(_READ)
    row = await cur.fetchone()
    # The migration inserts the one row; without it every value is the environment's.
    return dict(row) if row else {}


def _merge(row: dict[str, Any], api: ApiSettings, install: InstallSettings) -> EffectiveSettings:
    values = _defaults(api, install)
    for column in _COLUMNS:
        if row.get(column) is not None:
            values[column] = row[column]
    return EffectiveSettings(
        **values,
        collector_ca_file=install.ca_file if values["collector_tls"] else "",
        updated_at=row.get("updated_at"),
        updated_by=row.get("updated_by"),
    )


async def effective_settings(
    conn: Connection, api: ApiSettings, install: InstallSettings
) -> EffectiveSettings:
    """The settings in force now."""
    return _merge(await _row(conn), api, install)


async def registration_open(conn: Connection, api: ApiSettings) -> bool:
    """Whether self-registration is open: the admin's choice, else TIDEWATCH_API_ALLOW_REGISTRATION."""
    cur = await conn.execute("SELECT allow_registration FROM server_settings")
    row = await cur.fetchone()
    chosen = row["allow_registration"] if row else None
    return api.allow_registration if chosen is None else bool(chosen)


async def settings_out(conn: Connection, settings: EffectiveSettings) -> ServerSettingsOut:
    """The settings as the API shows them, with the retention of every table and rollup."""
    cur = await conn.execute(
        "SELECT relation, extract(epoch FROM keep)::bigint AS keep_seconds"
        " FROM retention_settings ORDER BY relation"
    )
    return ServerSettingsOut(
        allow_registration=settings.allow_registration,
        public_api_url=settings.public_api_url,
        collector_host=settings.collector_host,
        collector_port=settings.collector_port,
        collector_tls=settings.collector_tls,
        collector_ca_pem=settings.collector_ca_pem,
        collector_address=settings.collector_address,
        install_command_example=one_line_install_command(settings.public_api_url, TOKEN_PLACEHOLDER),
        retention=msgspec.convert(await cur.fetchall(), list[RetentionOut]),
        updated_at=settings.updated_at,
        updated_by=settings.updated_by,
    )


def _check(merged: EffectiveSettings, changed: dict[str, Any]) -> None:
    """What the patterns cannot say; each problem names the field."""
    if "collector_host" in changed and not is_valid_host(merged.collector_host.strip("[]")):
        raise unmet_rule("collector_host", "expected a host name or an IP address")
    if merged.collector_ca_pem and not merged.collector_tls:
        field = "collector_ca_pem" if "collector_ca_pem" in changed else "collector_tls"
        raise unmet_rule(field, "a CA only matters with TLS: turn collector_tls on, or clear the CA")
    if "collector_ca_pem" in changed and merged.collector_ca_pem:
        try:
            ssl.create_default_context(cadata=merged.collector_ca_pem)
        except (ssl.SSLError, ValueError) as exc:
            raise unmet_rule("collector_ca_pem", f"not a readable certificate: {exc}") from None


async def update_settings(
    conn: Connection,
    data: ServerSettingsUpdate,
    user_id: int,
    api: ApiSettings,
    install: InstallSettings,
) -> tuple[EffectiveSettings, dict[str, Any]]:
    """Store the given fields; returns the settings now in force and what changed."""
    given = {column: getattr(data, column) for column in _COLUMNS}
    changed = {column: value for column, value in given.items() if value is not msgspec.UNSET}
    if "public_api_url" in changed:
        changed["public_api_url"] = changed["public_api_url"].rstrip("/")
    if not changed:
        raise invalid("body", f"give at least one of {', '.join(_COLUMNS)}", "body")
    # FOR UPDATE: two admins' partial changes are checked against each other, not interleaved.
    cur = await conn.execute(f"{_READ} FOR UPDATE OF s")
    row = await cur.fetchone()
    merged = _merge({**(dict(row) if row else {}), **changed}, api, install)
    _check(merged, changed)
    assignments = ", ".join(f"{column} = %({column})s" for column in changed)
    await conn.execute(
        f"UPDATE server_settings SET {assignments}, updated_at = now(), updated_by = %(user_id)s",
        {**changed, "user_id": user_id},
    )
    return await effective_settings(conn, api, install), changed
