"""tests/prerequisites.py: a missing prerequisite fails in CI and skips, naming it, elsewhere;
and every skip in the suite goes through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.prerequisites import in_ci, missing, require

TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "on", "github-actions"])
def test_truthy_ci_values(value: str) -> None:
    assert in_ci({"CI": value})


@pytest.mark.parametrize(
    "environ", [{}, {"CI": ""}, {"CI": "0"}, {"CI": "false"}, {"CI": "No"}, {"CI": "off"}]
)
def test_ci_unset_or_falsy(environ: dict[str, str]) -> None:
    assert not in_ci(environ)


def test_in_ci_a_missing_prerequisite_fails_naming_it() -> None:
    with pytest.raises(
        pytest.fail.Exception, match=r"missing prerequisite .*CI is set.*: the Docker engine$"
    ):
        missing("the Docker engine", environ={"CI": "true"})


def test_outside_ci_a_missing_prerequisite_skips_naming_it() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"^missing prerequisite: root \(to chroot\)$"):
        missing("root (to chroot)", environ={})


def test_require_acts_only_on_a_reported_problem() -> None:
    require(None, environ={"CI": "true"})  # nothing missing: returns
    with pytest.raises(pytest.fail.Exception, match="no ping"):
        require("no ping", environ={"CI": "1"})
    with pytest.raises(pytest.skip.Exception, match="no ping"):
        require("no ping", environ={"CI": "false"})


def test_the_process_environment_decides_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        missing("x")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        missing("x")


# Skips written directly would bypass the CI rule.
DIRECT_SKIP = re.compile(r"pytest\.skip\(|mark\.skip(if)?\b|importorskip\(|pytest\.xfail\(|mark\.xfail\b")


def test_every_skip_in_the_suite_goes_through_the_helper() -> None:
    this = Path(__file__).resolve()
    offenders = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "prerequisites.py" and path != this
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DIRECT_SKIP.search(line)
    ]
    assert offenders == []


def test_the_direct_skip_pattern_catches_each_form() -> None:
    for line in (
        'pytest.skip("x")',
        '@pytest.mark.skipif(True, reason="x")',
        "@pytest.mark.skip",
        'docker = pytest.importorskip("docker")',
        "@pytest.mark.xfail(strict=False)",
    ):
        assert DIRECT_SKIP.search(line), line
