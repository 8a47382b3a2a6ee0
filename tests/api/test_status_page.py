"""The public status page through the API: off by default, admin-configured, uptime
from real status events, nothing private in it, and one query per cache period."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from api.resources import get_resources
from api.status_page.cache import TimedCache
from common.settings import ApiSettings
from tests.api.conftest import SignedIn, assert_problem, fresh_database, roomy_throttle, unique
from tests.conftest import drop_test_database

pytestmark = pytest.mark.db

PAGE = "/api/status-page"
CONFIG = "/api/status-page/config"


def _insert_vps(db: psycopg.Connection[DictRow], created_days_ago: float, online: bool) -> dict[str, Any]:
    row = db.execute(
        "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, hostname, labels, online, created_at,"
        " ip_addresses) VALUES (%s, '203.0.113.99', %s, 'x', %s, '{\"team\": \"secret-team\"}', %s,"
        " now() - make_interval(secs => %s), '{198.51.100.77}') RETURNING id, name, hostname",
        (unique("private-name"), unique("k"), unique("private-host"), online, created_days_ago * 86400),
    ).fetchone()
    assert row is not None
    return row


def _event(db: psycopg.Connection[DictRow], vps_id: int, hours_ago: float, status: str) -> None:
    db.execute(
        "INSERT INTO vps_status_events (vps_id, time, status) VALUES (%s, now() - make_interval(secs => %s), %s)",
        (vps_id, hours_ago * 3600, status),
    )


async def _put(client: AsyncTestClient[Litestar], admin: SignedIn, body: dict[str, Any]) -> Any:
    return await client.put(CONFIG, json=body, headers=admin.headers)


async def test_the_page_is_off_on_a_new_database() -> None:
    dsn = fresh_database()
    try:
        async with AsyncTestClient(app=create_app(ApiSettings(), dsn, throttle=roomy_throttle())) as fresh:
            assert_problem(await fresh.get(PAGE), 404)
    finally:
        drop_test_database(dsn)


async def test_only_admins_configure_it(
    client: AsyncTestClient[Litestar], operator: SignedIn, viewer: SignedIn
) -> None:
    assert_problem(await client.get(CONFIG), 401)
    for user in (operator, viewer):
        assert_problem(await client.get(CONFIG, headers=user.headers), 403)
        assert_problem(await client.put(CONFIG, json={"enabled": True}, headers=user.headers), 403)


async def test_visitors_see_state_uptime_and_load_and_nothing_private(
    client: AsyncTestClient[Litestar], admin: SignedIn, db: psycopg.Connection[DictRow]
) -> None:
    old = _insert_vps(db, created_days_ago=40, online=True)
    _event(db, old["id"], 40 * 24, "online")
    _event(db, old["id"], 12, "offline")
    _event(db, old["id"], 6, "online")
    db.execute(
        "INSERT INTO host_metrics SELECT now() - interval '5 seconds', %s, 42.5, '{}', 1, 2, 3, 4, 1.25, 0.4, 0.3,"
        " 8589934592, 1073741824, 4294967296, 1000, 2000, 0, 0, 10, 2, 100, 3600",
        (old["id"],),
    )
    # Added two days ago, online ever since its agent connected an hour after.
    young = _insert_vps(db, created_days_ago=2, online=True)
    _event(db, young["id"], 47, "online")
    down = _insert_vps(db, created_days_ago=10, online=False)
    _event(db, down["id"], 10 * 24, "online")
    _event(db, down["id"], 36, "offline")
    hidden = _insert_vps(db, created_days_ago=5, online=True)

    config = {
        "enabled": True,
        "title": "Example Co status",
        "groups": [
            {
                "title": "Web",
                "servers": [{"vps_id": old["id"], "display_name": "Shop front"}, {"vps_id": young["id"]}],
            },
            {"title": "Data", "servers": [{"vps_id": down["id"]}]},
            {"title": "Empty group", "servers": []},
        ],
    }
    response = await _put(client, admin, config)
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["enabled"] is True and saved["title"] == "Example Co status"
    assert saved["groups"][0]["servers"] == [
        {"vps_id": old["id"], "display_name": "Shop front"},
        {"vps_id": young["id"], "display_name": None},
    ]
    assert [g["title"] for g in saved["groups"]] == ["Web", "Data", "Empty group"]
    assert (await client.get(CONFIG, headers=admin.headers)).json() == saved
    audit = db.execute(
        "SELECT actor, detail FROM audit_log WHERE action = 'status_page.update' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert audit is not None and audit["actor"] == admin.username
    assert audit["detail"]["groups"][0]["servers"][0]["vps_id"] == old["id"]

    page = await client.get(PAGE)  # no token
    assert page.status_code == 200, page.text
    assert set(page.headers["cache-control"].split(", ")) == {"public", "max-age=5"}
    body = page.json()
    assert body["title"] == "Example Co status"
    assert [g["title"] for g in body["groups"]] == ["Web", "Data"]
    shop, second = body["groups"][0]["servers"]
    (third,) = body["groups"][1]["servers"]
    assert set(shop) == {"name", "online", "uptime_24h_percent", "uptime_7d_percent", "uptime_30d_percent",
                         "load_1", "cpu_percent"}  # fmt: skip
    assert (shop["name"], second["name"], third["name"]) == ("Shop front", "Server 2", "Server 3")
    # Down from 12 h to 6 h ago: 6 h of 24 h, 168 h and 720 h.
    assert shop["online"] is True
    assert shop["uptime_24h_percent"] == pytest.approx(75.0, abs=0.05)
    assert shop["uptime_7d_percent"] == pytest.approx(100 * (1 - 6 / 168), abs=0.05)
    assert shop["uptime_30d_percent"] == pytest.approx(100 * (1 - 6 / 720), abs=0.05)
    assert shop["load_1"] == 1.25 and shop["cpu_percent"] == 42.5
    # Created 48 h ago, connected an hour later: 47 of 48 h in the 7 and 30 day windows.
    assert second["uptime_24h_percent"] == pytest.approx(100.0)
    assert second["uptime_7d_percent"] == pytest.approx(100 * 47 / 48, abs=0.05)
    assert second["uptime_30d_percent"] == pytest.approx(100 * 47 / 48, abs=0.05)
    assert second["load_1"] is None  # never reported
    # Offline for the last 36 h of its 10 days.
    assert third["online"] is False and third["uptime_24h_percent"] == 0.0
    assert third["uptime_30d_percent"] == pytest.approx(100 * (1 - 36 / 240), abs=0.05)
    assert third["load_1"] is None and third["cpu_percent"] is None

    text = page.text
    for vps in (old, young, down, hidden):
        assert vps["name"] not in text and vps["hostname"] not in text
    for private in ("203.0.113.99", "198.51.100.77", "secret-team", "team", '"id"', "vps_id"):
        assert private not in text


async def test_bad_setups_are_refused_naming_the_field(
    client: AsyncTestClient[Litestar], admin: SignedIn, db: psycopg.Connection[DictRow]
) -> None:
    vps = _insert_vps(db, created_days_ago=1, online=True)
    twice = {"enabled": True, "groups": [{"title": "A", "servers": [{"vps_id": vps["id"]}]},
                                         {"title": "B", "servers": [{"vps_id": vps["id"]}]}]}  # fmt: skip
    assert_problem(await _put(client, admin, twice), 422, "groups[1].servers[0].vps_id")
    missing = {"enabled": True, "groups": [{"title": "A", "servers": [{"vps_id": 2**62}]}]}
    assert_problem(await _put(client, admin, missing), 422, "groups[0].servers[0].vps_id")
    assert_problem(await _put(client, admin, {"enabled": True, "colour": "red"}), 422, "colour")
    assert_problem(await _put(client, admin, {"enabled": "yes"}), 422, "enabled")
    assert_problem(await _put(client, admin, {"enabled": True, "title": "evil\u202etitle"}), 422, "title")
    bad_name = {
        "enabled": True,
        "groups": [{"title": "A", "servers": [{"vps_id": vps["id"], "display_name": ""}]}],
    }
    assert_problem(await _put(client, admin, bad_name), 422, "groups[0].servers[0].display_name")


async def test_turned_off_it_answers_404(client: AsyncTestClient[Litestar], admin: SignedIn) -> None:
    assert (await _put(client, admin, {"enabled": True})).status_code == 200
    assert (await client.get(PAGE)).status_code == 200
    assert (await _put(client, admin, {"enabled": False})).status_code == 200
    assert_problem(await client.get(PAGE), 404)


@pytest.fixture
async def long_cache(app: Litestar) -> AsyncIterator[TimedCache[Any]]:
    """The app's page cache with a period no slow machine outlasts, put back afterwards."""
    res = get_resources(app.state)
    saved = res.status_page
    res.status_page = TimedCache(ttl_s=600)
    yield res.status_page
    res.status_page = saved


