"""Container state changes from one Docker sample to the next (pure)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from collector.containers import (
    LAST_SEEN_REFRESH,
    ContainerEvent,
    StoredContainer,
    _signature,
    diff_containers,
)
from collector.rows import ContainerState

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def state(container_id: str = "c1", **changes: object) -> ContainerState:
    base = ContainerState(
        container_id=container_id,
        name="web",
        image="nginx:1",
        state="running",
        status="Up 2 hours",
        created_at=NOW - timedelta(days=1),
        started_at=NOW - timedelta(hours=2),
        finished_at=None,
        restart_count=0,
        exit_code=None,
        oom_killed=False,
        labels_json='{"role": "web"}',
        ports=["0.0.0.0:80->80/tcp"],
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def stored(
    c: ContainerState, *, seen_ago: timedelta = timedelta(seconds=5), removed: bool = False
) -> StoredContainer:
    """What the table holds after ``c`` was written ``seen_ago`` before NOW."""
    return StoredContainer(
        c.state, c.status, c.restart_count, c.oom_killed, _signature(c), NOW - seen_ago, removed
    )


def events(found: list[ContainerEvent]) -> list[tuple[str, str, int | None]]:
    return [(e.container_id, e.event, e.exit_code) for e in found]


def test_a_new_running_container_appears_and_starts() -> None:
    c = state()
    found, upserts, gone = diff_containers({}, [c], NOW)
    assert events(found) == [("c1", "appeared", None), ("c1", "started", None)]
    assert found[0].detail == "running"
    assert (upserts, gone) == ([c], [])


def test_a_new_stopped_container_only_appears() -> None:
    c = state(state="exited", exit_code=0)
    found, upserts, _ = diff_containers({}, [c], NOW)
    assert events(found) == [("c1", "appeared", None)] and found[0].detail == "exited"
    assert upserts == [c]


def test_a_removed_container_that_comes_back_appears_again() -> None:
    c = state()
    found, upserts, gone = diff_containers({"c1": stored(c, removed=True)}, [c], NOW)
    assert events(found) == [("c1", "appeared", None), ("c1", "started", None)]
    assert upserts == [c] and gone == []


def test_nothing_changed_means_no_event_and_no_write() -> None:
    c = state()
    assert diff_containers({"c1": stored(c)}, [c], NOW) == ([], [], [])


def test_last_seen_is_refreshed_without_an_event() -> None:
    c = state()
    found, upserts, _ = diff_containers({"c1": stored(c, seen_ago=LAST_SEEN_REFRESH)}, [c], NOW)
    assert (found, upserts) == ([], [c])
    assert diff_containers(
        {"c1": stored(c, seen_ago=LAST_SEEN_REFRESH - timedelta(seconds=1))}, [c], NOW
    ) == (
        [],
        [],
        [],
    )


def test_a_status_or_metadata_change_is_written_without_an_event() -> None:
    before = state()
    for after in (
        state(status="Up 3 hours"),
        state(image="nginx:2"),
        state(labels_json="{}"),
        state(ports=[]),
    ):
        found, upserts, _ = diff_containers({"c1": stored(before)}, [after], NOW)
        assert (found, upserts) == ([], [after])


def test_a_clean_stop_is_stopped() -> None:
    before, after = state(), state(state="exited", status="Exited (0)", exit_code=0)
    found, upserts, _ = diff_containers({"c1": stored(before)}, [after], NOW)
    assert events(found) == [("c1", "stopped", 0)] and upserts == [after]


def test_a_non_zero_exit_is_died_with_its_code() -> None:
    for was in ("running", "restarting", "paused"):
        before, after = state(state=was), state(state="exited", exit_code=137)
        found, _, _ = diff_containers({"c1": stored(before)}, [after], NOW)
        assert events(found) == [("c1", "died", 137)], was
    found, _, _ = diff_containers({"c1": stored(state())}, [state(state="dead", exit_code=2)], NOW)
    assert events(found) == [("c1", "died", 2)]


def test_an_oom_kill_is_its_own_event() -> None:
    after = state(state="exited", exit_code=137, oom_killed=True)
    found, _, _ = diff_containers({"c1": stored(state())}, [after], NOW)
    assert events(found) == [("c1", "oom", 137)] and found[0].detail == "killed: out of memory"


def test_an_already_stopped_container_does_not_stop_again() -> None:
    before = state(state="exited", exit_code=1)
    after = state(state="exited", exit_code=1, status="Exited (1) 5 minutes ago")
    found, upserts, _ = diff_containers({"c1": stored(before)}, [after], NOW)
    assert found == [] and upserts == [after]


def test_starting_again_is_started() -> None:
    for was in ("exited", "created", "restarting", "paused"):
        found, _, _ = diff_containers({"c1": stored(state(state=was))}, [state()], NOW)
        assert events(found) == [("c1", "started", None)], was


def test_a_higher_restart_count_is_restarted() -> None:
    before, after = state(restart_count=1), state(restart_count=3)
    found, upserts, _ = diff_containers({"c1": stored(before)}, [after], NOW)
    assert events(found) == [("c1", "restarted", None)] and found[0].detail == "restart count 3"
    assert upserts == [after]
    # Docker resets the count when a container is recreated: no event for a lower one.
    assert diff_containers({"c1": stored(after)}, [before], NOW)[0] == []


def test_a_crash_and_restart_in_one_interval() -> None:
    before = state()
    after = state(state="restarting", exit_code=None, restart_count=1)
    found, _, _ = diff_containers({"c1": stored(before)}, [after], NOW)
    assert events(found) == [("c1", "restarted", None)]


def test_containers_no_longer_seen_are_removed_once() -> None:
    kept, dropped, old = state("keep"), state("drop"), state("old")
    stored_now = {"keep": stored(kept), "drop": stored(dropped), "old": stored(old, removed=True)}
    found, upserts, gone = diff_containers(stored_now, [kept], NOW)
    assert events(found) == [("drop", "removed", None)]
    assert (upserts, gone) == ([], ["drop"])


def test_an_empty_sample_removes_everything_still_present() -> None:
    stored_now = {"a": stored(state("a")), "b": stored(state("b"))}
    found, _, gone = diff_containers(stored_now, [], NOW)
    assert sorted(gone) == ["a", "b"] and {e.event for e in found} == {"removed"}


def test_a_restart_between_two_samples_is_an_event() -> None:
    """docker restart: running before and after, restart count unchanged, started anew."""
    before = state()
    after = state(started_at=NOW - timedelta(seconds=1), status="Up 1 second")
    found, upserts, _ = diff_containers({"c1": stored(before)}, [after], NOW)
    assert events(found) == [("c1", "restarted", None)]
    assert found[0].detail == "started again" and upserts == [after]
