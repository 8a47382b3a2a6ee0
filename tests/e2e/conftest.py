"""Headless Chromium options for dash_duo, shared with the dashboards' browser tests."""

from __future__ import annotations

from tests.dashboards.conftest import pytest_setup_options

__all__ = ["pytest_setup_options"]
