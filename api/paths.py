"""Every URL path of the API, in one place."""

from __future__ import annotations

__all__ = [
    "AUDIT",
    "AUTH",
    "AUTH_LOGIN",
    "AUTH_LOGOUT",
    "AUTH_ME",
    "AUTH_REGISTER",
    "COMMANDS",
    "COMMAND_CANCEL",
    "COMMAND_ITEM",
    "COMMAND_ITEM_URL",
    "COMMAND_STREAM",
    "HEALTH",
    "LIVE",
    "METRICS_CONTAINERS",
    "METRICS_DISKIO",
    "METRICS_DISKS",
    "METRICS_HOST",
    "METRICS_NETWORK",
    "OPENAPI",
    "USERS",
    "USER_ITEM",
    "VPS",
    "VPS_AGENT",
    "VPS_BY_ID",
    "VPS_COMMANDS",
    "VPS_CONTAINERS",
    "VPS_CONTAINER_EVENTS",
    "VPS_ITEM",
    "VPS_METRICS",
    "VPS_ROTATE_TOKEN",
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

VPS = f"{API}/vps"
VPS_ITEM = "/{vps_id:int}"
VPS_ROTATE_TOKEN = "/{vps_id:int}/rotate-token"

VPS_METRICS = f"{VPS}/{{vps_id:int}}/metrics"
METRICS_HOST = "/host"
METRICS_NETWORK = "/network"
METRICS_DISKS = "/disks"
METRICS_DISKIO = "/diskio"
METRICS_CONTAINERS = "/containers"

VPS_BY_ID = f"{VPS}/{{vps_id:int}}"
VPS_COMMANDS = "/commands"
VPS_CONTAINERS = "/containers"
VPS_CONTAINER_EVENTS = "/containers/{container_id:str}/events"
VPS_AGENT = "/agent"
COMMANDS = f"{API}/commands"
COMMAND_ITEM = "/{command_id:str}"
COMMAND_CANCEL = "/{command_id:str}/cancel"
COMMAND_STREAM = f"{COMMANDS}/{{command_id:str}}/stream"
COMMAND_ITEM_URL = COMMANDS + "/{command_id}"
