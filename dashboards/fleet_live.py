"""The fleet page's live numbers: each card's status, CPU, memory and network, set in
place from pushed samples (``assets/live_feed.js``) instead of re-reading the fleet
every second. The elements are found by :func:`dashboards.live_ids.live_id`.
"""

from __future__ import annotations

from dash import dcc, html

from dashboards.components import CRITICAL_PERCENT, WARN_PERCENT
from dashboards.context import settings
from dashboards.live_feed import feed_config, register_feed

__all__ = ["RESYNC_MS", "fleet_live_feed"]

ROOT = "fleet-live"
CONFIG = "fleet-live-config"
STATUS = "fleet-live-status"
# The whole fleet is re-read this often, for servers added, removed or gone offline.
RESYNC_MS = 60_000


def fleet_live_feed(resync_interval_id: str) -> html.Div:
    """The feed's store and a status chip, for the fleet page's head. The feed ticks
    ``resync_interval_id`` to re-read the fleet when a server without cards' meters
    (no report before) starts reporting."""
    config = feed_config(
        settings(),
        "fleet",
        ROOT,
        STATUS,
        None,
        levels=[WARN_PERCENT, CRITICAL_PERCENT],
        resync=resync_interval_id,
    )
    return html.Div(
        [dcc.Store(id=CONFIG, data=config), html.Span("connecting…", id=STATUS, className="tw-live-status")],
        id=ROOT,
        className="tw-live-chip",
    )


register_feed(CONFIG, STATUS)
