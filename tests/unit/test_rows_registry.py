"""The registry-built conversion against the frozen positional one, row by row.

``tests/frozen_rows.py`` is the conversion as it was before the metric
registry, each row written out by hand. Both convert the same factory batches;
every row must be equal, value for value, apart from the columns added since
(which must hold their proto field's value).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from collector import rows as registry_rows
from collector.rows import TimeRules, row_builder
from common.metric_tables import METRIC_TABLES, Check, Column, MetricTable
from tests import frozen_rows
from tests.factories import docker_batch, performance_batch
from tests.frozen_tables import ADDED_SINCE

NOW_MS = 1_800_000_000_000
RULES = TimeRules(now_ms=NOW_MS, max_future_ms=300_000, max_age_ms=7 * 86_400_000)


def _batches() -> list[tuple[str, Any]]:
    rng = random.Random(12)
    out: list[tuple[str, Any]] = []
    for seq in range(1, 41):
        t0 = NOW_MS - rng.randrange(60_000, 3_600_000)
        shape = {
            "disks": rng.randrange(1, 6),
            "interfaces": rng.randrange(1, 5),
            "cores": rng.randrange(1, 9),
        }
        batch = performance_batch(seq, [t0 + i * 1000 for i in range(rng.randrange(1, 8))], **shape)
        for s in batch.snapshots[:: rng.randrange(1, 4)]:
            s.temperatures.add(sensor=f"core{seq}", celsius=rng.uniform(-10, 90))
        out.append(("performance_batch", batch))
        out.append(("docker_batch", docker_batch(seq, t0, containers=rng.randrange(1, 12))))
    return out


@pytest.mark.parametrize(("payload", "batch"), _batches())
def test_registry_conversion_equals_the_frozen_positional_one(payload: str, batch: Any) -> None:
    new = registry_rows.convert_batch(payload, batch, 77, RULES)
    old = frozen_rows.convert_batch(payload, batch, 77, RULES)
    assert new.rows.keys() == old.rows.keys()
    assert new.row_count == old.row_count
    for name, old_rows in old.rows.items():
        table = METRIC_TABLES[name]
        added = ADDED_SINCE.get(name, ())
        kept = [i for i, c in enumerate(table.columns) if c.name not in added]
        assert len(kept) == len(old_rows[0]), f"{name}: frozen rows have another width"
        for old_row, new_row in zip(old_rows, new.rows[name], strict=True):
            assert tuple(new_row[i] for i in kept) == old_row
            assert [type(new_row[i]) for i in kept] == [type(v) for v in old_row]
    if payload == "performance_batch":  # one host row per snapshot, in order
        shared = METRIC_TABLES["host_metrics"].columns.index(
            METRIC_TABLES["host_metrics"].column("memory_shared_bytes")
        )
        assert [r[shared] for r in new.rows["host_metrics"]] == [
            s.memory_shared_bytes for s in batch.snapshots
        ]
    assert (new.batch_time, new.dedup_time, new.live) == (old.batch_time, old.dedup_time, old.live)
    assert [vars_of(c) for c in new.containers or []] == [vars_of(c) for c in old.containers or []]


def test_the_batches_carry_the_added_field() -> None:
    # Otherwise the check on memory_shared_bytes above would only compare proto defaults.
    perf = [b for kind, b in _batches() if kind == "performance_batch"]
    assert all(s.memory_shared_bytes > 0 for b in perf for s in b.snapshots)


def vars_of(state: Any) -> tuple[Any, ...]:
    return tuple(getattr(state, f) for f in state.__slots__)


def test_a_builder_follows_the_registry_order_so_a_swap_would_show() -> None:
    # The same two columns of one type, swapped in a copy of the registry entry:
    # the built rows differ from the frozen ones, so the test above would fail.
    table = METRIC_TABLES["host_metrics"]
    cols = list(table.columns)
    i, j = (next(k for k, c in enumerate(cols) if c.name == n) for n in ("load_5", "load_15"))
    cols[i], cols[j] = cols[j], cols[i]
    swapped = MetricTable(table.name, tuple(cols), table.proto)
    batch = performance_batch(1, [NOW_MS - 60_000])
    s = batch.snapshots[0]
    old = frozen_rows.convert_batch("performance_batch", batch, 1, RULES).rows["host_metrics"][0]
    bad = row_builder(swapped)(old[0], 1, s)
    assert bad[: len(old)] != old
    assert (bad[i], bad[j]) == (s.load_15, s.load_5)


def test_a_column_without_a_proto_field_is_refused_by_the_builder() -> None:
    with pytest.raises(ValueError, match="needs its own conversion"):
        row_builder(METRIC_TABLES["generic_metrics"])
    lone = MetricTable("t", (Column("time", Check.TIME, source=None), Column("vps_id", Check.ID, source=None),
                             Column("celsius", Check.FLOAT)))  # fmt: skip
    reading = type("R", (), {"celsius": 4.5})()
    assert row_builder(lone)(None, 3, reading) == (None, 3, 4.5)  # type: ignore[arg-type]


def _cols(*specs: tuple[str, Check]) -> MetricTable:
    head = (Column("time", Check.TIME, source=None), Column("vps_id", Check.ID, source=None))
    return MetricTable("t", head + tuple(Column(n, c) for n, c in specs))


@pytest.mark.parametrize(
    "layout",
    [
        "a",  # one value
        "L",  # one list
        "ab",  # plain values
        "aLbc",  # one list after one value (host_metrics' shape)
        "abLcd",  # one list after several
        "Lab",  # a list first
        "abL",  # a list last
        "aLbLc",  # two lists
    ],
)
def test_every_builder_shape_reads_each_field_in_order(layout: str) -> None:
    specs = [(f"f{i}", Check.PERCENT_ARRAY if k == "L" else Check.FLOAT) for i, k in enumerate(layout)]
    values = {
        name: ((i, i + 0.5) if check is Check.PERCENT_ARRAY else float(i))
        for i, (name, check) in enumerate(specs)
    }
    message = type("M", (), values)()
    row = row_builder(_cols(*specs))("t0", 9, message)  # type: ignore[arg-type]
    expected = [list(v) if isinstance(v, tuple) else v for v in values.values()]
    assert row == ("t0", 9, *expected)
    assert [type(v) for v in row[2:]] == [type(v) for v in expected]
