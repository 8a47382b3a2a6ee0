"""The status page's formatting and the admin form's request body: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from common.api_models.status_page import (
    StatusGroupIn,
    StatusGroupOut,
    StatusPageConfigOut,
    StatusPageOut,
    StatusServerIn,
    StatusServerOut,
)
from dashboards.status_format import (
    AdminRow,
    admin_rows,
    config_body,
    format_uptime,
    status_summary,
    uptime_level,
)

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _server(name: str, online: bool) -> StatusServerOut:
    return StatusServerOut(name, online, 100.0, 99.5, 90.0, 0.5 if online else None, 12.0 if online else None)


def test_uptime_is_rounded_down_so_an_outage_never_shows_as_100() -> None:
    assert format_uptime(100.0) == "100%"
    assert format_uptime(99.9999) == "99.99%"
    assert format_uptime(99.99999999999999) == "100%"  # float noise, not an outage
    assert format_uptime(99.0) == "99.00%"
    assert format_uptime(98.76) == "98.7%"
    assert format_uptime(0.0) == "0.0%"
    assert format_uptime(None) == "—"


def test_uptime_levels() -> None:
    assert [uptime_level(p) for p in (100.0, 99.0, 98.9, 95.0, 94.9, None)] == [
        "ok", "ok", "warn", "warn", "bad", "none",
    ]  # fmt: skip


def test_the_headline_counts_servers_down() -> None:
    def page(*servers: StatusServerOut) -> StatusPageOut:
        return StatusPageOut("S", NOW, [StatusGroupOut("g", list(servers))])

    assert status_summary(page(_server("a", True), _server("b", True))) == ("All systems operational", "ok")
    assert status_summary(page(_server("a", True), _server("b", False))) == ("1 of 2 servers down", "bad")
    assert status_summary(StatusPageOut("S", NOW, [])) == ("No servers are listed yet", "none")


def test_the_form_lists_shown_servers_in_page_order_then_the_rest_by_name() -> None:
    config = StatusPageConfigOut(
        enabled=True,
        title="T",
        groups=[
            StatusGroupIn("Web", [StatusServerIn(5, "Shop"), StatusServerIn(3)]),
            StatusGroupIn("Gone", [StatusServerIn(99)]),  # deleted since: dropped
        ],
        updated_at=NOW,
    )
    fleet = [(1, "zeta"), (3, "beta"), (5, "alpha"), (7, "gamma")]
    assert admin_rows(config, fleet) == [
        AdminRow(5, "alpha", True, "Web", "Shop"),
        AdminRow(3, "beta", True, "Web", ""),
        AdminRow(7, "gamma", False, "Servers", ""),
        AdminRow(1, "zeta", False, "Servers", ""),
    ]


def test_the_body_groups_shown_servers_in_first_seen_order() -> None:
    rows = [
        AdminRow(5, "", True, " Web ", " Shop "),
        AdminRow(3, "", True, "Data", ""),
        AdminRow(7, "", False, "Web", "ignored"),
        AdminRow(9, "", True, "Web", ""),
        AdminRow(11, "", True, "", ""),
    ]
    assert config_body(True, "  ", rows) == {
        "enabled": True,
        "title": "Service status",
        "groups": [
            {"title": "Web", "servers": [{"vps_id": 5, "display_name": "Shop"}, {"vps_id": 9}]},
            {"title": "Data", "servers": [{"vps_id": 3}]},
            {"title": "Servers", "servers": [{"vps_id": 11}]},
        ],
    }
