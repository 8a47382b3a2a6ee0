"""The metric registry, the live schema and the proto agree, column by column (issue 12).

``common.metric_tables`` drives conversion, COPY, the API and the rollup lists;
the migrations that create the tables are hand-written. Against a freshly
migrated database (on the edition under test; scripts/test.sh runs storage
tests on both) this checks every raw table's columns in order with their types,
each rollup's definition and columns, and the proto messages the rows come
from. Broken copies of the registry show that a swap or a changed type fails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest
from google.protobuf.descriptor import FieldDescriptor

from common.metric_tables import METRIC_TABLES, Check, MetricTable
from proto import agent_pb2
from tests.conftest import create_test_database, drop_test_database

pytestmark = [pytest.mark.db, pytest.mark.storage]

Columns = list[tuple[str, str]]
# Per raw table: its columns, its 1-minute rollup definition, and both rollups' column names.
Live = dict[str, tuple[Columns, tuple[str, str] | None, list[list[str]]]]

# information_schema's udt_name for each registry type.
_UDT = {"float8[]": "_float8"}
# Proto field types that can carry each check's values.
_PROTO_TYPES: dict[Check, set[int]] = {
    Check.FLOAT: {FieldDescriptor.TYPE_DOUBLE},
    Check.FLOAT_NONNEG: {FieldDescriptor.TYPE_DOUBLE},
    Check.PERCENT: {FieldDescriptor.TYPE_DOUBLE},
    Check.PERCENT_ARRAY: {FieldDescriptor.TYPE_DOUBLE},
    Check.BIGINT_NONNEG: {FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32},
    Check.INT_NONNEG: {FieldDescriptor.TYPE_UINT32},
    Check.NAME: {FieldDescriptor.TYPE_STRING},
    Check.PATH: {FieldDescriptor.TYPE_STRING},
}
# Scalar proto fields that are deliberately not stored in the message's table.
_NOT_STORED = {
    "PerformanceSnapshot": {"timestamp_unix_ms"},
    "NetworkInterfaceStats": {"rx_bytes_counter", "tx_bytes_counter"},
    "DockerContainerInfo": {
        "name", "image", "state", "status", "created_unix_ms", "started_unix_ms", "finished_unix_ms",
        "restart_count", "exit_code", "oom_killed", "ports", "has_stats",
    },
    "GenericMetric": {"timestamp_unix_ms"},
}  # fmt: skip


def schema_mismatches(table: MetricTable, live: Columns) -> list[str]:
    """Differences between the registry's columns and the live ones, position by position."""
    want = [(c.name, _UDT.get(c.pg_type, c.pg_type)) for c in table.columns]
    problems = [
        f"{table.name} column {i + 1}: registry {w}, database {g}"
        for i, (w, g) in enumerate(zip(want, live, strict=False))
        if w != g
    ]
    if len(want) != len(live):
        problems.append(f"{table.name}: registry has {len(want)} columns, database {len(live)}")
    return problems


def proto_mismatches(table: MetricTable) -> list[str]:
    """Registry columns without a proto field of a fitting type, and proto fields left unstored."""
    assert table.proto is not None
    message = agent_pb2.DESCRIPTOR.message_types_by_name[table.proto]
    problems = []
    read = set()
    for c in table.columns:
        if c.proto_field is None:
            continue
        read.add(c.proto_field)
        f = message.fields_by_name.get(c.proto_field)
        if f is None:
            problems.append(f"{table.name}.{c.name}: {table.proto} has no field {c.proto_field}")
        elif f.type not in _PROTO_TYPES[c.check] or f.is_repeated != c.is_array:
            problems.append(f"{table.name}.{c.name}: {table.proto}.{f.name} cannot carry a {c.check.value}")
    for f in message.fields:
        scalar = f.type != FieldDescriptor.TYPE_MESSAGE
        if scalar and f.name not in read and f.name not in _NOT_STORED.get(table.proto, set()):
            problems.append(f"{table.proto}.{f.name} is sent but stored in no {table.name} column")
    return problems


