"""What each metrics endpoint returns, and the SQL that computes it.

A :class:`SeriesSpec` names a raw hypertable, the column that splits it into
series (interface, mount, ...) and the output fields with their aggregate; each
is derived from the table's entry in ``common.metric_tables``.
From it come both queries: raw samples bucketed on the fly, and rollup rows
re-bucketed to the step. Identifiers come only from these specs, never from
the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any

from psycopg import sql

from api.metrics.resolution import TIER_WIDTHS, Plan
from common import metric_tables
from common.api_models.metrics import Resolution
from common.metric_tables import Agg, MetricTable

__all__ = [
    "CONTAINERS",
    "CONTAINER_LABELS",
    "DISKIO",
    "DISKS",
    "HOST",
    "NETWORK",
    "Agg",
    "Field",
    "SeriesLabels",
    "SeriesSpec",
    "build_columnar_query",
    "build_query",
    "columns_of",
    "query_params",
    "spec_for",
    "to_columns",
]


@dataclass(frozen=True, slots=True)
class Field:
    """An output array: ``name`` computed from raw ``column`` with ``agg``.

    ``rollup_column`` is the rollup column it is re-aggregated from; ``None``
    when the registry keeps no rollup of the column (then rollup-resolution
    responses carry nulls for it).
    """

    name: str
    column: str
    agg: Agg
    rollup_column: str | None


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """One endpoint's data: table, series key and fields."""

    table: str
    series_key: str | None
    fields: tuple[Field, ...]


def spec_for(table: MetricTable) -> SeriesSpec:
    """The series spec of a registry table: its outputs, in order."""
    fields = []
    for o in table.outputs:
        column = table.column(o.column)
        rolled = column.rollup_column(o.agg) if o.agg in column.rollup else None
        fields.append(Field(o.name, o.column, o.agg, rolled))
    return SeriesSpec(table.name, table.series_key, tuple(fields))


@dataclass(frozen=True, slots=True)
class SeriesLabels:
    """Text columns of each series kept in another table (``table``, keyed on ``vps_id`` and
    ``key`` = the series key), read in the same statement as the series: one round trip."""

    table: str
    key: str
    columns: tuple[str, ...]


HOST = spec_for(metric_tables.HOST)
NETWORK = spec_for(metric_tables.NETWORK)
DISKS = spec_for(metric_tables.DISK)
DISKIO = spec_for(metric_tables.DISK_IO)
CONTAINERS = spec_for(metric_tables.CONTAINER)
# A container's name and image, from its current record.
CONTAINER_LABELS = SeriesLabels("containers", "container_id", ("name", "image"))

_DOUBLE = sql.SQL("::double precision")


# A bucket's start as epoch milliseconds, computed by PostgreSQL once per output row:
# converting each datetime in Python took an eighth of a 24-hour request's time.
def _time_ms(column: str) -> sql.Composed:
    return sql.SQL("(1000 * extract(epoch FROM time_bucket(%(step)s, {})))::bigint").format(
        sql.Identifier(column)
    )


def _raw_agg(f: Field) -> sql.Composable:
    col = sql.Identifier(f.column)
    if f.agg is Agg.LAST:
        return sql.SQL("last({}, time)").format(col)
    return sql.SQL("{}({})").format(sql.SQL(f.agg.value), col)


def _rollup_agg(f: Field) -> sql.Composable:
    if f.rollup_column is None:
        return sql.SQL("NULL")
    col = sql.Identifier(f.rollup_column)
    if f.agg is Agg.AVG:
        # Weighted by samples, so re-bucketing averages stays exact.
        return sql.SQL("sum({} * sample_count) / nullif(sum(sample_count), 0)").format(col)
    if f.agg is Agg.LAST:
        return sql.SQL("last({}, bucket)").format(col)
    return sql.SQL("{}({})").format(sql.SQL(f.agg.value), col)


def build_query(
    spec: SeriesSpec, plan: Plan, *, live_rollups: bool, labels: SeriesLabels | None = None
) -> bytes:
    """The query for ``spec`` under ``plan``; parameters ``vps_id``, ``start``, ``end``, ``step``.

    ``live_rollups``: the rollup is a real-time continuous aggregate (Community
    edition). Otherwise buckets past the rollup's watermark come from raw rows.
    ``labels``: each row also carries these text columns of its series (``NULL`` when
    the other table has no record of it), after the fields.

    The text depends only on the spec, the tier and these flags (the step is a
    parameter), so it is composed once and remembered: composing it took about a
    tenth of a short request's time in the API process.
    """
    return _statement(spec, plan.resolution, live_rollups, labels)


