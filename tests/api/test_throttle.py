"""Login and registration limits (issue 10, item 9): the buckets alone, and through the app."""

from __future__ import annotations

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from api.auth.throttle import AuthThrottle, BucketRule, TokenBuckets
from api.errors import ProblemError
from common.api_models import Role
from common.settings import ApiSettings
from tests.api.conftest import PASSWORD, assert_problem, create_user, unique

Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(BucketRule(capacity=3, per_minute=6), clock)
    for _ in range(3):
        assert buckets.wait_s("k") == 0
        buckets.take("k")
    assert buckets.wait_s("k") == pytest.approx(10.0)
    assert buckets.wait_s("other") == 0
    clock.now += 10
    assert buckets.wait_s("k") == 0


def test_buckets_are_bounded_and_forgetting_one_only_favours_the_caller() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(BucketRule(capacity=1, per_minute=1), clock, max_keys=2)
    for key in ("a", "b", "c"):
        buckets.take(key)
    assert buckets.wait_s("a") == 0  # "a" was forgotten: a full bucket again
    assert buckets.wait_s("c") > 0


def test_an_attacker_elsewhere_never_locks_the_admin_out() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(clock=clock)
    with pytest.raises(ProblemError) as limited:
        for _ in range(100):
            throttle.admit_login("198.51.100.7", "admin")
    assert limited.value.status_code == 429
    assert limited.value.headers is not None and int(limited.value.headers["Retry-After"]) >= 1
    # Another address is not slowed; the attacker's own address recovers with time.
    throttle.admit_login("203.0.113.9", "admin")
    clock.now += 60
    throttle.admit_login("198.51.100.7", "admin")


def test_spraying_many_names_from_one_address_is_limited() -> None:
    throttle = AuthThrottle(clock=FakeClock())
    with pytest.raises(ProblemError) as limited:
        for index in range(100):
            throttle.admit_login("198.51.100.7", f"user{index}")
    assert limited.value.status_code == 429


@pytest.mark.db
async def test_login_and_registration_answer_429_with_retry_after(db_dsn: str, db: Db) -> None:
    _, username = create_user(db, Role.ADMIN)
    throttle = AuthThrottle(
        login_per_ip_and_user=BucketRule(capacity=3, per_minute=1),
        login_per_ip=BucketRule(capacity=100, per_minute=1),
        register_per_ip=BucketRule(capacity=2, per_minute=1),
    )
    async with AsyncTestClient(app=create_app(ApiSettings(), db_dsn, throttle=throttle)) as client:
        for _ in range(3):
            wrong = await client.post(
                "/api/auth/login", json={"username": username, "password": "wrong guess"}
            )
            assert_problem(wrong, 401)
        limited = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        body = assert_problem(limited, 429)
        assert body["type"].endswith("/too-many-requests") and "try again" in body["detail"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Other accounts from the same address are not held back by this one's bucket.
        _, other = create_user(db, Role.VIEWER)
        ok = await client.post("/api/auth/login", json={"username": other, "password": PASSWORD})
        assert ok.status_code == 200

        for _ in range(2):
            accepted = await client.post(
                "/api/auth/register", json={"username": unique("r"), "password": PASSWORD}
            )
            assert accepted.status_code == 202
        refused = await client.post(
            "/api/auth/register", json={"username": unique("r"), "password": PASSWORD}
        )
        assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1
