"""The proto-typed batch checks (collector.row_checks_proto) give the untyped checks' answers on
rows read from real messages, edge values included, and skip type tests only where a field's
type guarantees them."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import tables
from collector.row_checks import rows_check
from collector.row_checks_proto import proto_rows_check, typed_columns
from collector.row_shapes import row_builder
from collector.tables import BIGINT_MAX, FLOAT_MAX, INT_MAX, Check, Column, Table
from proto import agent_pb2
from tests.unit.test_row_check import loop_accepts

PROTO_TABLES = [t for t in tables.TABLES.values() if t.proto is not None and t is not tables.GENERIC]

_EDGE_FLOATS = [0.0, -0.0, 100.0, math.nextafter(100.0, math.inf), -1e-300, FLOAT_MAX, 1e308, -1e308]
_EDGE_FLOATS += [math.nextafter(FLOAT_MAX, math.inf), math.inf, -math.inf, math.nan]
_EDGE_UINTS = [0, 1, INT_MAX, INT_MAX + 1, 2**32 - 1, BIGINT_MAX, BIGINT_MAX + 1, 2**64 - 1]
_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
_EDGE_TEXT = ["", "a", "\x00", "a\x00b", "x" * 256, "x" * 257, "/" * 4096, "/" * 4097]


def _values(field: FieldDescriptor, valid: bool) -> st.SearchStrategy[Any]:
    """Any value the field can hold; with ``valid``, mostly plain ones (so whole rows pass)."""
    plain: st.SearchStrategy[Any]
    edge: st.SearchStrategy[Any]
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        plain = st.floats(0.0, 100.0)
        edge = st.floats() | st.sampled_from(_EDGE_FLOATS)
    elif field.type == FieldDescriptor.TYPE_UINT64:
        plain = st.integers(0, 2**40)
        edge = st.integers(0, 2**64 - 1) | st.sampled_from(_EDGE_UINTS)
    elif field.type == FieldDescriptor.TYPE_UINT32:
        plain = st.integers(0, 1000)
        edge = st.integers(0, 2**32 - 1) | st.sampled_from([e for e in _EDGE_UINTS if e < 2**32])
    elif field.type == FieldDescriptor.TYPE_STRING:
        plain = st.text(alphabet="abc/_-", min_size=1, max_size=20)
        edge = _TEXT | st.sampled_from(_EDGE_TEXT)
    else:  # pragma: no cover - a new field type needs a strategy here
        raise AssertionError(f"no strategy for {field.full_name}")
    if field.is_repeated:
        return st.lists(plain if valid else plain | edge, max_size=4)
    return plain if valid else plain | edge


@st.composite
def table_rows(draw: st.DrawFn) -> tuple[Table, list[tuple[Any, ...]]]:
    """One to five rows of a table, each read from a message whose fields hold any of their values."""
    table = draw(st.sampled_from(PROTO_TABLES))
    message_type = getattr(agent_pb2, table.proto or "")
    fields = message_type.DESCRIPTOR.fields_by_name
    build = row_builder(table)
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        spoiled = draw(st.sets(st.sampled_from([c.proto_field for c in table.columns[2:]]), max_size=2))
        values = {
            c.proto_field: draw(_values(fields[c.proto_field], c.proto_field not in spoiled))
            for c in table.columns[2:]
            if c.proto_field
        }
        rows.append(build(None, 1, message_type(**values)))  # type: ignore[arg-type]
    return table, rows


@settings(max_examples=2000)
@given(table_rows())
def test_typed_checks_answer_as_the_untyped_ones_on_rows_from_messages(
    case: tuple[Table, list[tuple[Any, ...]]],
) -> None:
    table, rows = case
    typed = proto_rows_check(table)(rows)
    assert typed is rows_check(table)(rows)
    assert typed is all(loop_accepts(table, row) for row in rows)


def test_only_scalar_fields_of_the_rule_s_type_skip_the_type_test() -> None:
    host = typed_columns(tables.HOST)
    names = [c.name for c in tables.HOST.columns]
    assert names.index("cpu_per_core_percent") not in host  # repeated
    assert 0 not in host and 1 not in host  # time and vps_id are the collector's
    assert len(host) == len(names) - 3
    generic = [c.name for c in tables.GENERIC.columns]
    assert generic.index("labels") not in typed_columns(tables.GENERIC)  # derived by the collector
    # A rule whose type the field does not give is tested in full.
    head = tables.DISK.columns[:2]
    odd = Table("odd", (*head, Column("mountpoint", Check.PERCENT)), proto="DiskUsage")
    assert typed_columns(odd) == frozenset()
    assert proto_rows_check(odd)([(None, 1, "50")]) is False
