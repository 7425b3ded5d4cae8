"""Checks that need the warehouse: campaign columns against the audience models, consents due for re-confirmation."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from activation.audience import AudienceError, AudienceReader, trigger_conditions
from activation.config.loader import ActivationConfig
from activation.filter_types import value_type_problem
from activation.personalize import variable_columns
from activation.planning.policies import CONSENT_COLUMN, _as_date


def check_against_warehouse(config: ActivationConfig, warehouse: str | Path | None = None) -> list[str]:
    """Problems (``file: field: reason``) of campaigns and syncs whose models or columns the warehouse lacks."""
    from include.core.settings import get_settings

    reader = AudienceReader(warehouse or get_settings().warehouse)
    problems: list[str] = []
    cache: dict[str, dict[str, str] | str] = {}

    def columns(model: str) -> dict[str, str] | str:
        if model not in cache:
            try:
                cache[model] = reader.columns(model)
            except AudienceError as exc:
                cache[model] = str(exc)
        return cache[model]

    for c in config.campaigns:
        file = config.files.get(c.id, c.id)
        cols = columns(c.audience.model)
        if isinstance(cols, str):
            problems.append(f"{file}: audience.model: {cols}")
            continue
        for i, cond in enumerate(c.audience.filter):
            if cond.column not in cols:
                problems.append(
                    f"{file}: audience.filter[{i}].column: '{cond.column}' is not a column of {c.audience.model}"
                )
            elif problem := value_type_problem(cond, cols[cond.column]):
                problems.append(f"{file}: audience.filter[{i}].value: {problem} ({c.audience.model})")
        for cond in trigger_conditions(c):
            if cond.column not in cols:
                problems.append(
                    f"{file}: trigger: {c.audience.model} lacks '{cond.column}' the trigger needs"
                )
        for col in sorted(variable_columns(c, config.settings, config.templates)):
            if col not in cols:
                problems.append(f"{file}: variables: '{col}' is not a column of {c.audience.model}")
    goals = sorted({c.goal.event for c in config.campaigns if c.exit_on_conversion and c.goal})
    for event in goals:
        src = config.settings.conversions.get(event) or config.settings.conversions.get("default")
        if src is None:
            problems.append(
                f"settings.yml: conversions: no source for goal '{event}' (exit_on_conversion needs one)"
            )
            continue
        schema, table = src.table.split(".")
        found = _table_columns(reader.warehouse, schema, table)
        needed = [src.customer_column, src.time_column] + ([src.event_column] if src.event_column else [])
        missing = [col for col in needed if col not in found]
        if not found or missing:
            problems.append(
                f"settings.yml: conversions.{event}: {src.table} is missing or lacks {missing or needed}"
            )
    for i, sp in enumerate(config.settings.syncs):
        cols = columns(sp.audience.model)
        if isinstance(cols, str):
            problems.append(f"settings.yml: syncs[{i}].audience.model: {cols}")
            continue
        for col in [*sp.profile.values(), *sp.tag_columns, *(f.column for f in sp.audience.filter)]:
            if col not in cols:
                problems.append(f"settings.yml: syncs[{i}]: '{col}' is not a column of {sp.audience.model}")
        for j, cond in enumerate(sp.audience.filter):
            if cond.column in cols and (problem := value_type_problem(cond, cols[cond.column])):
                problems.append(f"settings.yml: syncs[{i}].audience.filter[{j}].value: {problem}")
    return problems


def _table_columns(warehouse: Path, schema: str, table: str) -> set[str]:
    import duckdb

    if not warehouse.exists():
        return set()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def consent_reconfirmation_due(
    run_date: date,
    *,
    within_days: int = 30,
    warehouse: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Customers whose advertising consent reaches its re-confirmation date (dbt var ``consent_reconfirmation_years``,
    :func:`include.core.rules.consent_due_date`) within ``within_days``.

    The Network Act requires confirming consent every two years; the planner stops using older consents, this
    lists who should be asked to re-confirm before that happens.
    """
    from include.core.rules import consent_due_date
    from include.core.settings import get_settings

    reader = AudienceReader(warehouse or get_settings().warehouse)
    audience = reader.read("audience_customers", [], run_date)
    horizon = run_date + timedelta(days=within_days)
    out = []
    for row in audience.rows:
        for channel, column in sorted(CONSENT_COLUMN.items()):
            if row.get(column) is not True:
                continue
            given = _as_date(row.get(f"{column}_at"))
            if given is None:
                continue
            due = consent_due_date(given)
            if due <= horizon:
                out.append(
                    {
                        "customer_id": row["customer_id"],
                        "channel": channel,
                        "consent_at": given.isoformat(),
                        "due_date": due.isoformat(),
                        "expired": due <= run_date,
                    }
                )
    return out
