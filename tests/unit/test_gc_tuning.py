"""The collector's garbage-collector settings: young collections less often, the startup heap frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from collector.gc_tuning import YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """This test process's own settings, put back afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_raises_only_the_young_threshold_and_freezes_what_exists() -> None:
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    survivor = [object()]  # a list: tracked by the collector until frozen
    tune_gc()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert YOUNG_THRESHOLD > 700
    assert gc.get_freeze_count() > 0
    assert not any(obj is survivor for obj in gc.get_objects())  # in the permanent generation
    assert gc.isenabled()  # cycles are still collected
