"""Batch checks for rows read straight from proto fields, in the registry's column order.

A value read from a proto field has the field's type: a ``double`` is a Python
float, a ``uint64``/``uint32`` a non-negative int, a ``string`` a str. The batch
checks (``collector.row_checks``) need not test that again for such columns;
every other rule (bounds, NaN, length, NUL) still applies. Which columns qualify
is read from the proto descriptors when the module loads, so a field whose type
changes is checked in full again. ``tests/unit/test_row_check.py`` holds these
checks to the untyped ones on rows built from messages.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from collector.row_checks import RowsCheck, rows_check
from common.metric_tables import Check, MetricTable
from proto import agent_pb2

__all__ = ["proto_rows_check", "typed_columns"]

_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
_UNSIGNED = frozenset(
    {
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_FIXED32,
    }
)
_STRINGS = frozenset({FieldDescriptor.TYPE_STRING})
# The field types that give each rule's Python type.
_GUARANTEED_BY: dict[Check, frozenset[int]] = {
    Check.PERCENT: _FLOATS,
    Check.FLOAT_NONNEG: _FLOATS,
    Check.FLOAT: _FLOATS,
    Check.BIGINT_NONNEG: _UNSIGNED,
    Check.INT_NONNEG: _UNSIGNED,
    Check.NAME: _STRINGS,
    Check.PATH: _STRINGS,
}


def typed_columns(table: MetricTable) -> frozenset[int]:
    """Indices of the columns whose proto field's type guarantees the rule's Python type."""
    if table.proto is None:
        return frozenset()
    fields = getattr(agent_pb2, table.proto).DESCRIPTOR.fields_by_name
    typed = set()
    for index, column in enumerate(table.columns[2:], start=2):
        field = fields.get(column.proto_field) if column.proto_field else None
        if field is not None and not field.is_repeated and field.type in _GUARANTEED_BY.get(column.check, ()):
            typed.add(index)
    return frozenset(typed)


def proto_rows_check(table: MetricTable) -> RowsCheck:
    """The table's batch check for rows whose values come from its proto message's fields."""
    return rows_check(table, typed_columns(table))
