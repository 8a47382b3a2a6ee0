"""The fast conversion path against the checked one, on the same batches.

``convert_batch`` tries ``collector.rows_fast`` first and falls back to
``checked_convert_batch`` (the item-by-item reference) when it doubts. Both must
give the same rows, times, live summary and container states on valid batches,
and the same error, naming the same field, on invalid ones.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from collector import rows_fast
from collector.rows import TimeRules, checked_convert_batch, convert_batch
from collector.validation import BatchLimits, InvalidBatch
from proto import agent_pb2
from tests.factories import docker_batch, performance_batch

NOW_MS = 1_800_000_000_000
RULES = TimeRules(now_ms=NOW_MS, max_future_ms=300_000, max_age_ms=7 * 86_400_000)


def _outcome(convert: Any, payload: str, batch: Any, rules: TimeRules = RULES) -> tuple[str, Any]:
    try:
        c = convert(payload, batch, 31, rules)
    except InvalidBatch as exc:
        return "invalid", str(exc)
    states = (
        None if c.containers is None else [tuple(getattr(s, f) for f in s.__slots__) for s in c.containers]
    )
    return "ok", (c.kind, c.sequence, c.batch_time, c.dedup_time, c.docker_time, c.rows, c.live, states)


def _valid_batches(seed: int) -> list[tuple[str, Any]]:
    rng = random.Random(seed)
    out: list[tuple[str, Any]] = []
    for seq in range(1, 31):
        t0 = NOW_MS - rng.randrange(60_000, 3_600_000)
        shape = {
            "disks": rng.randrange(0, 6),
            "interfaces": rng.randrange(0, 5),
            "cores": rng.randrange(1, 9),
        }
        batch = performance_batch(seq, [t0 + i * 1000 for i in range(rng.randrange(1, 8))], **shape)
        for s in batch.snapshots[:: rng.randrange(1, 4)]:
            s.temperatures.add(sensor=f"core{seq}", celsius=rng.uniform(-10, 90))
        out.append(("performance_batch", batch))
        docker = docker_batch(seq, t0, containers=rng.randrange(0, 12))
        for c in docker.containers[:: rng.randrange(2, 5)]:
            c.has_stats = False
            c.state, c.exit_code = "exited", 3
        out.append(("docker_batch", docker))
    return out


def test_valid_batches_convert_alike_and_take_the_fast_path() -> None:
    batches = _valid_batches(5)
    for payload, batch in batches:
        assert _outcome(convert_batch, payload, batch) == _outcome(checked_convert_batch, payload, batch)
    # Every container has been seen once now: the fast path itself converts them all.
    for payload, batch in batches:
        fast = rows_fast.convert_fast(payload, batch, 31, RULES, rows_fast.DEFAULT_LIMITS)
        assert fast is not None, payload
        assert _outcome(lambda *_, done=fast: done, payload, batch) == _outcome(
            checked_convert_batch, payload, batch
        )


def test_a_changed_container_is_converted_anew() -> None:
    batch = docker_batch(1, NOW_MS - 60_000, containers=3)
    convert_batch("docker_batch", batch, 31, RULES)
    batch.containers[1].state, batch.containers[1].exit_code = "exited", 137
    batch.containers[2].labels["tier"] = "db"
    assert rows_fast.convert_fast("docker_batch", batch, 31, RULES, rows_fast.DEFAULT_LIMITS) is None
    converted = convert_batch("docker_batch", batch, 31, RULES)
    assert converted.containers is not None
    assert (converted.containers[1].state, converted.containers[1].exit_code) == ("exited", 137)
    assert converted.containers[2].labels_json == '{"com.example.role": "web", "tier": "db"}'
    assert _outcome(convert_batch, "docker_batch", batch) == _outcome(
        checked_convert_batch, "docker_batch", batch
    )


def test_other_limits_never_use_remembered_containers() -> None:
    batch = docker_batch(1, NOW_MS - 60_000, containers=2)
    convert_batch("docker_batch", batch, 31, RULES)
    strict = BatchLimits(ports_per_container=0)
    with pytest.raises(InvalidBatch, match=r"^containers\[0\]\.ports: 1 items, more than the limit of 0$"):
        convert_batch("docker_batch", batch, 31, RULES, strict)


_BAD_FLOATS = [math.nan, math.inf, -math.inf, -1.0, 100.5, 1e19, -0.0, 0.0]
_BAD_INTS = [2**31, 2**63 - 1, 2**64 - 1, 0]
_BAD_TEXT = ["", "a\x00b", "x" * 257, "/" * 4097, "ok"]
_BAD_TIMES = [0, 1, NOW_MS + 400_000, NOW_MS - 8 * 86_400_000, NOW_MS]


def _spoil(message: Any, rng: random.Random) -> None:
    """Set one scalar field somewhere in ``message`` to an edge value (often invalid)."""
    targets: list[tuple[Any, Any]] = []

    def walk(m: Any) -> None:
        for field in m.DESCRIPTOR.fields:
            if field.message_type is not None:
                if field.is_repeated and not field.message_type.GetOptions().map_entry:
                    for item in getattr(m, field.name):
                        walk(item)
                continue
            if not field.is_repeated:
                targets.append((m, field))

    walk(message)
    m, field = rng.choice(targets)
    if field.name.endswith("unix_ms"):
        value: Any = rng.choice(_BAD_TIMES)
    elif field.type == field.TYPE_DOUBLE:
        value = rng.choice(_BAD_FLOATS)
    elif field.type == field.TYPE_STRING:
        value = rng.choice(_BAD_TEXT)
    elif field.type == field.TYPE_BOOL:
        value = not getattr(m, field.name)
    else:
        unsigned = field.type in (field.TYPE_UINT32, field.TYPE_UINT64)
        bits = 32 if field.type in (field.TYPE_UINT32, field.TYPE_INT32, field.TYPE_SINT32) else 64
        top = 2**bits - 1 if unsigned else 2 ** (bits - 1) - 1
        value = min(rng.choice(_BAD_INTS if unsigned else [*_BAD_INTS, -1]), top)
    setattr(m, field.name, value)


@pytest.mark.parametrize("seed", range(6))
def test_spoiled_batches_give_the_same_answer_both_ways(seed: int) -> None:
    rng = random.Random(seed)
    invalid = 0
    for payload, batch in _valid_batches(seed):
        convert_batch(payload, batch, 31, RULES)  # remember its containers, as a live stream would
        for _ in range(8):
            spoiled = type(batch)()
            spoiled.CopyFrom(batch)
            _spoil(spoiled, rng)
            fast = _outcome(convert_batch, payload, spoiled)
            assert fast == _outcome(checked_convert_batch, payload, spoiled)
            invalid += fast[0] == "invalid"
    assert invalid > 50  # the edge values do break batches, so errors were compared too


def test_an_array_with_nan_goes_to_the_checked_path() -> None:
    batch = performance_batch(1, [NOW_MS - 5000, NOW_MS - 4000], cores=3)
    batch.snapshots[1].cpu_per_core_percent[2] = math.nan
    assert rows_fast.convert_fast("performance_batch", batch, 1, RULES, rows_fast.DEFAULT_LIMITS) is None
    with pytest.raises(InvalidBatch, match=r"^snapshots\[1\]\.cpu_per_core_percent: "):
        convert_batch("performance_batch", batch, 1, RULES)


def test_other_payloads_have_no_fast_path() -> None:
    batch = agent_pb2.GenericMetricsBatch(sequence=1)
    batch.metrics.add(timestamp_unix_ms=NOW_MS - 1000, name="queue_depth", value=3.0)
    assert rows_fast.convert_fast("generic_metrics_batch", batch, 1, RULES, rows_fast.DEFAULT_LIMITS) is None
    assert convert_batch("generic_metrics_batch", batch, 1, RULES).row_count == 1
