"""Patching the fleet's live values instead of redrawing it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from dash import Patch

from dashboards.fleet_patch import plan_draw
from dashboards.fleet_render import fleet_cards, fleet_table
from dashboards.fleet_view import FleetGroup, FleetRow

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _row(cpu: float, name: str = "web-1", online: bool = True) -> FleetRow:
    return FleetRow(
        id=1, name=name, hostname="web-1.example.net", system="", ip_address="192.0.2.1",
        labels={"env": "prod"}, online=online, has_data=True, cpu_percent=cpu, load_1=0.5,
        memory_used_bytes=2, memory_total_bytes=8, disk_used_bytes=1, disk_total_bytes=4,
        net_rx_bytes_per_second=100.0, net_tx_bytes_per_second=50.0, uptime_seconds=90_000,
    )  # fmt: skip


def _cards(*rows: FleetRow) -> Any:
    return fleet_cards([FleetGroup(None, rows)], NOW)


def _assigned(patch: Any) -> dict[tuple[Any, ...], Any]:
    assert isinstance(patch, Patch)
    return {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}


def _drawn(cards: Any) -> Any:
    return msgspec.to_builtins(plan_draw(cards, None)[1])


def test_the_first_draw_sends_everything() -> None:
    cards = _cards(_row(10.0))
    sent, _, touched = plan_draw(cards, None)
    assert sent is cards and touched == -1


def test_the_same_draw_touches_nothing() -> None:
    _, _, touched = plan_draw(_cards(_row(10.0)), _drawn(_cards(_row(10.0))))
    assert touched == 0


def test_a_new_cpu_value_patches_only_its_meter() -> None:
    patch, _, touched = plan_draw(
        _cards(_row(95.0), _row(5.0, "web-2")), _drawn(_cards(_row(10.0), _row(5.0, "web-2")))
    )
    assert touched == 1
    assigned = _assigned(patch)
    assert {location[0] for location in assigned} == {0}  # the first card only
    assert any(value == {"--tw-fill": "95.0%"} for value in assigned.values())
    assert any("tw-fill-critical" in str(value) for value in assigned.values())
    assert "95.0%" in str(assigned)


def test_a_table_cell_is_patched_in_place() -> None:
    before = fleet_table([FleetGroup(None, (_row(10.0),))], NOW)
    after = fleet_table([FleetGroup(None, (_row(20.0),))], NOW)
    patch, _, touched = plan_draw(after, msgspec.to_builtins(plan_draw(before, None)[1]))
    assert touched == 1
    assert (
        _assigned(patch)[
            ("props", "children", 1, "props", "children", 0, "props", "children", 3, "props", "children")
        ]
        == "20.0%"
    )


def test_a_new_name_or_status_redraws() -> None:
    # Going offline dims the whole card (its class): a rare event, so a full draw.
    _, _, touched = plan_draw(_cards(_row(10.0, online=False)), _drawn(_cards(_row(10.0))))
    assert touched == -1
    renamed = _cards(_row(10.0, "web-9"))
    sent, _, touched = plan_draw(renamed, _drawn(_cards(_row(10.0))))
    assert touched == -1 and sent is renamed
