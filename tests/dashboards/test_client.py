"""The dashboards' API client: typed results, problems turned into readable errors."""

from __future__ import annotations

import httpx
import pytest

from dashboards.client import ApiClient, ApiError


def _client(handler: httpx.MockTransport) -> ApiClient:
    return ApiClient("http://api.test/", transport=handler)


def test_problems_become_api_errors_with_their_detail() -> None:
    problem = b'{"type":"https://tidewatch.dev/problems/conflict","title":"Conflict","status":409,"detail":"a VPS named \'x\' already exists"}'

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer twu_t"
        return httpx.Response(409, content=problem, headers={"content-type": "application/problem+json"})

    with pytest.raises(ApiError) as caught:
        _client(httpx.MockTransport(handler)).create_vps("twu_t", "x", "")
    assert caught.value.status == 409 and caught.value.detail == "a VPS named 'x' already exists"
    assert caught.value.problem is not None and not caught.value.unauthorized


def test_other_failures_are_described() -> None:
    client = _client(httpx.MockTransport(lambda _: httpx.Response(502, text="bad gateway")))
    with pytest.raises(ApiError, match="502 Bad Gateway"):
        client.list_vps("twu_t")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ApiError) as caught:
        _client(httpx.MockTransport(refuse)).login("a", "b")
    assert caught.value.status == 503 and "unreachable" in caught.value.detail


def test_series_requests_ask_only_for_the_start() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(401, json={"status": 401})

    with pytest.raises(ApiError) as caught:
        _client(httpx.MockTransport(handler)).host_metrics("twu_t", 7, 3_600_000)
    assert caught.value.unauthorized
    assert seen[0].path == "/api/vps/7/metrics/host" and set(seen[0].params) == {"from"}