async def test_many_visitors_cost_one_query_per_period(
    client: AsyncTestClient[Litestar],
    admin: SignedIn,
    db: psycopg.Connection[DictRow],
    long_cache: TimedCache[Any],
) -> None:
    assert (await _put(client, admin, {"enabled": True, "title": "Cached title"})).status_code == 200
    responses = await asyncio.gather(*(client.get(PAGE) for _ in range(40)))
    assert {r.status_code for r in responses} == {200}
    assert long_cache.loads == 1
    # Changed behind the API's back: visitors keep the cached page, with no query.
    db.execute("UPDATE status_page SET title = 'Changed in the database'")
    for _ in range(10):
        assert (await client.get(PAGE)).json()["title"] == "Cached title"
    assert long_cache.loads == 1
    # A change through the API is seen at once on this instance.
    assert (await _put(client, admin, {"enabled": True, "title": "New title"})).status_code == 200
    assert (await client.get(PAGE)).json()["title"] == "New title"
    assert long_cache.loads == 2


async def test_a_cached_page_needs_no_database_connection(
    client: AsyncTestClient[Litestar], admin: SignedIn, app: Litestar, long_cache: TimedCache[Any]
) -> None:
    assert (await _put(client, admin, {"enabled": True})).status_code == 200
    assert (await client.get(PAGE)).status_code == 200
    pool = get_resources(app.state).pool
    before = pool.get_stats().get("requests_num", 0)
    for _ in range(20):
        assert (await client.get(PAGE)).status_code == 200
    assert pool.get_stats().get("requests_num", 0) == before
    # The count does move when the page is read from the database.
    long_cache.invalidate()
    assert (await client.get(PAGE)).status_code == 200
    assert pool.get_stats().get("requests_num", 0) == before + 1


