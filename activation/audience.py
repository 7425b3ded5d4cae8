"""Reads dbt audience models (``audiences.audience_<kind>`` in the DuckDB warehouse) for campaigns and syncs.

Filters are structured ``{column, op, value}`` conditions checked against the model's columns and compiled into a
parameterised query: column names are validated identifiers (quoted), values are always bound parameters.
An audience built for another data date is refused (stale data must never be sent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from activation.config.models import Campaign, FilterCondition
from activation.filter_types import value_type_problem
from include.core.rules import audience_columns

log = logging.getLogger(__name__)

SCHEMA = "audiences"


class AudienceError(RuntimeError):
    """The audience cannot be read as the contract requires (missing model or column, stale date, lock)."""


@dataclass
class Audience:
    """Rows of one audience model for one data date, in ``customer_id`` order."""

    model: str
    columns: dict[str, str]
    rows: list[dict[str, Any]]
    duplicates_dropped: int = 0
    warnings: list[str] = field(default_factory=list)


def trigger_conditions(campaign: Campaign) -> list[FilterCondition]:
    """The conditions a triggered campaign adds to its audience model's rows."""
    t = campaign.trigger
    conds: list[FilterCondition] = []
    if t.type == "segment_transition":
        if t.from_ != "any":
            conds.append(FilterCondition(column="from_segment", op="eq", value=t.from_))
        if t.to != "any":
            conds.append(FilterCondition(column="to_segment", op="eq", value=t.to))
    elif t.type == "tier_change":
        if t.from_ != "any":
            conds.append(FilterCondition(column="from_tier", op="eq", value=t.from_))
        if t.to != "any":
            conds.append(FilterCondition(column="to_tier", op="eq", value=t.to))
    elif t.type == "signup_no_purchase":
        conds.append(FilterCondition(column="days_since_signup", op="eq", value=t.days))
    elif t.type == "delivery_followup":
        conds.append(FilterCondition(column="days_since_delivery", op="eq", value=t.days))
    elif t.type == "subscription_remaining":
        conds.append(FilterCondition(column="remaining_deliveries", op="eq", value=t.uses))
    return conds


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def compile_filter(conditions: list[FilterCondition]) -> tuple[str, list[Any]]:
    """SQL ``WHERE`` body and parameters for structured conditions (``TRUE`` when there are none)."""
    parts: list[str] = []
    params: list[Any] = []
    for c in conditions:
        col = _quote(c.column)
        if c.op == "eq":
            parts.append(f"{col} = ?")
            params.append(c.value)
        elif c.op == "ne":
            parts.append(f"{col} IS DISTINCT FROM ?")
            params.append(c.value)
        elif c.op in ("gt", "gte", "lt", "lte"):
            sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
            parts.append(f"{col} {sym} ?")
            params.append(c.value)
        elif c.op in ("in", "not_in"):
            values = list(c.value)  # type: ignore[arg-type]
            marks = ", ".join("?" for _ in values)
            if c.op == "in":
                parts.append(f"{col} IN ({marks})")
            else:
                parts.append(f"({col} IS NULL OR {col} NOT IN ({marks}))")
            params.extend(values)
        elif c.op == "is_null":
            parts.append(f"{col} IS NULL")
        elif c.op == "not_null":
            parts.append(f"{col} IS NOT NULL")
        elif c.op == "starts_with":
            parts.append(f"starts_with(CAST({col} AS VARCHAR), ?)")
            params.append(c.value)
        elif c.op == "contains":
            parts.append(f"contains(CAST({col} AS VARCHAR), ?)")
            params.append(c.value)
        else:  # pragma: no cover - the model restricts ops
            raise ValueError(f"unknown op {c.op}")
    return (" AND ".join(parts) or "TRUE"), params


class AudienceReader:
    """Reads audience models from a DuckDB warehouse file, read-only."""

    def __init__(self, warehouse: str | Path) -> None:
        self.warehouse = Path(warehouse)

    def _connect(self) -> Any:
        import duckdb

        if not self.warehouse.exists():
            raise AudienceError(f"warehouse {self.warehouse} does not exist: run the dbt build first")
        try:
            return duckdb.connect(str(self.warehouse), read_only=True)
        except duckdb.Error as exc:
            raise AudienceError(f"cannot open warehouse {self.warehouse} read-only: {exc}") from exc

    def columns(self, model: str) -> dict[str, str]:
        """Column name → DuckDB type of ``audiences.<model>``; raises when the model does not exist."""
        con = self._connect()
        try:
            return self._columns(con, model)
        finally:
            con.close()

    def _columns(self, con: Any, model: str) -> dict[str, str]:
        rows = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [SCHEMA, model],
        ).fetchall()
        if not rows:
            raise AudienceError(f"audience model {SCHEMA}.{model} not found in {self.warehouse}")
        cols = {name: dtype for name, dtype in rows}
        missing = [c for c in audience_columns() if c not in cols]
        if missing:
            raise AudienceError(f"{SCHEMA}.{model} breaks the audience contract: missing columns {missing}")
        return cols

    def read(
        self,
        model: str,
        conditions: list[FilterCondition],
        run_date: date,
        *,
        required_columns: set[str] | frozenset[str] = frozenset(),
    ) -> Audience:
        """Rows of ``model`` for ``run_date`` matching every condition, ordered by ``customer_id``."""
        con = self._connect()
        try:
            cols = self._columns(con, model)
            unknown = sorted(({c.column for c in conditions} | set(required_columns)) - set(cols))
            if unknown:
                raise AudienceError(f"{SCHEMA}.{model} has no column(s) {unknown} (has: {', '.join(cols)})")
            for cond in conditions:  # a mistyped value is named here, never DuckDB's raw conversion error
                if problem := value_type_problem(cond, cols[cond.column]):
                    raise AudienceError(f"{SCHEMA}.{model}: filter on '{cond.column}': {problem}")
            dates = con.execute(
                f"select distinct run_date from {SCHEMA}.{_quote(model)} where run_date is not null"
            ).fetchall()
            built_for = sorted({r[0] for r in dates})
            if built_for and built_for != [run_date]:
                raise AudienceError(
                    f"{SCHEMA}.{model} holds run_date {', '.join(map(str, built_for))}, not {run_date}: "
                    "refusing stale data (build the models for this date first)"
                )
            where, params = compile_filter(conditions)
            cur = con.execute(
                f"select * from {SCHEMA}.{_quote(model)} where {where} order by customer_id", params
            )
            names = [d[0] for d in cur.description]
            raw = cur.fetchall()
        except AudienceError:
            raise
        except Exception as exc:
            raise AudienceError(f"reading {SCHEMA}.{model} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            con.close()
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        dropped = 0
        for values in raw:
            row = dict(zip(names, values, strict=True))
            cid = row.get("customer_id")
            if cid is None or cid in seen:
                dropped += 1
                continue
            seen.add(cid)
            rows.append(row)
        audience = Audience(model, cols, rows, dropped)
        if dropped:
            msg = f"{SCHEMA}.{model}: {dropped} row(s) with a null or repeated customer_id ignored (contract: unique)"
            audience.warnings.append(msg)
            log.warning(msg)
        return audience
