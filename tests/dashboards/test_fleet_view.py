"""The fleet page's pure logic: label parsing, search, sort, group, pages, the URL,
and the renderers' live ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec
import pytest

from common.api_models import VpsOut
from dashboards.fleet_controls import drawn_digest, encode_rows, group_options
from dashboards.fleet_render import fleet_cards, fleet_table
from dashboards.fleet_view import (
    FleetGroup,
    FleetQuery,
    FleetRow,
    LabelSelector,
    apply_query,
    fleet_row,
    group_rows,
    label_keys,
    label_pairs,
    matches_search,
    page_of,
    parse_label_filter,
    query_from_params,
    query_string,
    sort_rows,
)
from dashboards.live_ids import live_id

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _row(vps_id: int, name: str, **fields: Any) -> FleetRow:
    base: dict[str, Any] = {
        "id": vps_id,
        "name": name,
        "hostname": f"{name}.example.net",
        "system": "",
        "ip_address": f"192.0.2.{vps_id}",
        "labels": {},
        "online": True,
        "has_data": True,
    }
    return FleetRow(**{**base, **fields})


def _names(rows: Any) -> list[str]:
    return [row.name for row in rows]


FLEET = [
    _row(1, "web-1", labels={"env": "prod", "role": "web"}, cpu_percent=20.0, memory_used_bytes=6,
         memory_total_bytes=8, disk_used_bytes=10, disk_total_bytes=100, net_rx_bytes_per_second=500.0),
    _row(2, "web-2", labels={"env": "staging", "role": "web"}, cpu_percent=90.0, memory_used_bytes=1,
         memory_total_bytes=8, disk_used_bytes=90, disk_total_bytes=100, net_tx_bytes_per_second=4000.0),
    _row(3, "db-1", labels={"env": "prod", "role": "db"}, hostname="pg.internal", cpu_percent=55.0,
         memory_used_bytes=7, memory_total_bytes=8, disk_used_bytes=50, disk_total_bytes=100,
         net_rx_bytes_per_second=1000.0, net_tx_bytes_per_second=1000.0),
    _row(4, "Cache", labels={"gpu": ""}, online=False, has_data=False),
]  # fmt: skip


# --- Label filter -----------------------------------------------------------------------------


def test_label_filter_parses_pairs_keys_and_spaces() -> None:
    parsed = parse_label_filter(" env = prod,role=web,, gpu ,env=prod")
    assert parsed.selectors == (
        LabelSelector("env", "prod"),
        LabelSelector("role", "web"),
        LabelSelector("gpu"),
    )
    assert parsed.errors == ()


def test_label_filter_keeps_an_equals_sign_inside_a_value_and_an_empty_value() -> None:
    parsed = parse_label_filter("query=a=b, note=")
    assert parsed.selectors == (LabelSelector("query", "a=b"), LabelSelector("note", ""))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("=prod", "the label key is missing"),
        ("my env=prod", "a label key is 1-63 letters"),
        ("k" * 64 + "=v", "a label key is 1-63 letters"),
    ],
)
def test_label_filter_names_each_bad_term(text: str, message: str) -> None:
    parsed = parse_label_filter(f"role=web, {text}")
    assert parsed.selectors == (LabelSelector("role", "web"),)
    assert len(parsed.errors) == 1 and message in parsed.errors[0] and text.split("=")[0] in parsed.errors[0]


def test_one_key_is_any_of_its_values_and_keys_must_all_match() -> None:
    assert _names(r for r in FLEET if parse_label_filter("env=prod").matches(r.labels)) == ["web-1", "db-1"]
    either = parse_label_filter("env=prod, env=staging")
    assert _names(r for r in FLEET if either.matches(r.labels)) == ["web-1", "web-2", "db-1"]
    both = parse_label_filter("env=prod, role=web")
    assert _names(r for r in FLEET if both.matches(r.labels)) == ["web-1"]
    assert _names(r for r in FLEET if parse_label_filter("gpu").matches(r.labels)) == ["Cache"]
    assert _names(r for r in FLEET if parse_label_filter("gpu=yes").matches(r.labels)) == []
    assert all(parse_label_filter("").matches(r.labels) for r in FLEET)


def test_label_suggestions_and_group_keys_come_from_the_fleet() -> None:
    assert label_pairs(FLEET) == ["env=prod", "env=staging", "gpu=", "role=db", "role=web"]
    assert label_keys(FLEET) == ["env", "gpu", "role"]
    assert group_options(FLEET, "zone")[-1] == {"label": "zone", "value": "zone"}
    assert [o["value"] for o in group_options(FLEET, "env")] == ["env", "gpu", "role"]


# --- Search, sort, group, page -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["web-1", "web-2", "db-1", "Cache"]),
        ("WEB", ["web-1", "web-2"]),
        ("pg.internal", ["db-1"]),  # host name
        ("192.0.2.2", ["web-2"]),  # address
        ("env=staging", ["web-2"]),  # a label, as key=value
        ("prod web", ["web-1"]),  # every word must match
        ("nothing-like-this", []),
    ],
)
def test_search_reads_name_host_address_and_labels(text: str, expected: list[str]) -> None:
    assert _names(r for r in FLEET if matches_search(r, text)) == expected


def test_sort_by_name_ignores_case_and_metrics_put_the_busiest_first() -> None:
    assert _names(sort_rows(FLEET, "name")) == ["Cache", "db-1", "web-1", "web-2"]
    assert _names(sort_rows(FLEET, "cpu")) == ["web-2", "db-1", "web-1", "Cache"]
    assert _names(sort_rows(FLEET, "memory")) == ["db-1", "web-1", "web-2", "Cache"]
    assert _names(sort_rows(FLEET, "disk")) == ["web-2", "db-1", "web-1", "Cache"]
    # rx + tx: 4000 (tx only), 2000, 500; no traffic reported goes last.
    assert _names(sort_rows(FLEET, "network")) == ["web-2", "db-1", "web-1", "Cache"]


def test_equal_metrics_keep_the_name_order() -> None:
    rows = [_row(1, "b", cpu_percent=5.0), _row(2, "a", cpu_percent=5.0), _row(3, "c", cpu_percent=9.0)]
    assert _names(sort_rows(rows, "cpu")) == ["c", "a", "b"]


def test_group_by_a_label_orders_groups_and_puts_the_unlabelled_last() -> None:
    groups = group_rows(sort_rows(FLEET, "cpu"), "env")
    assert [(g.title, _names(g.rows)) for g in groups] == [
        ("env=prod", ["db-1", "web-1"]),
        ("env=staging", ["web-2"]),
        ("no env label", ["Cache"]),
    ]
    assert group_rows(FLEET, "") == [FleetGroup(None, tuple(FLEET))]


def test_pages_cut_across_groups_and_clamp_the_number() -> None:
    groups = group_rows(sort_rows(FLEET, "name"), "role")  # db: db-1; web: web-1, web-2; none: Cache
    second = page_of(groups, 2, 2)
    assert [(g.title, _names(g.rows)) for g in second.groups] == [
        ("role=web", ["web-2"]),
        ("no role label", ["Cache"]),
    ]
    assert (second.number, second.pages, second.first, second.last, second.total) == (2, 2, 3, 4, 4)
    assert page_of(groups, 99, 2).number == 2
    assert page_of(groups, 0, 2).number == 1
    empty = page_of([FleetGroup(None, ())], 3, 10)
    assert (empty.number, empty.pages, empty.first, empty.last, empty.total, empty.groups) == (
        1,
        1,
        0,
        0,
        0,
        [],
    )


def test_apply_query_searches_filters_sorts_and_groups() -> None:
    query = FleetQuery(search="web", sort="cpu", group="env")
    groups = apply_query(FLEET, query, parse_label_filter("role=web"))
    assert [(g.title, _names(g.rows)) for g in groups] == [
        ("env=prod", ["web-1"]),
        ("env=staging", ["web-2"]),
    ]


# --- The URL ----------------------------------------------------------------------------------


def test_a_view_survives_the_round_trip_through_its_url() -> None:
    query = FleetQuery(
        view="table",
        search="web db",
        labels="env=prod, role=a&b",
        sort="disk",
        group="env",
        page=3,
        per_page=50,
    )
    text = query_string(query)
    assert (
        text == "?view=table&q=web+db&label=env%3Dprod%2C+role%3Da%26b&sort=disk&group=env&page=3&per_page=50"
    )
    params = {key: values[0] for key, values in parse_qs(text[1:]).items()}
    assert query_from_params(params) == query


def test_the_default_view_has_an_empty_query() -> None:
    assert query_string(FleetQuery()) == ""
    assert query_from_params({}) == FleetQuery()


def test_a_bad_url_falls_back_to_defaults_instead_of_failing() -> None:
    params: dict[str, str | list[str]] = {
        "view": "grid",
        "sort": "price",
        "group": "not a key",
        "page": "-2",
        "per_page": "5",
        "q": "x" * 5000,
        "label": ["env=prod", "role=web"],  # a repeated parameter
    }
    query = query_from_params(params)
    assert (query.view, query.sort, query.group, query.page, query.per_page) == (None, "name", "", 1, None)
    assert len(query.search) == 256
    assert query.labels == "env=prod,role=web"


# --- Rows and renderers -----------------------------------------------------------------------


def test_a_vps_becomes_a_compact_row_that_survives_the_browser_store() -> None:
    vps = msgspec.convert(
        {
            "id": 7, "name": "web", "ip_address": "203.0.113.7", "labels": {"env": "prod"},
            "created_at": NOW, "token_rotated_at": NOW, "online": True, "last_seen": NOW,
            "hostname": "web.example.net", "os_name": "Debian", "os_version": "12",
            "latest": {"time": NOW, "cpu_percent": 12.5, "memory_used_bytes": 2, "memory_total_bytes": 8,
                       "swap_used_bytes": 0, "swap_total_bytes": 0, "load_1": 0.5, "uptime_seconds": 60,
                       "disk_used_bytes": 30, "disk_total_bytes": 120, "net_rx_bytes_per_second": 10.0},
        },
        VpsOut,
    )  # fmt: skip
    row = fleet_row(vps, ("renews in 3 days", True))
    assert row.system == "web.example.net · Debian 12"
    assert (row.memory_percent, row.disk_percent, row.net_bytes_per_second) == (25.0, 25.0, 10.0)
    assert row.last_seen_ms == int(NOW.timestamp() * 1000)
    assert (row.expiry_text, row.expiry_urgent) == ("renews in 3 days", True)
    stored = msgspec.json.decode(msgspec.json.encode(encode_rows([row])))
    assert isinstance(stored[0], list)  # arrays, not objects: half the bytes
    assert msgspec.convert(stored, list[FleetRow]) == [row]


def _json(component: Any) -> Any:
    return component.to_plotly_json() if hasattr(component, "to_plotly_json") else component


def _ids(component: Any) -> Iterator[Any]:
    data = _json(component)
    if isinstance(data, dict):
        props = data.get("props", {})
        if "id" in props:
            yield props["id"]
        yield from _ids(props.get("children"))
    elif isinstance(data, list | tuple):
        for child in data:
            yield from _ids(child)


CARD_FIELDS = ("status", "cpu", "cpu-bar", "cpu-detail", "memory", "memory-bar", "memory-detail", "net")
# The table has the values, not the bars and detail lines.
TABLE_FIELDS = ("status", "cpu", "memory", "net")


@pytest.mark.parametrize(("view", "fields"), [("cards", CARD_FIELDS), ("table", TABLE_FIELDS)])
def test_both_views_carry_the_live_feeds_ids_once_per_server_and_field(
    view: str, fields: tuple[str, ...]
) -> None:
    groups = group_rows(FLEET[:3], "env")
    body = fleet_cards(groups, NOW) if view == "cards" else fleet_table(groups, NOW)
    live = [i for i in _ids(body) if isinstance(i, dict) and i.get("type") == "fleet-live"]
    expected = [live_id(r.id, field) for r in (FLEET[2], FLEET[0], FLEET[1]) for field in fields]
    assert sorted(map(str, live)) == sorted(map(str, expected))
    text = str(_json(body))
    assert "env=prod" in text and "55.0%" in text and "↓ 1000 B/s  ↑ 1000 B/s" in text


def test_a_server_without_data_shows_how_to_start_its_agent() -> None:
    card = fleet_cards([FleetGroup(None, (FLEET[3],))], NOW)[0]
    # Its traffic slot shows the address until a pushed value replaces it; no meters yet
    # (the live feed re-reads the fleet when a server without them reports).
    assert list(_ids(card)) == [live_id(4, "status"), live_id(4, "net")]
    assert "No data yet" in str(_json(card)) and "192.0.2.4" in str(_json(card))
    row_text = str(_json(fleet_table([FleetGroup(None, (FLEET[3],))], NOW)))
    assert "seen never" in row_text and "—" in row_text


def _components(component: Any) -> int:
    data = _json(component)
    if isinstance(data, dict):
        return 1 + _components(data.get("props", {}).get("children"))
    if isinstance(data, list | tuple):
        return sum(_components(child) for child in data)
    return 0  # text costs the renderer nothing of its own


def test_cards_and_rows_stay_lean_because_the_renderer_pays_per_component() -> None:
    # bench/fleet_render.py: Dash's renderer re-runs a selector per component on every
    # store change, so these counts, times the page size, set the cost of each update.
    # A card's meters keep the bar and detail elements the live feed sets (5 each).
    row = FLEET[0]
    assert _components(fleet_cards([FleetGroup(None, (row,))], NOW)[0]) <= 23
    one, two = (_components(fleet_table([FleetGroup(None, (row,) * n)], NOW)) for n in (1, 2))
    assert two - one <= 12


def test_an_equal_draw_has_the_same_digest_and_a_new_value_another() -> None:
    def draw(cpu: float) -> Any:
        row = msgspec.structs.replace(FLEET[0], cpu_percent=cpu)
        return fleet_cards([FleetGroup(None, (row, FLEET[1]))], NOW)

    assert drawn_digest(draw(20.0)) == drawn_digest(draw(20.0))
    assert drawn_digest(draw(20.0)) != drawn_digest(draw(20.1))
    table = fleet_table([FleetGroup(None, (FLEET[0],))], NOW)
    assert drawn_digest(table) != drawn_digest(draw(20.0))
