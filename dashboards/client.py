"""The dashboards' only way to data: the Tidewatch API, with the user's own token."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import httpx
import msgspec

from common.api_models import (
    AuditEntry,
    DiskSeries,
    HostSeries,
    NetworkSeries,
    RegistrationAccepted,
    SessionOut,
    StatusEventOut,
    TokenCreated,
    TokenOut,
    UserOut,
    VpsCreated,
    VpsOut,
    VpsTokenRotated,
)
from common.api_models.alerts import (
    AlertSummary,
    BillingOut,
    ChannelOut,
    DeliveryOut,
    DiskForecast,
    EventOut,
    RuleOut,
    SilenceOut,
    TrafficFleetOut,
    TrafficQuotaOut,
    TrafficVpsOut,
)
from common.api_models.commands import AgentStateOut, CommandOut, CommandSummary, ContainerOut
from common.api_models.settings import ServerSettingsOut
from common.api_models.status_page import StatusPageConfigOut, StatusPageOut
from common.problems import Problem

__all__ = ["ApiClient", "ApiError"]

T = TypeVar("T")
TIMEOUT_S = 10.0


class ApiError(Exception):
    """A failed API call; ``detail`` is the problem's message, fit to show a user."""

    def __init__(self, status: int, detail: str, problem: Problem | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.problem = problem

    @property
    def unauthorized(self) -> bool:
        """The token is no longer valid: the user must sign in again."""
        return self.status == 401


class ApiClient:
    """A thread-safe client of one API base URL. Every call but login and
    register takes the caller's bearer token."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=TIMEOUT_S, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        result: type[T],
        token: str | None = None,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> T:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.request(
                method,
                path,
                headers=headers,
                params=params,
                content=msgspec.json.encode(body) if body is not None else None,
            )
        except httpx.HTTPError as exc:
            raise ApiError(503, f"the Tidewatch API is unreachable ({exc.__class__.__name__})") from exc
        if response.status_code >= 400:
            raise _error(response)
        if result is type(None):
            return None  # type: ignore[return-value]
        return msgspec.json.decode(response.content, type=result)

    def login(self, username: str, password: str) -> SessionOut:
        return self._call(
            "POST", "/api/auth/login", SessionOut, body={"username": username, "password": password}
        )

    def register(self, username: str, password: str) -> RegistrationAccepted:
        return self._call(
            "POST",
            "/api/auth/register",
            RegistrationAccepted,
            body={"username": username, "password": password},
        )

    def logout(self, token: str) -> None:
        self._call("POST", "/api/auth/logout", type(None), token)

    def list_vps(self, token: str) -> list[VpsOut]:
        return self._call("GET", "/api/vps", list[VpsOut], token)

    def get_vps(self, token: str, vps_id: int) -> VpsOut:
        return self._call("GET", f"/api/vps/{vps_id}", VpsOut, token)

    def create_vps(self, token: str, name: str, ip_address: str) -> VpsCreated:
        return self._call("POST", "/api/vps", VpsCreated, token, {"name": name, "ip_address": ip_address})

    def rotate_token(self, token: str, vps_id: int) -> VpsTokenRotated:
        return self._call("POST", f"/api/vps/{vps_id}/rotate-token", VpsTokenRotated, token)

    def delete_vps(self, token: str, vps_id: int) -> None:
        self._call("DELETE", f"/api/vps/{vps_id}", type(None), token)

    def host_metrics(self, token: str, vps_id: int, range_ms: int) -> HostSeries:
        return self._series(token, vps_id, "host", range_ms, HostSeries)

    def network_metrics(self, token: str, vps_id: int, range_ms: int) -> NetworkSeries:
        return self._series(token, vps_id, "network", range_ms, NetworkSeries)

    def disk_metrics(self, token: str, vps_id: int, range_ms: int) -> DiskSeries:
        return self._series(token, vps_id, "disks", range_ms, DiskSeries)

    def series_between(
        self, token: str, vps_id: int, kind: str, result: type[T], from_ms: int, to_ms: int, **params: Any
    ) -> T:
        """A range endpoint (``/metrics/<kind>``) over a fixed window; the API picks the resolution."""
        window = {"from": from_ms, "to": to_ms, **params}
        return self._call("GET", f"/api/vps/{vps_id}/metrics/{kind}", result, token, params=window)

    def status_events(self, token: str, vps_id: int, from_ms: int, to_ms: int) -> list[StatusEventOut]:
        """Online/offline events in the window, after the newest one before it."""
        params = {"from": from_ms, "to": to_ms}
        return self._call(
            "GET", f"/api/vps/{vps_id}/status-events", list[StatusEventOut], token, params=params
        )

    def alert_summary(self, token: str) -> AlertSummary:
        return self._call("GET", "/api/alerts/summary", AlertSummary, token)

    def alert_events(
        self,
        token: str,
        status: str = "all",
        limit: int = 100,
        vps_id: int | None = None,
        since: str | None = None,
    ) -> list[EventOut]:
        params: dict[str, Any] = {"status": status, "limit": limit}
        if vps_id is not None:
            params["vps_id"] = vps_id
        if since is not None:
            params["since"] = since
        return self._call("GET", "/api/alerts/events", list[EventOut], token, params=params)

    def disk_forecast(self, token: str, vps_id: int) -> list[DiskForecast]:
        return self._call("GET", f"/api/vps/{vps_id}/disk-forecast", list[DiskForecast], token)

    def acknowledge_event(self, token: str, event_id: int) -> EventOut:
        return self._call("POST", f"/api/alerts/events/{event_id}/ack", EventOut, token)

    def alert_rules(self, token: str) -> list[RuleOut]:
        return self._call("GET", "/api/alerts/rules", list[RuleOut], token)

    def create_alert_rule(self, token: str, body: dict[str, Any]) -> RuleOut:
        return self._call("POST", "/api/alerts/rules", RuleOut, token, body)

    def alert_channels(self, token: str) -> list[ChannelOut]:
        return self._call("GET", "/api/alerts/channels", list[ChannelOut], token)

    def create_alert_channel(self, token: str, body: dict[str, Any]) -> ChannelOut:
        return self._call("POST", "/api/alerts/channels", ChannelOut, token, body)

    def create_alert_silence(self, token: str, body: dict[str, Any]) -> SilenceOut:
        return self._call("POST", "/api/alerts/silences", SilenceOut, token, body)

    def test_channel(self, token: str, channel_id: int) -> DeliveryOut:
        return self._call("POST", f"/api/alerts/channels/{channel_id}/test", DeliveryOut, token)

    def alert_silences(self, token: str) -> list[SilenceOut]:
        return self._call("GET", "/api/alerts/silences", list[SilenceOut], token)

    def list_billing(self, token: str) -> list[BillingOut]:
        return self._call("GET", "/api/billing", list[BillingOut], token)

    def put_billing(self, token: str, vps_id: int, body: dict[str, Any]) -> BillingOut:
        return self._call("PUT", f"/api/vps/{vps_id}/billing", BillingOut, token, body)

    def put_traffic_quota(self, token: str, vps_id: int, body: dict[str, Any]) -> TrafficQuotaOut:
        return self._call("PUT", f"/api/vps/{vps_id}/traffic-quota", TrafficQuotaOut, token, body)

    def update_alert_rule(self, token: str, rule_id: int, body: dict[str, Any]) -> RuleOut:
        return self._call("PUT", f"/api/alerts/rules/{rule_id}", RuleOut, token, body)

    def delete_alert_rule(self, token: str, rule_id: int) -> None:
        self._call("DELETE", f"/api/alerts/rules/{rule_id}", type(None), token)

    def delete_alert_channel(self, token: str, channel_id: int) -> None:
        self._call("DELETE", f"/api/alerts/channels/{channel_id}", type(None), token)

    def delete_alert_silence(self, token: str, silence_id: int) -> None:
        self._call("DELETE", f"/api/alerts/silences/{silence_id}", type(None), token)

    def fleet_traffic(self, token: str) -> TrafficFleetOut:
        return self._call("GET", "/api/traffic", TrafficFleetOut, token)

    def vps_traffic(self, token: str, vps_id: int, cycles: int = 6) -> TrafficVpsOut:
        return self._call(
            "GET", f"/api/vps/{vps_id}/traffic", TrafficVpsOut, token, params={"cycles": cycles}
        )

    def containers(self, token: str, vps_id: int) -> list[ContainerOut]:
        return self._call("GET", f"/api/vps/{vps_id}/containers", list[ContainerOut], token)

    def agent_state(self, token: str, vps_id: int) -> AgentStateOut:
        return self._call("GET", f"/api/vps/{vps_id}/agent", AgentStateOut, token)

    def create_command(self, token: str, vps_id: int, body: dict[str, Any]) -> CommandOut:
        return self._call("POST", f"/api/vps/{vps_id}/commands", CommandOut, token, body)

    def get_command(self, token: str, command_id: str) -> CommandOut:
        return self._call("GET", f"/api/commands/{command_id}", CommandOut, token)

    def list_commands(self, token: str, vps_id: int, limit: int = 10) -> list[CommandSummary]:
        return self._call(
            "GET", f"/api/vps/{vps_id}/commands", list[CommandSummary], token, params={"limit": limit}
        )

    # Admin pages: users, personal API tokens, the audit log.
    def list_users(self, token: str) -> list[UserOut]:
        return self._call("GET", "/api/users", list[UserOut], token)

    def create_user(self, token: str, username: str, password: str, role: str) -> UserOut:
        body = {"username": username, "password": password, "role": role}
        return self._call("POST", "/api/users", UserOut, token, body)

    def update_user(self, token: str, user_id: int, changes: dict[str, Any]) -> UserOut:
        return self._call("PATCH", f"/api/users/{user_id}", UserOut, token, changes)

    def list_tokens(self, token: str) -> list[TokenOut]:
        return self._call("GET", "/api/tokens", list[TokenOut], token)

    def list_all_tokens(self, token: str) -> list[TokenOut]:
        return self._call("GET", "/api/tokens/all", list[TokenOut], token)

    def create_token(self, token: str, name: str, expires_in_days: int) -> TokenCreated:
        body = {"name": name, "expires_in_days": expires_in_days}
        return self._call("POST", "/api/tokens", TokenCreated, token, body)

    def revoke_token(self, token: str, token_id: int) -> None:
        self._call("DELETE", f"/api/tokens/{token_id}", type(None), token)

    def audit_log(self, token: str, filters: dict[str, Any]) -> list[AuditEntry]:
        """``filters``: any of user_id, vps_id, action, before_id, limit (None values are left out)."""
        params = {key: value for key, value in filters.items() if value is not None}
        return self._call("GET", "/api/audit", list[AuditEntry], token, params=params)

    def status_page(self) -> StatusPageOut:
        """The public status page: no token (404 while it is turned off)."""
        return self._call("GET", "/api/status-page", StatusPageOut)

    def status_page_config(self, token: str) -> StatusPageConfigOut:
        return self._call("GET", "/api/status-page/config", StatusPageConfigOut, token)

    def put_status_page_config(self, token: str, body: dict[str, Any]) -> StatusPageConfigOut:
        return self._call("PUT", "/api/status-page/config", StatusPageConfigOut, token, body)

    def get_settings(self, token: str) -> ServerSettingsOut:
        return self._call("GET", "/api/settings", ServerSettingsOut, token)

    def update_settings(self, token: str, body: dict[str, Any]) -> ServerSettingsOut:
        return self._call("PATCH", "/api/settings", ServerSettingsOut, token, body)

    def _series(self, token: str, vps_id: int, kind: str, range_ms: int, result: type[T]) -> T:
        # Only "from": the API ends the range at its own now, and picks the resolution.
        return self._call(
            "GET", f"/api/vps/{vps_id}/metrics/{kind}", result, token, params={"from": _from_ms(range_ms)}
        )


def _from_ms(range_ms: int) -> int:
    return int(time.time() * 1000) - range_ms


def _error(response: httpx.Response) -> ApiError:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            problem = msgspec.json.decode(response.content, type=Problem)
        except msgspec.DecodeError:
            pass
        else:
            return ApiError(response.status_code, problem.detail or problem.title, problem)
    return ApiError(response.status_code, f"the API answered {response.status_code} {response.reason_phrase}")
