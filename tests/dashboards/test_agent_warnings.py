"""Agent warnings on the fleet card and VPS page: a skewed clock and refused batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from common.api_models import VpsOut
from dashboards.components import agent_warnings, vps_header
from dashboards.fleet_render import fleet_cards
from dashboards.fleet_view import FleetGroup, fleet_row
from dashboards.live_ids import live_id


def _vps(**fields: object) -> VpsOut:
    now = datetime.now(UTC)
    base = {
        "id": 1,
        "name": "web",
        "ip_address": "",
        "labels": {},
        "created_at": now,
        "token_rotated_at": now,
    }
    return msgspec.convert({**base, "online": True, **fields}, VpsOut)


def _text(component: object) -> str:
    return str(component.to_plotly_json())  # type: ignore[attr-defined]


def _fleet_card(vps: VpsOut) -> str:
    """The VPS's card as the fleet page draws it."""
    (card,) = fleet_cards([FleetGroup(None, (fleet_row(vps),))], datetime.now(UTC))
    return _text(card)


def test_a_healthy_agent_has_no_warnings() -> None:
    vps = _vps(clock_offset_ms=1200)
    assert agent_warnings(vps) == []
    assert "tw-clock-skew" not in _fleet_card(vps) and "tw-alert" not in _text(vps_header(vps))


def test_skew_and_refused_batches_are_shown() -> None:
    vps = _vps(
        clock_offset_ms=-596_000,
        clock_skewed=True,
        clock_note="clock skewed by 9 min 56 s (ahead)",
        rejected_batches_total=2,
        last_rejection="snapshots[0].cpu_percent: 250.0 is not a percent",
    )
    assert agent_warnings(vps) == [
        "clock skewed by 9 min 56 s (ahead): its samples are stored at corrected times; fix its time sync (NTP)",
        "2 batches refused by the collector: snapshots[0].cpu_percent: 250.0 is not a percent",
    ]
    assert "clock skewed by 9 min 56 s (ahead)" in _fleet_card(vps)
    header = _text(vps_header(vps))
    assert "tw-alert-warning" in header and "2 batches refused" in header


def test_the_vps_header_badge_is_the_live_feeds_status_element() -> None:
    """assets/live_feed.js rewrites the badge with this id on pushed status changes."""
    header = vps_header(_vps(id=7, online=False))
    badges = [c for c in _walk(header) if getattr(c, "id", None) == live_id(7, "status")]
    assert len(badges) == 1
    assert badges[0].className == "tw-status tw-status-offline"
    assert "tw-dot" in _text(badges[0])  # the feed keeps this shape: a dot, then the word


def _walk(component: Any) -> list[Any]:
    children = getattr(component, "children", None)
    found = [component]
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found += _walk(child)
    return found