@lru_cache(maxsize=256)
def _statement(
    spec: SeriesSpec, resolution: Resolution, live_rollups: bool, labels: SeriesLabels | None
) -> bytes:
    return _compose(spec, resolution, live_rollups=live_rollups, labels=labels).as_bytes(None)


def _compose(
    spec: SeriesSpec, resolution: Resolution, *, live_rollups: bool, labels: SeriesLabels | None
) -> sql.Composed:
    series_query = _series_query(spec, resolution, live_rollups=live_rollups)
    if labels is None or spec.series_key is None:
        return series_query
    return sql.SQL(
        "SELECT s.*, {columns} FROM ({series_query}) s LEFT JOIN {table} l"
        " ON l.vps_id = %(vps_id)s AND l.{key} = s.series ORDER BY s.series, s.time_ms"
    ).format(
        columns=sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c)) for c in labels.columns),
        series_query=series_query,
        table=sql.Identifier(labels.table),
        key=sql.Identifier(labels.key),
    )


def build_columnar_query(
    spec: SeriesSpec, plan: Plan, *, live_rollups: bool, labels: SeriesLabels | None = None
) -> bytes:
    """:func:`build_query` with one row per series and one array per column (read with :func:`columns_of`).

    PostgreSQL builds the arrays and psycopg's binary array loader (C) turns each into a
    list: no tuple per row and no transposing in Python. Every ``array_agg`` orders by the
    bucket, so the planner sorts once (the rows come sorted already). No rows, no series.
    """
    return _columnar_statement(spec, plan.resolution, live_rollups, labels)


@lru_cache(maxsize=256)
def _columnar_statement(
    spec: SeriesSpec, resolution: Resolution, live_rollups: bool, labels: SeriesLabels | None
) -> bytes:
    series_query = _series_query(spec, resolution, live_rollups=live_rollups)
    arrays = sql.SQL(", ").join(
        sql.SQL("array_agg({name} ORDER BY time_ms) AS {name}").format(name=sql.Identifier(name))
        for name in ("time_ms", *(f.name for f in spec.fields))
    )
    if spec.series_key is None:
        return (
            sql.SQL("SELECT {arrays} FROM ({series_query}) s HAVING count(*) > 0")
            .format(arrays=arrays, series_query=series_query)
            .as_bytes(None)
        )
    columnar = sql.SQL("SELECT series, {arrays} FROM ({series_query}) s GROUP BY series").format(
        arrays=arrays, series_query=series_query
    )
    if labels is None:
        return sql.SQL("{} ORDER BY series").format(columnar).as_bytes(None)
    return (
        sql.SQL(
            "SELECT c.*, {columns} FROM ({columnar}) c LEFT JOIN {table} l"
            " ON l.vps_id = %(vps_id)s AND l.{key} = c.series ORDER BY c.series"
        )
        .format(
            columns=sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c)) for c in labels.columns),
            columnar=columnar,
            table=sql.Identifier(labels.table),
            key=sql.Identifier(labels.key),
        )
        .as_bytes(None)
    )


def columns_of(
    spec: SeriesSpec, rows: list[tuple[Any, ...]], labels: SeriesLabels | None = None
) -> dict[str | None, dict[str, Any]]:
    """Rows of :func:`build_columnar_query` as :func:`to_columns` gives them: one columnar dict per series."""
    names = ["time_ms", *(f.name for f in spec.fields)]
    first = 0 if spec.series_key is None else 1
    end = first + len(names)
    label_names = labels.columns if labels is not None and spec.series_key is not None else ()
    out: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        series: dict[str, Any] = {k: row[end + i] or "" for i, k in enumerate(label_names)}
        series.update(zip(names, row[first:end], strict=True))
        out[None if first == 0 else row[0]] = series
    return out


