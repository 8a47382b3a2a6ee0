"""The admin pages' pure helpers: local times, token expiry words, audit details,
audit query parameters and the audit pager's stack. No browser, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from common.api_models import AuditEntry, TokenCreate, TokenOut
from common.api_models.tokens import MAX_TOKEN_DAYS
from dashboards.admin_format import (
    EXPIRY_CHOICES,
    audit_detail,
    audit_filters,
    format_local,
    next_page,
    token_expiry,
)
from dashboards.admin_nav import is_admin

MOMENT = datetime(2026, 11, 30, 8, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset_min", "shown"),
    [
        (0, "2026-11-30 08:05 UTC+00:00"),
        (None, "2026-11-30 08:05 UTC+00:00"),
        (60, "2026-11-30 09:05 UTC+01:00"),
        (330, "2026-11-30 13:35 UTC+05:30"),
        (-600, "2026-11-29 22:05 UTC-10:00"),
    ],
)
def test_local_times_show_their_offset(offset_min: int | None, shown: str) -> None:
    assert format_local(MOMENT, offset_min) == shown


def test_no_moment_is_a_dash() -> None:
    assert format_local(None, 60) == "—"


def _token(expires_at: datetime) -> TokenOut:
    return TokenOut(id=1, user_id=2, username="ann", name="ci", created_at=MOMENT, expires_at=expires_at,
                    last_used_at=None)  # fmt: skip


def test_token_expiry_in_words() -> None:
    assert token_expiry(_token(MOMENT + timedelta(days=29, hours=23)), MOMENT) == ("in 29d 23h", False)
    assert token_expiry(_token(MOMENT - timedelta(hours=2)), MOMENT) == ("expired 2h 0m ago", True)
    assert token_expiry(_token(MOMENT), MOMENT)[1] is True


def test_every_expiry_the_form_offers_is_one_the_api_accepts() -> None:
    for days, label in EXPIRY_CHOICES:
        assert msgspec.convert({"name": "x", "expires_in_days": days}, TokenCreate).expires_in_days == days
        assert label
    assert max(days for days, _ in EXPIRY_CHOICES) == MAX_TOKEN_DAYS


def test_audit_detail_is_compact_key_value_pairs() -> None:
    entry = AuditEntry(id=1, time=MOMENT, user_id=None, actor="x", action="vps.update", target="vps:3",
                       detail={"name": "web", "labels": {"env": "prod"}, "n": 2})  # fmt: skip
    assert audit_detail(entry) == 'name=web labels={"env":"prod"} n=2'
    assert audit_detail(msgspec.structs.replace(entry, detail={})) == ""


def test_audit_filters_leave_out_what_is_not_chosen() -> None:
    assert audit_filters(None, "", None, None, 50) == {"limit": 50}
    assert audit_filters(7, 3, "token.revoke", 120, 50) == {
        "user_id": 7, "vps_id": 3, "action": "token.revoke", "before_id": 120, "limit": 50,
    }  # fmt: skip


def test_the_pager_walks_older_and_back_and_a_filter_starts_over() -> None:
    first: list[int | None] = [None]
    second = next_page(first, "older", 951)
    third = next_page(second, "older", 901)
    assert second == [None, 951] and third == [None, 951, 901]
    assert next_page(third, "newer", None) == [None, 951]
    assert next_page(first, "newer", None) == [None]
    # An empty page has no oldest row: stay put rather than page into nothing.
    assert next_page(second, "older", None) == [None, 951]
    assert next_page(third, "filter", 42) == [None]


def test_only_an_admin_session_counts_as_admin() -> None:
    assert is_admin({"token": "t", "role": "admin"})
    assert not is_admin({"token": "t", "role": "operator"})
    assert not is_admin(None)
