"""Does an audience filter's value fit its column's type? One rule for ``crm validate --check-warehouse`` and for
reading an audience (so a text compared with an integer column is a clear error naming the filter and column,
never DuckDB's raw conversion error in the middle of a run)."""

from __future__ import annotations

from datetime import date
from typing import Any

from activation.config.models import FilterCondition

_INTEGER = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "INT",
    "INT1",
    "INT2",
    "INT4",
    "INT8",
    "LONG",
)
_DECIMAL = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "FLOAT4", "FLOAT8")
_TEXT = ("VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR")


def _kind(column_type: str) -> str | None:
    base = column_type.upper().split("(")[0].strip()
    if base in _INTEGER:
        return "integer"
    if base in _DECIMAL:
        return "number"
    if base in _TEXT:
        return "text"
    if base in ("BOOLEAN", "BOOL"):
        return "boolean"
    if base == "DATE" or base.startswith("TIMESTAMP"):
        return "date"
    return None  # lists, structs, …: not checked here


def _fits(value: Any, kind: str) -> bool:
    if kind in ("integer", "number"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "text":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, date):
        return True
    if isinstance(value, str):
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return False
        return True
    return False


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    return f"{value!r} ({type(value).__name__})"


HINT = {
    "integer": "write a whole number without quotes",
    "number": "write a number without quotes",
    "text": "write the value in quotes",
    "boolean": "write true or false",
    "date": "write a date YYYY-MM-DD",
}


def value_type_problem(cond: FilterCondition, column_type: str) -> str | None:
    """Why ``cond``'s value cannot be compared with a column of ``column_type``, or ``None`` when it can."""
    if cond.op in ("is_null", "not_null", "starts_with", "contains"):
        return None  # no value, or the column is read as text
    kind = _kind(column_type)
    if kind is None:
        return None
    values = cond.value if isinstance(cond.value, list) else [cond.value]
    for value in values:
        if not _fits(value, kind):
            return (
                f"value {_describe(value)} does not fit column '{cond.column}' of type {column_type}: "
                f"{HINT[kind]}"
            )
    return None
