"""Every URL path of the API, in one place."""

from __future__ import annotations

__all__ = [
    "AUDIT",
    "AUTH",
    "AUTH_LOGIN",
    "AUTH_LOGOUT",
    "AUTH_ME",
    "AUTH_REGISTER",
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
