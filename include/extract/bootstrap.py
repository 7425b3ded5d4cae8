"""Creates every raw table of the contract, empty, where it does not exist yet.

dlt creates a table only when a load carries rows for it, and a column only when some value is not null. The dbt
project reads every raw table of :mod:`include.core.contracts` (e.g. ``raw_messaging.message_reports`` before the first send),
so the nightly run calls :func:`ensure_raw_tables` first. Existing tables are left alone, except that missing contract
columns are added (dlt would add them the same way), so a table never lacks a column dbt selects.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from include.core.contracts import ALL_TABLES, RawTable

_SQL_TYPES = {
    "duckdb": {
        "text": "VARCHAR",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "bool": "BOOLEAN",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "date": "DATE",
        "json": "JSON",
    },
    "postgres": {
        "text": "VARCHAR",
        "bigint": "BIGINT",
        "double": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "date": "DATE",
        "json": "JSONB",
    },
}
_DLT_COLUMNS = {"_dlt_load_id": "text", "_dlt_id": "text"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ddl_statements(dialect: str, tables: Iterable[RawTable] = ALL_TABLES) -> list[str]:
    """``CREATE SCHEMA/TABLE IF NOT EXISTS`` statements for the given tables in ``duckdb`` or ``postgres`` SQL."""
    types = _SQL_TYPES[dialect]
    stmts: list[str] = []
    for schema in sorted({t.schema for t in tables}):
        stmts.append(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
    for t in tables:
        cols = {**t.columns, **_DLT_COLUMNS}
        body = ", ".join(f"{_q(c)} {types[d]}" for c, d in cols.items())
        stmts.append(f"CREATE TABLE IF NOT EXISTS {_q(t.schema)}.{_q(t.name)} ({body})")
    return stmts


def _missing_column_statements(dialect: str, existing: dict[tuple[str, str], set[str]], tables) -> list[str]:
    types = _SQL_TYPES[dialect]
    out = []
    for t in tables:
        have = existing.get((t.schema, t.name))
        if have is None:
            continue
        for col, dtype in {**t.columns, **_DLT_COLUMNS}.items():
            if col not in have:
                out.append(f"ALTER TABLE {_q(t.schema)}.{_q(t.name)} ADD COLUMN {_q(col)} {types[dtype]}")
    return out


def ensure_raw_tables_duckdb(warehouse: Path | str, tables: Iterable[RawTable] = ALL_TABLES) -> None:
    """Creates missing raw schemas/tables/columns in a DuckDB warehouse file."""
    import duckdb

    tables = tuple(tables)
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        for stmt in ddl_statements("duckdb", tables):
            con.execute(stmt)
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema like 'raw_%'"
        ).fetchall()
        existing: dict[tuple[str, str], set[str]] = {}
        for s, n, c in rows:
            existing.setdefault((s, n), set()).add(c)
        for stmt in _missing_column_statements("duckdb", existing, tables):
            con.execute(stmt)


def ensure_raw_tables_postgres(dsn: str, tables: Iterable[RawTable] = ALL_TABLES) -> None:
    """Creates missing raw schemas/tables/columns in a PostgreSQL database (``postgresql://…`` DSN)."""
    import psycopg

    tables = tuple(tables)
    with psycopg.connect(dsn, autocommit=True) as con:
        for stmt in ddl_statements("postgres", tables):
            con.execute(stmt)
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema like 'raw\\_%'"
        ).fetchall()
        existing: dict[tuple[str, str], set[str]] = {}
        for s, n, c in rows:
            existing.setdefault((s, n), set()).add(c)
        for stmt in _missing_column_statements("postgres", existing, tables):
            con.execute(stmt)
