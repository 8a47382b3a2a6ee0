"""The alerts API through the real app and database: rules, channels (secrets never
returned), silences, events and acknowledgement, test sends delivered to a real
local receiver, billing facts, traffic quotas and monthly traffic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from alerts.sender import send_next
from alerts.settings import AlertsSettings
from tests.alert_receivers import HttpReceiver
from tests.api.conftest import SignedIn, assert_problem, audit_rows, fetch_one, unique
from tests.traffic_cycles import reset_day_some_days_ago

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]
MIB = 1024**2


async def _vps(client: Client, who: SignedIn, **body: object) -> int:
    response = await client.post("/api/vps", json={"name": unique("vps"), **body}, headers=who.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["vps"]["id"])


def _rule(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": unique("rule"),
        "kind": "threshold",
        "metric": "cpu_percent",
        "threshold": 90,
        "duration_s": 300,
    }
    body.update(overrides)
    return body


async def test_rules_crud_is_audited_and_viewers_only_read(
    client: Client, db: Db, operator: SignedIn, viewer: SignedIn
) -> None:
    webhook = await client.post(
        "/api/alerts/channels",
        json={"name": unique("hook"), "kind": "webhook", "config": {"url": "http://127.0.0.1:9/x"}},
        headers=operator.headers,
    )
    assert webhook.status_code == 201, webhook.text
    body = _rule(scope_labels={"env": "prod"}, resolve_threshold=80, repeat_every_s=3600,
                 channel_ids=[webhook.json()["id"]], metric="disk_used_percent", metric_labels={"mountpoint": "/"})  # fmt: skip
    created = await client.post("/api/alerts/rules", json=body, headers=operator.headers)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["scope_labels"] == {"env": "prod"} and rule["channel_ids"] == [webhook.json()["id"]]
    assert rule["resolve_threshold"] == 80 and rule["metric_labels"] == {"mountpoint": "/"}
    assert [r["action"] for r in audit_rows(db, f"alert_rule:{rule['id']}")] == ["alert_rule.create"]

    refused = await client.post("/api/alerts/rules", json=_rule(), headers=viewer.headers)
    assert_problem(refused, 403)
    listed = await client.get("/api/alerts/rules", headers=viewer.headers)
    assert rule["id"] in [r["id"] for r in listed.json()]

    replaced = await client.put(
        f"/api/alerts/rules/{rule['id']}",
        json={**body, "enabled": False, "channel_ids": []},
        headers=operator.headers,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["enabled"] is False and replaced.json()["channel_ids"] == []
    assert_problem(await client.post("/api/alerts/rules", json=body, headers=operator.headers), 409, "name")
    deleted = await client.delete(f"/api/alerts/rules/{rule['id']}", headers=operator.headers)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"/api/alerts/rules/{rule['id']}", headers=viewer.headers), 404)
    assert [r["action"] for r in audit_rows(db, f"alert_rule:{rule['id']}")] == [
        "alert_rule.create", "alert_rule.update", "alert_rule.delete",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_rule(metric="cpu_temperature"), "metric"),
        (_rule(duration_s=-5), "duration_s"),
        (_rule(threshold=None), "threshold"),
        (_rule(metric_labels={"interface": "eth0"}), "metric_labels.interface"),
        (_rule(kind="offline", metric="", params={"grace_s": 0}), "params.grace_s"),
        (_rule(kind="exploding"), "kind"),
        (_rule(channel_ids=[987654321]), "channel_ids[0]"),
        (_rule(name="bad\u202ename"), "name"),
    ],
)
async def test_invalid_rules_get_problems_naming_the_field(
    client: Client, operator: SignedIn, body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post("/api/alerts/rules", json=body, headers=operator.headers), 422, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "61 * * * *", "duration_s": 60}, "cron"),
        ({"cron": "0 2 * * *", "duration_s": 3600, "timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "0 2 * * *"}, "duration_s"),
        ({"starts_at": "2026-05-02T00:00:00Z", "ends_at": "2026-05-01T00:00:00Z"}, "ends_at"),
        ({"cron": "0 2 * * *", "duration_s": -1}, "duration_s"),
    ],
)
async def test_invalid_silences_get_problems_naming_the_field(
    client: Client, operator: SignedIn, body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post("/api/alerts/silences", json=body, headers=operator.headers), 422, field)


async def test_silences_show_whether_active(client: Client, db: Db, operator: SignedIn) -> None:
    now = datetime.now(UTC)
    body = {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(),
            "comment": "maintenance"}  # fmt: skip
    created = await client.post("/api/alerts/silences", json=body, headers=operator.headers)
    assert created.status_code == 201, created.text
    assert created.json()["active"] is True
    nightly = await client.post(
        "/api/alerts/silences", json={"cron": "0 3 * * *", "duration_s": 60, "timezone": "Asia/Tokyo"},
        headers=operator.headers,
    )  # fmt: skip
    assert nightly.status_code == 201 and nightly.json()["timezone"] == "Asia/Tokyo"
    for silence in (created, nightly):  # the nightly one would mute every alert in this database at 03:00 JST
        deleted = await client.delete(
            f"/api/alerts/silences/{silence.json()['id']}", headers=operator.headers
        )
        assert deleted.status_code == 204
    assert [r["action"] for r in audit_rows(db, f"alert_silence:{created.json()['id']}")] == [
        "alert_silence.create", "alert_silence.delete",
    ]  # fmt: skip


async def test_channel_secrets_are_never_returned_and_test_send_is_delivered(
    client: Client, db: Db, db_dsn: str, operator: SignedIn, viewer: SignedIn
) -> None:
    with HttpReceiver() as receiver:
        body = {"name": unique("tg"), "kind": "telegram", "config": {"chat_id": "42", "api_base": receiver.url},
                "secret": {"bot_token": "999:SECRET"}}  # fmt: skip
        created = await client.post("/api/alerts/channels", json=body, headers=operator.headers)
        assert created.status_code == 201, created.text
        channel = created.json()
        assert channel["secret_keys"] == ["bot_token"] and "secret" not in channel
        for response in (
            await client.get("/api/alerts/channels", headers=viewer.headers),
            await client.get(f"/api/alerts/channels/{channel['id']}", headers=viewer.headers),
        ):
            assert "999:SECRET" not in response.text
        assert "999:SECRET" not in str(audit_rows(db, f"alert_channel:{channel['id']}"))
        # A PUT without a secret keeps the stored one.
        without_secret = {k: v for k, v in body.items() if k != "secret"}
        kept = await client.put(
            f"/api/alerts/channels/{channel['id']}", json=without_secret, headers=operator.headers
        )
        assert kept.status_code == 200 and kept.json()["secret_keys"] == ["bot_token"]

        queued = await client.post(f"/api/alerts/channels/{channel['id']}/test", headers=operator.headers)
        assert queued.status_code == 202, queued.text
        delivery = queued.json()
        assert delivery["status"] == "pending" and delivery["transition"] == "test"
        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as conn:
            while await send_next(conn, AlertsSettings()):
                pass
        assert [r.path for r in receiver.requests] == ["/bot999:SECRET/sendMessage"]
        assert receiver.requests[0].json()["chat_id"] == "42"
        outcome = await client.get(f"/api/alerts/deliveries/{delivery['id']}", headers=viewer.headers)
        assert outcome.json()["status"] == "sent" and outcome.json()["attempts"] == 1
        assert outcome.json()["attempt_log"][0]["ok"] is True

    missing = {"name": unique("slack"), "kind": "slack", "config": {}}
    assert_problem(
        await client.post("/api/alerts/channels", json=missing, headers=operator.headers), 422, "secret.url"
    )
    bad_mail = {"name": unique("mail"), "kind": "email", "config": {"host": "smtp", "from": "a@b", "to": []}}
    assert_problem(
        await client.post("/api/alerts/channels", json=bad_mail, headers=operator.headers), 422, "config.to"
    )


async def test_events_list_acknowledge_and_summary(
    client: Client, db: Db, operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = await _vps(client, operator)
    rule = (
        await client.post("/api/alerts/rules", json=_rule(scope_vps_id=vps_id), headers=operator.headers)
    ).json()
    event = fetch_one(
        db,
        "INSERT INTO alert_events (rule_id, vps_id, target_key, target_label, value, peak_value, summary)"
        " VALUES (%s, %s, %s, 'x', 95, 97, 'cpu high') RETURNING id",
        (rule["id"], vps_id, f"vps:{vps_id}"),
    )
    before = (await client.get("/api/alerts/summary", headers=viewer.headers)).json()
    assert before["firing"] >= 1 and before["unacknowledged"] >= 1
    firing = await client.get(
        "/api/alerts/events", params={"status": "firing", "vps_id": vps_id}, headers=viewer.headers
    )
    assert [e["id"] for e in firing.json()] == [event["id"]]
    assert firing.json()[0]["peak_value"] == 97 and firing.json()[0]["rule_name"] == rule["name"]
    assert_problem(await client.post(f"/api/alerts/events/{event['id']}/ack", headers=viewer.headers), 403)
    acked = await client.post(f"/api/alerts/events/{event['id']}/ack", headers=operator.headers)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == operator.id
    after = (await client.get("/api/alerts/summary", headers=viewer.headers)).json()
    assert after["unacknowledged"] == before["unacknowledged"] - 1
    assert [r["action"] for r in audit_rows(db, f"alert_event:{event['id']}")] == ["alert_event.ack"]
    resolved = await client.get(
        "/api/alerts/events", params={"status": "resolved", "vps_id": vps_id}, headers=viewer.headers
    )
    assert resolved.json() == []


async def test_billing_facts_and_fleet_overview(
    client: Client, db: Db, operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = await _vps(client, operator)
    assert_problem(await client.get(f"/api/vps/{vps_id}/billing", headers=viewer.headers), 404)
    expires = date.today() + timedelta(days=5)
    body = {"provider": "Hetzner", "price": 12.0, "currency": "EUR", "cycle": "quarterly",
            "expires_on": expires.isoformat(), "auto_renew": False}  # fmt: skip
    put = await client.put(f"/api/vps/{vps_id}/billing", json=body, headers=operator.headers)
    assert put.status_code == 200, put.text
    # Today read after the answer: a midnight during the request makes it 4 days, not a failure.
    assert put.json()["monthly_cost"] == 4.0 and put.json()["days_left"] == (expires - date.today()).days
    assert_problem(await client.put(f"/api/vps/{vps_id}/billing", json={**body, "currency": "euro"},
                                    headers=operator.headers), 422, "currency")  # fmt: skip
    fleet = await client.get("/api/billing", headers=viewer.headers)
    assert any(b["vps_id"] == vps_id and b["provider"] == "Hetzner" for b in fleet.json())
    assert [r["action"] for r in audit_rows(db, f"vps:{vps_id}")][-1] == "vps.billing_update"


async def test_monthly_traffic_across_a_reset_day(
    client: Client, db: Db, operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = await _vps(client, operator)
    now = datetime.now(UTC)
    reset = reset_day_some_days_ago(now.date())
    quota = await client.put(f"/api/vps/{vps_id}/traffic-quota", headers=operator.headers, json={
        "quota_bytes": 10_000 * MIB, "direction": "max", "reset_day": reset.day, "timezone": "UTC",
        "warn_percents": [90, 50]})  # fmt: skip
    assert quota.status_code == 200, quota.text
    assert quota.json()["warn_percents"] == [50, 90]
    assert_problem(await client.put(f"/api/vps/{vps_id}/traffic-quota", json={"timezone": "Nowhere/City"},
                                    headers=operator.headers), 422, "timezone")  # fmt: skip
    # Hourly deltas on two interfaces for 8 days: 1 MiB in, 3 MiB out each.
    times = [now - timedelta(hours=h) for h in range(1, 8 * 24)]
    with db.cursor() as cur:
        for t in times:
            for interface in ("eth0", "eth1"):
                cur.execute(
                    "INSERT INTO network_metrics VALUES (%s, %s, %s, 0, 0, 0, 0, 0, 0, 0, 0, %s, %s)",
                    (t, vps_id, interface, MIB, 3 * MIB),
                )
    boundary = datetime.combine(reset, time(0), tzinfo=UTC)
    current_samples = sum(1 for t in times if t >= boundary)
    past_samples = len(times) - current_samples

    response = await client.get(f"/api/vps/{vps_id}/traffic", params={"cycles": 2}, headers=viewer.headers)
    assert response.status_code == 200, response.text
    traffic = response.json()
    assert datetime.fromisoformat(traffic["current"]["start"]) == boundary
    assert traffic["current"]["rx_bytes"] == current_samples * 2 * MIB
    assert traffic["current"]["tx_bytes"] == current_samples * 6 * MIB
    assert traffic["current"]["used_bytes"] == current_samples * 6 * MIB  # max(in, out)
    assert [c["tx_bytes"] for c in traffic["past"]] == [past_samples * 6 * MIB]
    elapsed_days = (now - boundary).total_seconds() / 86_400
    assert traffic["bytes_per_day"] == pytest.approx(current_samples * 6 * MIB / elapsed_days, rel=0.02)
    assert traffic["used_percent"] == pytest.approx(
        100 * current_samples * 6 * MIB / (10_000 * MIB), rel=1e-6
    )

    fleet = await client.get("/api/traffic", headers=viewer.headers)
    mine = next(v for v in fleet.json()["vps"] if v["vps_id"] == vps_id)
    assert mine["current"] == traffic["current"]
    assert fleet.json()["used_bytes"] >= traffic["current"]["used_bytes"]
    assert_problem(await client.get(f"/api/vps/{vps_id}/traffic", params={"cycles": 0}, headers=viewer.headers), 422,
                   "cycles")  # fmt: skip


async def test_disk_forecast_fits_each_mount(
    client: Client, db: Db, operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = await _vps(client, operator)
    gib = 1024**3
    # '/': 100 GiB, 50 GiB used now, growing 1 GiB an hour (full in 50 h); '/data' is flat.
    db.execute(
        "INSERT INTO disk_metrics SELECT t, %s, m.mount, 'vda', 'ext4', %s,"
        " (m.now_used - m.per_hour * extract(epoch FROM now() - t) / 3600)::bigint, 0, 100, 10"
        " FROM generate_series(now() - interval '3 hours', now(), interval '1 minute') AS t,"
        " (VALUES ('/', %s::float8, %s::float8), ('/data', %s::float8, 0::float8)) AS m (mount, now_used, per_hour)",
        (vps_id, 100 * gib, 50.0 * gib, 1.0 * gib, 20.0 * gib),
    )
    response = await client.get(f"/api/vps/{vps_id}/disk-forecast", headers=viewer.headers)
    assert response.status_code == 200, response.text
    root, data = response.json()
    assert root["mountpoint"] == "/" and root["hours_until_full"] == pytest.approx(50.0, rel=0.1)
    assert datetime.fromisoformat(root["full_at"]) > datetime.now(UTC) + timedelta(hours=44)
    assert data == {"mountpoint": "/data", "total_bytes": 100 * gib, "used_bytes": 20 * gib,
                    "hours_until_full": None, "full_at": None}  # fmt: skip
    assert_problem(await client.get("/api/vps/987654321/disk-forecast", headers=viewer.headers), 404)


# -- strict input, as everywhere else in the API (tests/api/test_hardening.py) -----------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "0.5"}, "since"),  # a float is not epoch milliseconds
        ({"since": "2026-05-01"}, "since"),  # a date alone is not an instant
        ({"since": "\u0661\u0667" + "\u0660" * 11}, "since"),  # Arabic-Indic digits
        ({"since": "99999999999999999"}, "since"),  # past year 9999
        ({"vps_id": "1.0"}, "vps_id"),
        ({"rule_id": "01"}, "rule_id"),
        ({"rule_id": "\u0663"}, "rule_id"),
        ({"limit": "1e2"}, "limit"),
    ],
)
async def test_event_queries_take_only_canonical_values(
    client: Client, viewer: SignedIn, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/alerts/events", params=params, headers=viewer.headers)
    assert assert_problem(response, 422, field)["type"].endswith("/validation")


async def test_event_since_takes_rfc3339_or_epoch_milliseconds(
    client: Client, db: Db, operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = await _vps(client, operator)
    rule = (
        await client.post("/api/alerts/rules", json=_rule(scope_vps_id=vps_id), headers=operator.headers)
    ).json()
    fetch_one(
        db,
        "INSERT INTO alert_events (rule_id, vps_id, target_key, target_label, summary, resolved_at)"
        " VALUES (%s, %s, %s, 'x', 'old', '2026-01-01T00:00:00Z') RETURNING id",
        (rule["id"], vps_id, f"vps:{vps_id}"),
    )
    for before, after in (
        ("2025-12-31T23:00:00Z", "2026-01-01T01:00:00+00:00"),
        ("2025-12-31T23:00:00", "2026-01-01T01:00:00"),  # no offset: UTC, as for a metrics window
        (str(1_767_222_000_000), str(1_767_229_200_000)),  # epoch ms, an hour either side
    ):
        found = await client.get(
            "/api/alerts/events", params={"vps_id": vps_id, "since": before}, headers=viewer.headers
        )
        assert found.status_code == 200 and len(found.json()) == 1, (before, found.text)
        later = await client.get(
            "/api/alerts/events", params={"vps_id": vps_id, "since": after}, headers=viewer.headers
        )
        assert later.status_code == 200 and later.json() == [], (after, later.text)


async def test_the_largest_storable_price_is_the_schemas_maximum(client: Client, operator: SignedIn) -> None:
    vps_id = await _vps(client, operator)
    stored = await client.put(
        f"/api/vps/{vps_id}/billing", json={"price": 999_999_999_999.99}, headers=operator.headers
    )
    assert stored.status_code == 200 and stored.json()["price"] == 999_999_999_999.99, stored.text
    # 1e12 was allowed by the body's schema but overflowed numeric(14, 2): a 500.
    assert_problem(
        await client.put(f"/api/vps/{vps_id}/billing", json={"price": 1e12}, headers=operator.headers),
        422,
        "price",
    )


async def test_rules_the_schema_cannot_state_answer_unmet_rule(client: Client, operator: SignedIn) -> None:
    """Schema-valid but refused by a rule beyond the schema: its own problem type, naming the field."""
    for path, body, field in (
        ("/api/alerts/channels", {"name": unique("mail"), "kind": "email", "config": {}}, "config.host"),
        ("/api/alerts/silences", {"comment": "no window"}, "starts_at"),
        ("/api/alerts/rules", _rule(channel_ids=[2**63 - 1]), "channel_ids[0]"),
    ):
        response = await client.post(path, json=body, headers=operator.headers)
        assert assert_problem(response, 422, field)["type"].endswith("/unmet-rule"), path
