"""The one way a test handles a missing prerequisite (root, Docker, a browser, a binary).

In CI (``CI`` set to a truthy value, as CI services do) a missing prerequisite fails the
test: CI must run everything, and a silent skip would pass a suite that tested nothing.
Elsewhere the test is skipped with a reason that names what is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "in_ci",
    "missing",
    "require",
    "require_browser",
    "require_program",
    "require_root",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
_NOT_CI = {"", "0", "false", "no", "off"}


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``CI`` is set to a truthy value (``true``, ``1``, ``yes``…)."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in _NOT_CI


def missing(what: str, *, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Fail in CI, skip elsewhere; either way the message names ``what`` is missing."""
    if in_ci(environ):
        pytest.fail(
            f"missing prerequisite (CI is set, so this fails instead of skipping): {what}", pytrace=False
        )
    pytest.skip(f"missing prerequisite: {what}")


def require(problem: str | None, *, environ: Mapping[str, str] | None = None) -> None:
    """``missing(problem)`` when a check reported one (a check returns None when all is there)."""
    if problem is not None:
        missing(problem, environ=environ)


def require_root(why: str) -> None:
    require(None if os.geteuid() == 0 else f"root ({why})")


def require_program(name: str) -> None:
    require(None if shutil.which(name) else f"the {name!r} program on PATH")


def require_browser() -> None:
    """Headless Chromium and its driver, as Debian installs them (scripts/setup.sh --test)."""
    absent = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    require(
        f"a browser for the test: {', '.join(absent)} (Debian's chromium, chromium-driver)"
        if absent
        else None
    )