def _series_query(spec: SeriesSpec, resolution: Resolution, *, live_rollups: bool) -> sql.Composed:
    key = sql.SQL(", {}").format(sql.Identifier(spec.series_key)) if spec.series_key else sql.SQL("")
    series = (
        sql.SQL(", {} AS series").format(sql.Identifier(spec.series_key)) if spec.series_key else sql.SQL("")
    )
    order = sql.SQL("series, ") if spec.series_key else sql.SQL("")
    if resolution == "raw":
        outputs = sql.SQL(", ").join(
            sql.SQL("{}{} AS {}").format(_raw_agg(f), _DOUBLE, sql.Identifier(f.name)) for f in spec.fields
        )
        return sql.SQL(
            "SELECT {time_ms} AS time_ms{series}, {outputs} FROM {table}"
            " WHERE vps_id = %(vps_id)s AND time >= %(start)s AND time < %(end)s"
            " GROUP BY time_bucket(%(step)s, time){key} ORDER BY {order}time_bucket(%(step)s, time)"
        ).format(
            time_ms=_time_ms("time"),
            series=series,
            outputs=outputs,
            table=sql.Identifier(spec.table),
            key=key,
            order=order,
        )

    rollup = f"{spec.table}_{resolution}"
    columns = list(dict.fromkeys(f.rollup_column for f in spec.fields if f.rollup_column is not None))
    by_column = {f.rollup_column: f for f in spec.fields}
    stored = sql.SQL(", ").join(sql.Identifier(c) for c in [*columns, "sample_count"])
    computed = sql.SQL(", ").join(
        [sql.SQL("{} AS {}").format(_raw_agg(by_column[c]), sql.Identifier(c)) for c in columns]
        + [sql.SQL("count(*) AS sample_count")]
    )
    outputs = sql.SQL(", ").join(
        sql.SQL("{}{} AS {}").format(_rollup_agg(f), _DOUBLE, sql.Identifier(f.name)) for f in spec.fields
    )
    watermark = (
        sql.SQL("'infinity'::timestamptz")
        if live_rollups
        else sql.SQL(
            "(SELECT coalesce(watermark, '-infinity') FROM rollup_watermarks WHERE name = {})"
        ).format(sql.Literal(rollup))
    )
    return sql.SQL(
        "WITH src AS ("
        " SELECT bucket{key}, {stored} FROM {rollup}"
        "  WHERE vps_id = %(vps_id)s AND bucket >= time_bucket({width}, %(start)s)"
        "  AND bucket < %(end)s AND bucket < {watermark}"
        " UNION ALL"
        " SELECT time_bucket({width}, time) AS bucket{key}, {computed} FROM {table}"
        "  WHERE vps_id = %(vps_id)s AND time >= greatest(time_bucket({width}, %(start)s), {watermark})"
        "  AND time < %(end)s GROUP BY 1{key})"
        " SELECT {time_ms} AS time_ms{series}, {outputs} FROM src"
        " GROUP BY time_bucket(%(step)s, bucket){key} ORDER BY {order}time_bucket(%(step)s, bucket)"
    ).format(
        time_ms=_time_ms("bucket"),
        key=key,
        stored=stored,
        rollup=sql.Identifier(rollup),
        width=sql.Literal(TIER_WIDTHS[resolution]),
        watermark=watermark,
        computed=computed,
        table=sql.Identifier(spec.table),
        series=series,
        outputs=outputs,
        order=order,
    )


def to_columns(
    spec: SeriesSpec, rows: list[tuple[Any, ...]], labels: SeriesLabels | None = None
) -> dict[str | None, dict[str, Any]]:
    """Tuple rows of :func:`build_query`, ordered by series then bucket, as one columnar dict per series.

    Transposed with ``zip`` (in C): no Python work per value (the query gives each bucket
    as epoch milliseconds already).
    With ``labels``, each series also gets those columns' values (from its first row; ``""``
    where the label table has no record).

    The routes read :func:`build_columnar_query` instead; this reading of the row statement
    is the reference ``tests/api/test_series_columnar.py`` pins the columnar one against.
    """
    if not rows:
        return {}
    names = [f.name for f in spec.fields]
    first = 1 if spec.series_key is None else 2  # the columns after bucket (and series)
    end = first + len(names)
    label_names = labels.columns if labels is not None and spec.series_key is not None else ()
    groups = [(None, rows)] if spec.series_key is None else groupby(rows, key=itemgetter(1))
    out: dict[str | None, dict[str, Any]] = {}
    for key, part in groups:
        columns = list(zip(*part, strict=True))
        series: dict[str, Any] = {k: columns[end + i][0] or "" for i, k in enumerate(label_names)}
        series["time_ms"] = list(columns[0])
        series.update(zip(names, map(list, columns[first:end]), strict=True))
        out[key] = series
    return out


def query_params(vps_id: int, start: datetime, end: datetime, step: timedelta) -> dict[str, Any]:
    """Parameters for :func:`build_query`."""
    return {"vps_id": vps_id, "start": start, "end": end, "step": step}
