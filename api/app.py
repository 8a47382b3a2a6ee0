"""The one wiring point: routes, auth, dependencies, error handling, OpenAPI, lifespan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from psycopg.conninfo import make_conninfo

from api import paths
from api.agent_install.controller import AgentInstallController
from api.alerts.channels import ChannelsController
from api.alerts.events import EventsController
from api.alerts.forecast import DiskForecastController
from api.alerts.rules import RulesController
from api.alerts.silences import SilencesController
from api.auth.change_hints import AuthChangeListener
from api.auth.controller import AuthController
from api.auth.hashing import HashingPool
from api.auth.middleware import BearerAuthMiddleware
from api.auth.sessions import SessionCache
from api.auth.throttle import AuthThrottle
from api.billing.controller import FleetBillingController, VpsBillingController
from api.commands.controller import CommandsController, VpsCommandsController
from api.commands.socket import command_socket
from api.commands.updates import CommandUpdates
from api.errors import exception_handlers
from api.health import HealthController
from api.listening import ListenLoop
from api.live.hub import LiveHub
from api.live.socket import live_socket
from api.live.watch import WatchLeases
from api.metrics.controller import MetricsController
from api.metrics.extras import MetricExtrasController, StatusEventsController
from api.openapi import TruthfulJsonRenderPlugin
from api.resources import Resources, lifespan, provide_db
from api.settings.controller import SettingsController
from api.status_page.controller import StatusPageConfigController, StatusPageController
from api.strict_input import refuse_lenient_input
from api.tokens import TokensController
from api.users import AuditController, UsersController
from api.vps.controller import VpsController
from common.db_limits import connect_kwargs
from common.settings import INSTALL_PREFIX, ApiSettings, InstallSettings, load_settings, resolve_dsn

__all__ = ["create_app"]

# The LISTEN connection's name in pg_stat_activity.
LISTEN_APPLICATION_NAME = "tidewatch-api-listen"
MAX_BODY_BYTES = 1024 * 1024


def _version() -> str:
    try:
        return version("tidewatch")
    except PackageNotFoundError:
        return "0.0.0"


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Tidewatch API",
        version=_version(),
        description="Fleet records, metrics history and live samples. Errors are RFC 9457 problems.",
        path=paths.OPENAPI,
        render_plugins=[SwaggerRenderPlugin(), TruthfulJsonRenderPlugin()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="twu_<key id>.<secret>",
                    description="A token from POST /api/auth/login",
                )
            }
        ),
        security=[{"bearer": []}],
    )


def create_app(
    settings: ApiSettings | None = None,
    dsn: str | None = None,
    install: InstallSettings | None = None,
    throttle: AuthThrottle | None = None,
    hashing: Callable[[], HashingPool] | None = None,
) -> Litestar:
    """Build the API. Nothing connects until the app's lifespan starts."""
    settings = settings or load_settings(ApiSettings, "TIDEWATCH_API_")
    install = install or load_settings(InstallSettings, INSTALL_PREFIX)
    dsn = dsn or resolve_dsn()
    conninfo = make_conninfo(dsn, **connect_kwargs(dsn, settings.db_connect_timeout_s))
    sessions = SessionCache()
    auth_changes = AuthChangeListener(sessions)
    live = LiveHub()
    command_updates = CommandUpdates()
    resources = Resources(
        settings=settings,
        dsn=dsn,
        sessions=sessions,
        auth_changes=auth_changes,
        live=live,
        install=install,
        command_updates=command_updates,
        listen=ListenLoop(
            conninfo,
            (auth_changes, live, command_updates),
            application_name=LISTEN_APPLICATION_NAME,
            log=logging.getLogger("tidewatch.api.listen"),
        ),
        throttle=throttle or AuthThrottle(),
        watch=WatchLeases(grace_s=settings.live_watch_grace_s),
        hashing_factory=hashing or HashingPool,
    )
    return Litestar(
        route_handlers=[
            AuthController,
            UsersController,
            AuditController,
            TokensController,
            VpsController,
            MetricsController,
            MetricExtrasController,
            StatusEventsController,
            HealthController,
            RulesController,
            ChannelsController,
            EventsController,
            SilencesController,
            DiskForecastController,
            VpsBillingController,
            FleetBillingController,
            live_socket,
            VpsCommandsController,
            CommandsController,
            command_socket,
            StatusPageController,
            StatusPageConfigController,
            SettingsController,
            AgentInstallController,
        ],
        dependencies={"db": Provide(provide_db)},
        middleware=[DefineMiddleware(BearerAuthMiddleware, exclude=[f"^{paths.OPENAPI}"])],
        exception_handlers=exception_handlers(),
        before_request=refuse_lenient_input,
        openapi_config=_openapi(),
        lifespan=[lifespan],
        state=State({"resources": resources}),
        request_max_body_size=MAX_BODY_BYTES,
    )
