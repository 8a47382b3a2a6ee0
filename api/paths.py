"""Every URL path of the API, in one place."""

from __future__ import annotations

from common.install import INSTALL_SCRIPT_PATH

__all__ = [
    "AGENT_INSTALL_SCRIPT",
    "AGENT_WHEEL",
    "ALERTS",
    "ALERT_CHANNELS",
    "ALERT_CHANNEL_ITEM",
    "ALERT_CHANNEL_TEST",
    "ALERT_DELIVERY_ITEM",
    "ALERT_EVENTS",
    "ALERT_EVENT_ACK",
    "ALERT_EVENT_ITEM",
    "ALERT_RULES",
    "ALERT_RULE_ITEM",
    "ALERT_SILENCES",
    "ALERT_SILENCE_ITEM",
    "ALERT_SUMMARY",
    "API",
    "AUDIT",
    "AUTH",
    "AUTH_LOGIN",
    "AUTH_LOGOUT",
    "AUTH_ME",
    "AUTH_REGISTER",
    "BILLING",
    "COMMANDS",
    "COMMAND_CANCEL",
    "COMMAND_ITEM",
    "COMMAND_ITEM_URL",
    "COMMAND_STREAM",
    "HEALTH",
    "LIVE",
    "METRICS_CONTAINERS",
    "METRICS_CPU_CORES",
    "METRICS_CUSTOM",
    "METRICS_DISKIO",
    "METRICS_DISKS",
    "METRICS_HOST",
    "METRICS_NETWORK",
    "METRICS_TEMPERATURES",
    "OPENAPI",
    "SETTINGS",
    "STATUS_PAGE",
    "STATUS_PAGE_CONFIG",
    "TOKENS",
    "TOKENS_ALL",
    "TOKEN_ITEM",
    "TRAFFIC",
    "USERS",
    "USER_ITEM",
    "VPS",
    "VPS_AGENT",
    "VPS_BILLING",
    "VPS_BY_ID",
    "VPS_COMMANDS",
    "VPS_CONTAINERS",
    "VPS_CONTAINER_EVENTS",
    "VPS_DISK_FORECAST",
    "VPS_ITEM",
    "VPS_METRICS",
    "VPS_ROTATE_TOKEN",
    "VPS_STATUS_EVENTS",
    "VPS_TRAFFIC",
    "VPS_TRAFFIC_QUOTA",
]

API = "/api"
OPENAPI = "/schema"
HEALTH = f"{API}/health"
LIVE = f"{API}/live"

AUTH = f"{API}/auth"
AUTH_REGISTER = "/register"
AUTH_LOGIN = "/login"
AUTH_LOGOUT = "/logout"
AUTH_ME = "/me"

USERS = f"{API}/users"
USER_ITEM = "/{user_id:int}"
AUDIT = f"{API}/audit"
TOKENS = f"{API}/tokens"
TOKENS_ALL = "/all"
TOKEN_ITEM = "/{token_id:int}"

VPS = f"{API}/vps"
VPS_ITEM = "/{vps_id:int}"
VPS_ROTATE_TOKEN = "/{vps_id:int}/rotate-token"

VPS_METRICS = f"{VPS}/{{vps_id:int}}/metrics"
METRICS_HOST = "/host"
METRICS_NETWORK = "/network"
METRICS_DISKS = "/disks"
METRICS_DISKIO = "/diskio"
METRICS_CONTAINERS = "/containers"
METRICS_CPU_CORES = "/cpu-cores"
METRICS_TEMPERATURES = "/temperatures"
METRICS_CUSTOM = "/custom"

ALERTS = f"{API}/alerts"
ALERT_RULES = f"{ALERTS}/rules"
ALERT_RULE_ITEM = "/{rule_id:int}"
ALERT_CHANNELS = f"{ALERTS}/channels"
ALERT_CHANNEL_ITEM = "/{channel_id:int}"
ALERT_CHANNEL_TEST = "/{channel_id:int}/test"
ALERT_DELIVERY_ITEM = "/deliveries/{delivery_id:int}"  # under ALERTS
ALERT_SILENCES = f"{ALERTS}/silences"
ALERT_SILENCE_ITEM = "/{silence_id:int}"
# Under ALERTS:
ALERT_EVENTS = "/events"
ALERT_EVENT_ITEM = "/events/{event_id:int}"
ALERT_EVENT_ACK = "/events/{event_id:int}/ack"
ALERT_SUMMARY = "/summary"
VPS_BILLING = "/{vps_id:int}/billing"
VPS_TRAFFIC_QUOTA = "/{vps_id:int}/traffic-quota"
VPS_TRAFFIC = "/{vps_id:int}/traffic"
# Under API:
TRAFFIC = "/traffic"
BILLING = "/billing"
VPS_DISK_FORECAST = "/{vps_id:int}/disk-forecast"
VPS_BY_ID = f"{VPS}/{{vps_id:int}}"
VPS_STATUS_EVENTS = "/status-events"  # under VPS_BY_ID
VPS_COMMANDS = "/commands"
VPS_CONTAINERS = "/containers"
VPS_CONTAINER_EVENTS = "/containers/{container_id:str}/events"
VPS_AGENT = "/agent"
COMMANDS = f"{API}/commands"
COMMAND_ITEM = "/{command_id:str}"
COMMAND_CANCEL = "/{command_id:str}/cancel"
COMMAND_STREAM = f"{COMMANDS}/{{command_id:str}}/stream"
COMMAND_ITEM_URL = COMMANDS + "/{command_id}"
STATUS_PAGE = f"{API}/status-page"
STATUS_PAGE_CONFIG = f"{STATUS_PAGE}/config"

SETTINGS = f"{API}/settings"
# Served to VPSes without a login: the one-line install fetches both.
AGENT_INSTALL_SCRIPT = INSTALL_SCRIPT_PATH
AGENT_WHEEL = "/agent/tidewatch-agent.whl"
