"""Helpers every component shares: host:port parsing, host names, the year-10000 bound.

(common/backoff.py is tested in test_agent_delivery.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.addresses import is_valid_host, split_host_port
from common.epoch import YEAR_10000_MS
from common.listen import split_listen
from common.settings import SettingsError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:50051", ("0.0.0.0", 50051)),
        ("collector.example.com:1", ("collector.example.com", 1)),
        ("localhost:65535", ("localhost", 65535)),
        ("[2001:db8::1]:443", ("2001:db8::1", 443)),
        ("[::]:9464", ("::", 9464)),
    ],
)
def test_host_port_splits(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "collector",
        "collector:0",
        "collector:65536",
        "collector:99999",
        "bad host:1",
        ":50051",
        "[::1]",
        "::1:8000",  # an unbracketed IPv6 literal is ambiguous
        "[fe80::1%eth0]:1",
        "-option:1",
        "host:²",
        "host:+1",
        "host\n:1",
    ],
)
def test_host_port_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"^expected host:port"):
        split_host_port(text)


def test_listen_settings_name_the_value() -> None:
    assert split_listen("[::1]:8000") == ("::1", 8000)
    with pytest.raises(SettingsError, match=r"listen address 'nowhere' must be host:port"):
        split_listen("nowhere")


@pytest.mark.parametrize("host", ["a", "web-1.example.com", "example.com.", "10.0.0.1", "2001:db8::1"])
def test_valid_hosts(host: str) -> None:
    assert is_valid_host(host)


@pytest.mark.parametrize(
    "host",
    ["", "-a", "a-", "a..b", "a b", "x" * 64, ("a." * 127) + "ab", "host\n", "fe80::1%eth0", "not an ip!"],
)
def test_invalid_hosts(host: str) -> None:
    assert not is_valid_host(host)


def test_year_10000_bound() -> None:
    last_valid = datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    assert round(last_valid.timestamp() * 1000) + 1 == YEAR_10000_MS