def rollup_mismatches(
    table: MetricTable, definition: tuple[str, str] | None, live: list[list[str]]
) -> list[str]:
    """The 1-minute rollup's stored definition and columns against the registry's."""
    aggregates = table.rollup_aggregates
    if not aggregates:
        return (
            [] if definition is None else [f"{table.name}: the registry keeps no rollup, the database does"]
        )
    if definition is None:
        return [f"{table.name}: the registry keeps a rollup, the database has none"]
    problems = []
    groups = ", ".join(["vps_id", *([table.series_key] if table.series_key else [])])
    if definition[0] != groups:
        problems.append(f"{table.name}_1m groups by {definition[0]!r}, registry {groups!r}")
    stored = "\n".join(line.strip() for line in definition[1].strip().splitlines())
    if stored != aggregates:
        problems.append(f"{table.name}_1m aggregates differ:\n{stored}\n--- registry ---\n{aggregates}")
    aliases = [line.rsplit(" AS ", 1)[1].rstrip(",") for line in aggregates.splitlines()]
    want = ["bucket", *groups.split(", "), *aliases]
    for rollup, columns in zip((f"{table.name}_1m", f"{table.name}_1h"), live, strict=True):
        if columns != want:
            problems.append(f"{rollup} has columns {columns}, registry {want}")
    return problems


@pytest.fixture(scope="module")
def fresh_dsn() -> Iterator[str]:
    dsn = create_test_database("tidewatch_registry")
    yield dsn
    drop_test_database(dsn)


def _columns(conn: psycopg.Connection[tuple[str, str]], relation: str) -> Columns:
    return conn.execute(
        "SELECT column_name::text, udt_name::text FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (relation,),
    ).fetchall()


@pytest.fixture(scope="module")
def live(fresh_dsn: str) -> Live:
    """Per raw table: its columns, its 1-minute rollup definition, and both rollups' column names."""
    out: Live = {}
    with psycopg.connect(fresh_dsn) as conn:
        for name in METRIC_TABLES:
            row = conn.execute(
                "SELECT group_columns, aggregates FROM rollup_definitions WHERE name = %s", (f"{name}_1m",)
            ).fetchone()
            rollups = [[c for c, _ in _columns(conn, f"{name}_{tier}")] for tier in ("1m", "1h")]
            out[name] = (_columns(conn, name), (row[0], row[1]) if row else None, rollups)
    return out


@pytest.mark.parametrize("name", list(METRIC_TABLES))
def test_registry_matches_the_migrated_schema(name: str, live: Live) -> None:
    columns, definition, rollups = live[name]
    assert columns, f"{name} is missing from the database"
    table = METRIC_TABLES[name]
    assert schema_mismatches(table, columns) == []
    assert rollup_mismatches(table, definition, rollups) == []


@pytest.mark.parametrize("name", list(METRIC_TABLES))
def test_registry_matches_the_proto(name: str) -> None:
    assert proto_mismatches(METRIC_TABLES[name]) == []


def _swapped(table: MetricTable, a: str, b: str) -> MetricTable:
    cols = list(table.columns)
    i, j = (next(k for k, c in enumerate(cols) if c.name == n) for n in (a, b))
    cols[i], cols[j] = cols[j], cols[i]
    return dataclasses.replace(table, columns=tuple(cols))


def test_a_swap_of_two_same_typed_columns_fails(live: Live) -> None:
    host = METRIC_TABLES["host_metrics"]
    broken = _swapped(host, "memory_used_bytes", "memory_available_bytes")
    problems = schema_mismatches(broken, live["host_metrics"][0])
    assert len(problems) == 2 and "memory_available_bytes" in problems[0], problems
    # Swapped with their rollups too, the rollup list no longer matches the database.
    assert rollup_mismatches(broken, *live["host_metrics"][1:]) != []


def test_a_changed_type_fails_against_schema_and_proto(live: Live) -> None:
    net = METRIC_TABLES["network_metrics"]
    cols = tuple(
        dataclasses.replace(c, check=Check.INT_NONNEG) if c.name == "rx_errors" else c for c in net.columns
    )
    broken = dataclasses.replace(net, columns=cols)
    assert schema_mismatches(broken, live["network_metrics"][0]) == [
        "network_metrics column 8: registry ('rx_errors', 'int4'), database ('rx_errors', 'int8')"
    ]
    assert proto_mismatches(broken) == [
        "network_metrics.rx_errors: NetworkInterfaceStats.rx_errors cannot carry a non-negative integer below 2^31"
    ]


def test_a_proto_field_left_out_of_the_registry_fails() -> None:
    host = METRIC_TABLES["host_metrics"]
    broken = dataclasses.replace(host, columns=tuple(c for c in host.columns if c.name != "swap_used_bytes"))
    assert proto_mismatches(broken) == [
        "PerformanceSnapshot.swap_used_bytes is sent but stored in no host_metrics column"
    ]