def _save_in_progress(db_dsn: str, vps_id: int, someone_waits: threading.Event) -> None:
    """Another admin's save, caught mid-way: held open until someone waits on its locks."""
    with psycopg.connect(db_dsn) as other, psycopg.connect(db_dsn, autocommit=True) as watcher:
        other.execute("SELECT 1 FROM status_page FOR UPDATE")
        other.execute("DELETE FROM status_page_groups")
        other.execute("INSERT INTO status_page_groups (position, title) VALUES (0, 'Theirs')")
        other.execute(
            "INSERT INTO status_page_servers (vps_id, group_position, position) VALUES (%s, 0, 0)", (vps_id,)
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                someone_waits.set()
                break
            time.sleep(0.05)
        other.commit()


async def test_a_save_waits_for_one_in_progress_then_replaces_it(
    client: AsyncTestClient[Litestar], admin: SignedIn, db: psycopg.Connection[DictRow], db_dsn: str
) -> None:
    theirs, ours = (_insert_vps(db, created_days_ago=1, online=True) for _ in range(2))
    # Interleaved, the two saves' groups would collide on their positions (a 500).
    someone_waits = threading.Event()
    other = threading.Thread(target=_save_in_progress, args=(db_dsn, theirs["id"], someone_waits))
    other.start()
    try:
        body = {
            "enabled": True,
            "title": "Ours",
            "groups": [{"title": "Ours", "servers": [{"vps_id": ours["id"]}]}],
        }
        # Retried until the other save holds its locks, so this one really meets it.
        deadline = time.monotonic() + 30
        while not someone_waits.is_set() and other.is_alive() and time.monotonic() < deadline:
            response = await _put(client, admin, body)
            assert response.status_code == 200, response.text
    finally:
        other.join(60)
    assert someone_waits.is_set(), "the save never had to wait for the other one"
    saved = (await client.get(CONFIG, headers=admin.headers)).json()
    assert [s["vps_id"] for g in saved["groups"] for s in g["servers"]] == [ours["id"]]
