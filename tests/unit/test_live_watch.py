"""Watch mode's pure parts: who may watch, the per-instance viewer count, the config overlay."""

from __future__ import annotations

from api.live.watch import WatchLeases, watchable
from collector.agent_config import WATCH_BATCH_MAX_SNAPSHOTS, effective_config
from common.settings import CollectorSettings
from proto import agent_pb2


def test_a_subscription_watches_what_it_names_when_it_asks() -> None:
    assert watchable([3, 4], everything=False, asked=True, max_vps=12) == {3, 4}
    assert watchable([3, 4], everything=False, asked=False, max_vps=12) == frozenset()
    assert watchable(range(1, 14), everything=False, asked=True, max_vps=12) == frozenset()


def test_the_whole_fleet_is_watched_only_when_small() -> None:
    assert watchable([], everything=True, asked=True, max_vps=3, fleet=[1, 2, 3]) == {1, 2, 3}
    assert watchable([], everything=True, asked=True, max_vps=3, fleet=[1, 2, 3, 4]) == frozenset()
    assert watchable([9], everything=True, asked=False, max_vps=3, fleet=[1]) == frozenset()


def test_viewers_are_counted_per_vps_across_sockets() -> None:
    leases = WatchLeases(grace_s=30)
    leases.change(frozenset(), frozenset({1, 2}))
    leases.change(frozenset(), frozenset({2}))
    assert leases.watched() == {1, 2}
    leases.change(frozenset({1, 2}), frozenset())
    assert leases.watched() == {2}  # the second socket still watches 2
    leases.change(frozenset({2}), frozenset({3}))
    assert leases.watched() == {3}
    assert leases.renew_s < leases.grace_s


def test_watch_mode_overrides_batching_and_nothing_else() -> None:
    settings = CollectorSettings(snapshot_interval_ms=2000, batch_max_snapshots=5, batch_max_delay_ms=5000)
    local = agent_pb2.FeatureSwitches(docker=True)
    normal = effective_config(settings, {"batch_max_snapshots": 8}, local)
    watched = effective_config(settings, {"batch_max_snapshots": 8}, local, watched=True)
    assert normal.batch_max_snapshots == 8
    assert watched.batch_max_snapshots == WATCH_BATCH_MAX_SNAPSHOTS == 1
    assert watched.batch_max_delay_ms < normal.batch_max_delay_ms
    assert watched.snapshot_interval_ms == normal.snapshot_interval_ms == 2000
    assert watched.features == normal.features
