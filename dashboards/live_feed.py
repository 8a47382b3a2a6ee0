"""The browser's live feed: where it connects, and how a page hands it its subscription.

The feed itself is ``assets/live_feed.js``: one WebSocket per tab to the API's
``/api/live``, authenticated with the session token as a first message (so it is
never in a URL or an access log), reconnecting with jittered backoff, and writing
pushed samples into the page with ``dash_clientside.set_props``. A page puts a
``dcc.Store`` with :func:`feed_config` in its layout and calls
:func:`register_feed` once; the feed closes when that store leaves the page.

A small asset rather than a WebSocket component: the samples go straight from the
socket to ``set_props`` with no callback round trip per message, the feed keeps one
socket across the page's components, and no further dependency is needed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dash import ClientsideFunction, Input, Output, State, clientside_callback

from common.settings import DashboardSettings

__all__ = ["LIVE_PATH", "feed_config", "live_socket_url", "register_feed"]

LIVE_PATH = "/api/live"
_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def live_socket_url(api_url: str) -> str:
    """The WebSocket URL of ``/api/live`` on the API at ``api_url``: ``https://h/x`` →
    ``wss://h/x/api/live``."""
    parts = urlsplit(api_url.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"public_api_url / api_url must be an http(s) URL, not {api_url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + LIVE_PATH, "", ""))


def feed_config(
    settings: DashboardSettings,
    view: str,
    root_id: str,
    status_id: str,
    vps_ids: list[int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What a page's store hands the feed: the socket URL, the view that renders samples,
    the element whose presence keeps the feed open, and the subscription (``vps_ids``, or
    the whole fleet when None). Watch mode is always asked for; the API decides."""
    return {
        "url": live_socket_url(settings.public_api_url or settings.api_url),
        "view": view,
        "root": root_id,
        "status": status_id,
        "subscribe": {"vps_ids": vps_ids or [], "all": vps_ids is None, "watch": True},
        **extra,
    }


def register_feed(config_id: str, status_id: str) -> None:
    """Start (or re-aim) the feed whenever the page's config store is rendered."""
    clientside_callback(
        ClientsideFunction("tidewatch", "configureLive"),
        Output(status_id, "title"),
        Input(config_id, "data"),
        State("app-session", "data"),
    )
