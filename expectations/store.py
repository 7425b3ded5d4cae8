"""Where gate results go in the warehouse: ``quality.gate_results`` (idempotent per run/date/gate) and quarantine rows."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from expectations.result import Outcome

RESULTS_TABLE = "quality.gate_results"

_DDL = f"""
create table if not exists {RESULTS_TABLE} (
    run_id varchar not null,
    data_date date not null,
    gate varchar not null,
    suite varchar not null,
    table_name varchar,
    expectation varchar not null,
    column_name varchar,
    severity varchar not null,
    success boolean not null,
    observed_value varchar,
    details json,
    evaluated_at timestamp with time zone not null
)
"""


def ensure_results_table(con: Any) -> None:
    """Creates schema ``quality`` and ``quality.gate_results`` in a DuckDB connection if missing."""
    con.execute("create schema if not exists quality")
    con.execute(_DDL)


def write_results(
    con: Any, outcomes: list[Outcome], *, run_id: str, data_date: date, gate: str, evaluated_at: datetime
) -> int:
    """Replaces this run/date/gate's rows in ``quality.gate_results`` with ``outcomes`` (one transaction).

    Returns:
        the number of rows written.
    """
    import pandas as pd

    ensure_results_table(con)
    frame = pd.DataFrame(
        {
            "run_id": run_id,
            "data_date": data_date,
            "gate": gate,
            "suite": [o.suite for o in outcomes],
            "table_name": [o.table_name for o in outcomes],
            "expectation": [o.expectation for o in outcomes],
            "column_name": [o.column_name for o in outcomes],
            "severity": [o.severity for o in outcomes],
            "success": [bool(o.success) for o in outcomes],
            "observed_value": [o.observed_value for o in outcomes],
            "details": [json.dumps({"reason": o.reason, **o.details}, ensure_ascii=False) for o in outcomes],
        },
        columns=[
            "run_id",
            "data_date",
            "gate",
            "suite",
            "table_name",
            "expectation",
            "column_name",
            "severity",
            "success",
            "observed_value",
            "details",
        ],
    )
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {RESULTS_TABLE} where run_id = ? and data_date = ? and gate = ?",
            [run_id, data_date, gate],
        )
        if len(frame):
            con.register("_gate_results_batch", frame)
            con.execute(
                f"insert into {RESULTS_TABLE} select run_id, cast(data_date as date), gate, suite, table_name, "
                "expectation, column_name, severity, success, observed_value, cast(details as json), ? "
                "from _gate_results_batch",
                [evaluated_at],
            )
            con.unregister("_gate_results_batch")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(frame)


def quarantine_id(table_name: str, record_key: str, reason: str, load_id: str | None) -> str:
    """Stable id of a quarantine row, so a rerun of the same batch does not add it twice."""
    return hashlib.sha256(f"{table_name}|{record_key}|{reason}|{load_id}".encode()).hexdigest()[:32]


def write_quarantine(con: Any, frame: Any) -> int:
    """Inserts quarantine rows (columns of ``raw_quarantine.records``) not stored yet; returns how many are new."""
    if frame is None or not len(frame):
        return 0
    from include.core.contracts import QUARANTINE

    cols = ", ".join(f'"{col}"' for col in QUARANTINE.columns)
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw_quarantine' and table_name = 'records'"
    ).fetchall()[0][0]
    if not exists:
        raise RuntimeError(
            "raw_quarantine.records is missing: run include.extract.bootstrap.ensure_raw_tables first"
        )
    con.register("_quarantine_batch", frame)
    before = con.execute(f"select count(*) from {QUARANTINE.qualified}").fetchall()[0][0]
    con.execute(
        f"insert into {QUARANTINE.qualified} ({cols}) select {cols} from _quarantine_batch q "
        f"where not exists (select 1 from {QUARANTINE.qualified} r where r.quarantine_id = q.quarantine_id)"
    )
    con.unregister("_quarantine_batch")
    after = con.execute(f"select count(*) from {QUARANTINE.qualified}").fetchall()[0][0]
    return int(after - before)
