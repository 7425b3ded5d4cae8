"""Helpers of the quality-gate tests (a plain module: pytest puts this folder on sys.path)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from testbed.synthetic import KST

DATA_DATE = date(2026, 11, 22)  # a Sunday
REFERENCE_TIME = datetime(2026, 11, 23, tzinfo=KST)  # the interval end
RUN_ID = "scheduled__2026-11-22T15:00:00+00:00"
N_CUSTOMERS = 3000


def sql(path: Path, statement: str, params: list | None = None) -> list[tuple]:
    """Runs one statement on the warehouse file (a fault injection) and returns its rows."""
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        return con.execute(statement, params or []).fetchall()


def critical(result) -> set[tuple[str, str | None, str]]:
    """``{(table, column, expectation)}`` of a result's critical failures."""
    return {(o.table_name, o.column_name, o.expectation) for o in result.critical}


def day(offset: int) -> date:
    return DATA_DATE + timedelta(days=offset)
