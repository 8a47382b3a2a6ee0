"""Service settings come from TIDEWATCH_* variables; typos and bad values are errors."""

from __future__ import annotations

import pytest

from common.settings import (
    INSTALL_PREFIX,
    ApiSettings,
    CollectorSettings,
    InstallSettings,
    SettingsError,
    load_settings,
)


def test_values_are_converted_from_strings() -> None:
    settings = load_settings(
        CollectorSettings,
        "TIDEWATCH_COLLECTOR_",
        {"TIDEWATCH_COLLECTOR_FLUSH_MAX_ROWS": "500", "TIDEWATCH_COLLECTOR_OFFLINE_AFTER_S": "12.5"},
    )
    assert settings.flush_max_rows == 500
    assert settings.offline_after_s == 12.5


def test_defaults_listen_on_loopback_only() -> None:
    assert load_settings(CollectorSettings, "TIDEWATCH_COLLECTOR_", {}).listen.startswith("127.0.0.1:")
    assert load_settings(ApiSettings, "TIDEWATCH_API_", {}).listen.startswith("127.0.0.1:")


def test_a_typo_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(SettingsError, match="flush_max_rowz"):
        load_settings(CollectorSettings, "TIDEWATCH_COLLECTOR_", {"TIDEWATCH_COLLECTOR_FLUSH_MAX_ROWZ": "5"})


def test_a_bad_value_names_the_field() -> None:
    with pytest.raises(SettingsError, match="flush_max_rows"):
        load_settings(
            CollectorSettings, "TIDEWATCH_COLLECTOR_", {"TIDEWATCH_COLLECTOR_FLUSH_MAX_ROWS": "lots"}
        )


def test_the_install_api_url_must_be_an_http_url() -> None:
    env = {"TIDEWATCH_INSTALL_API_URL": "https://tw.example.com/base/"}
    assert load_settings(InstallSettings, INSTALL_PREFIX, env).api_url == "https://tw.example.com/base/"
    for bad in ("tw.example.com", "ftp://tw.example.com", "https://tw.example.com/?q=1"):
        with pytest.raises(SettingsError, match="api_url"):
            load_settings(InstallSettings, INSTALL_PREFIX, {"TIDEWATCH_INSTALL_API_URL": bad})
