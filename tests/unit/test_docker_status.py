"""When a container is inspected again: decided from the list API's status text."""

from __future__ import annotations

import pytest

from agent.collectors.docker_status import StatusAge, needs_inspect, parse_status


@pytest.mark.parametrize(
    ("status", "parsed"),
    [
        ("Up Less than a second", StatusAge("Up", 0, 1)),
        ("Up 1 second", StatusAge("Up", 1, 2)),
        ("Up 42 seconds (healthy)", StatusAge("Up", 42, 43)),
        ("Up About a minute", StatusAge("Up", 60, 120)),
        ("Up 3 minutes (Paused)", StatusAge("Up", 180, 240)),
        ("Up About an hour", StatusAge("Up", 3600, 5400)),
        ("Up 5 hours", StatusAge("Up", 4.5 * 3600, 5.5 * 3600)),
        ("Up 3 days", StatusAge("Up", 3 * 86400, 4 * 86400)),
        ("Exited (0) 5 minutes ago", StatusAge("Exited (0)", 300, 360)),
        ("Exited (137) 2 seconds ago", StatusAge("Exited (137)", 2, 3)),
        ("Restarting (1) Less than a second ago", StatusAge("Restarting (1)", 0, 1)),
    ],
)
def test_parse_status(status: str, parsed: StatusAge) -> None:
    assert parse_status(status) == parsed


@pytest.mark.parametrize("status", ["Created", "Removal In Progress", "Dead", "Up soon", ""])
def test_status_without_an_age(status: str) -> None:
    assert parse_status(status) is None


def test_an_ageing_container_is_not_inspected_again() -> None:
    assert not needs_inspect("running", "Up 10 seconds", "running", "Up 15 seconds", 5.0)
    assert not needs_inspect("running", "Up 58 seconds", "running", "Up About a minute", 5.0)
    assert not needs_inspect("running", "Up 3 minutes", "running", "Up 4 minutes", 5.0)
    assert not needs_inspect("exited", "Exited (0) 3 minutes ago", "exited", "Exited (0) 3 minutes ago", 5.0)
    assert not needs_inspect("running", "Up 2 hours", "running", "Up 2 hours (unhealthy)", 5.0)


def test_start_stop_and_new_exit_codes_are_inspected() -> None:
    assert needs_inspect("running", "Up 3 minutes", "exited", "Exited (1) 2 seconds ago", 5.0)
    assert needs_inspect("exited", "Exited (1) 2 minutes ago", "exited", "Exited (2) 2 minutes ago", 5.0)
    assert needs_inspect("created", "Created", "running", "Up 1 second", 5.0)


def test_a_restart_between_samples_shows_as_an_age_going_back() -> None:
    assert needs_inspect("running", "Up 3 minutes", "running", "Up 4 seconds", 5.0)
    assert needs_inspect("running", "Up 20 seconds", "running", "Up 6 seconds", 5.0)
    # Restarted just after the last list call: 7 s old at most, 27 s expected.
    assert needs_inspect("running", "Up 22 seconds", "running", "Up 7 seconds", 5.0)
    assert needs_inspect("exited", "Exited (1) 30 seconds ago", "exited", "Exited (1) 6 seconds ago", 5.0)


def test_young_containers_are_inspected_every_time() -> None:
    # A few seconds can hide a restart that leaves the same text.
    assert needs_inspect("running", "Up 2 seconds", "running", "Up 2 seconds", 1.0)
    assert needs_inspect("running", "Up Less than a second", "running", "Up 4 seconds", 5.0)
    assert not needs_inspect("running", "Up 3 seconds", "running", "Up 8 seconds", 5.0)


def test_texts_without_an_age_fall_back_to_any_change() -> None:
    assert not needs_inspect("created", "Created", "created", "Created", 5.0)
    assert needs_inspect("dead", "Dead", "dead", "Removal In Progress", 5.0)
