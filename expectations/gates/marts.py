"""The marts gate: checks what dbt built (marts and audiences) before audiences are published."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from expectations.config import FunnelCheck, QualityConfig
from expectations.gates.common import check_reference_time, finish, flat_thresholds, frame
from expectations.result import CRITICAL, GateResult, Outcome
from expectations.runner import GxValidator
from expectations.suites import marts as suites

GATE = "marts"


def run_marts_gate(
    warehouse: Path | str,
    data_date: date,
    run_id: str,
    *,
    reference_time: datetime,
    config: QualityConfig | None = None,
    report_dir: Path | None = None,
) -> GateResult:
    """Validates dbt's outputs for ``data_date``.

    Checks: one row per customer in ``dim_customers``; every customer has exactly one segment (G1–G4) and one tier
    today in ``fct_customer_segments_daily``; segment and tier shares within a band of the previous day (no previous
    day → warning); funnel steps monotone (inflow per day/channel over the recent days, message funnel per
    campaign: sent ≥ delivered ≥ clicked); every ``audience_*`` model has the contract columns and today's run_date.

    Args:
        warehouse: DuckDB file (read-write: results are stored in ``quality.gate_results``).
        data_date: the run's data date (dbt's ``run_date``).
        run_id: the run id.
        reference_time: the run's evaluation instant; stored as ``evaluated_at``.
        config: thresholds and model names.
        report_dir: where the HTML report goes (default ``settings.run_dir(D)/quality``).
    """
    import duckdb

    started = time.perf_counter()
    check_reference_time(reference_time)
    cfg = config or QualityConfig()
    mc = cfg.marts
    validator = GxValidator(GATE, cfg.sample_size)
    outcomes: list[Outcome] = []
    rows: dict[str, int] = {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"set TimeZone = '{cfg.timezone}'")
        where = _locate(con, mc.schemas)
        dim = where.get(mc.dim_customers)
        seg = where.get(mc.segments_daily)
        for model, found in ((mc.dim_customers, dim), (mc.segments_daily, seg)):
            if found is None:
                outcomes.append(_missing(model, mc.schemas))
        if dim:
            df = frame(con, f"select customer_id from {dim}")
            rows[dim] = len(df)
            outcomes += validator.validate(
                suites.dim_customers_suite(mc), df, table_name=dim, index_columns=["customer_id"]
            )
        if dim and seg:
            cov = _coverage(con, dim, seg, mc.segments_date_column, data_date)
            rows[f"{seg} ({data_date.isoformat()})"] = int(cov["segment_rows"].fillna(0).sum())
            outcomes += validator.validate(
                suites.coverage_suite(mc), cov, table_name=f"{seg}", index_columns=["customer_id"]
            )
        if seg:
            for kind in ("segment", "tier"):
                values = mc.segments if kind == "segment" else mc.tiers
                shares, has_prev = _shares(con, seg, mc.segments_date_column, kind, values, data_date)
                outs = validator.validate(
                    suites.shares_suite(mc, kind, has_previous=has_prev),
                    shares,
                    table_name=f"{seg}.{kind}_shares",
                    index_columns=[kind],
                )
                for o in outs:
                    if o.expectation == "expect_column_values_to_be_between" and not o.success:
                        moved = shares.loc[shares.share_change > o.details["kwargs"]["max_value"]]
                        o.reason = f"{kind} shares jumped from the previous day: " + ", ".join(
                            f"{getattr(r, kind)} {r.share_previous:.1%} → {r.share_today:.1%}"
                            for r in moved.itertuples()
                        )
                    elif o.column_name == "has_previous" and not o.success:
                        o.reason = f"no {kind} shares for {(data_date - timedelta(days=1)).isoformat()} to compare with"
                outcomes += outs
        for check in mc.funnels:
            found = where.get(check.model)
            if found is None:
                outcomes.append(_missing(check.model, mc.schemas))
                continue
            batch = _funnel(con, found, check, data_date, mc.funnel_days_back)
            rows[found] = len(batch)
            outcomes += validator.validate(
                suites.funnel_suite(check), batch, table_name=found, index_columns=list(check.group_by)
            )
        for name, qualified in sorted(where.items()):
            if name.startswith(mc.audience_prefix):
                batch = (
                    frame(
                        con,
                        f"select *, cast(run_date as varchar) as run_date_text from {qualified} "
                        "qualify row_number() over (partition by run_date) = 1",
                    )
                    if _has_column(con, qualified, "run_date")
                    else frame(con, f"select * from {qualified} limit 1")
                )
                rows[qualified] = int(con.execute(f"select count(*) from {qualified}").fetchall()[0][0])
                outcomes += validator.validate(
                    suites.audience_suite(name, data_date.isoformat()), batch, table_name=qualified
                )
        return finish(
            gate=GATE,
            data_date=data_date,
            run_id=run_id,
            outcomes=outcomes,
            counts={"rows": rows},
            reference_time=reference_time,
            config=cfg,
            con=con,
            report_dir=report_dir,
            started=started,
            gx_seconds=validator.seconds,
            thresholds=flat_thresholds(mc, "marts."),
        )
    finally:
        con.close()


def _locate(con: Any, schemas: tuple[str, ...]) -> dict[str, str]:
    """``{model name: "schema.model"}`` for the first schema (in config order) holding each table/view.

    dbt model and schema names are plain identifiers, so ``schema.model`` is safe to use in SQL as is.
    """
    found: dict[str, str] = {}
    rank = {s: i for i, s in enumerate(schemas)}
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables where list_contains(?, table_schema)",
        [list(schemas)],
    ).fetchall()
    for schema, name in sorted(rows, key=lambda r: rank[r[0]]):
        found.setdefault(name, f"{schema}.{name}")
    return found


def _has_column(con: Any, qualified: str, column: str) -> bool:
    return column in [d[0] for d in con.execute(f"select * from {qualified} limit 0").description]


def _missing(model: str, schemas: tuple[str, ...]) -> Outcome:
    return Outcome(
        f"marts.{suites.SUITE_VERSION}.{model}",
        model,
        None,
        "expect_table_to_exist",
        CRITICAL,
        False,
        "missing",
        f"dbt model {model} is missing (looked in schemas {', '.join(schemas)}): did dbt build fail?",
        {"rule": "the model exists"},
    )


def _coverage(con: Any, dim: str, seg: str, date_col: str, day: date) -> Any:
    """One row per customer in dim_customers or in today's segments, with today's segment row count."""
    return frame(
        con,
        f"""
        with today as (
            select customer_id, count(*) as segment_rows, min(segment) as segment, min(tier) as tier
            from {seg} where {date_col} = ? group by customer_id
        )
        select coalesce(d.customer_id, t.customer_id) as customer_id,
               d.customer_id is not null as in_dim, t.segment_rows, t.segment, t.tier
        from (select distinct customer_id from {dim}) d
        full outer join today t on d.customer_id = t.customer_id
        """,
        [day],
    )


def _shares(
    con: Any, seg: str, date_col: str, kind: str, values: tuple[str, ...], day: date
) -> tuple[Any, bool]:
    import pandas as pd

    prev = day - timedelta(days=1)
    counts = frame(
        con,
        f"select {date_col} = ? as is_today, {kind} as v, count(*) as n from {seg} "
        f"where {date_col} in (?, ?) group by all",
        [day, day, prev],
    )
    today = counts[counts.is_today].set_index("v")["n"]
    before = counts[~counts.is_today].set_index("v")["n"]
    has_prev = bool(before.sum() > 0)
    keys = list(
        dict.fromkeys(
            [*values, *[v for v in today.index if v is not None], *[v for v in before.index if v is not None]]
        )
    )
    t_share = [float(today.get(k, 0)) / max(1, int(today.sum())) for k in keys]
    p_share = [float(before.get(k, 0)) / max(1, int(before.sum())) for k in keys]
    shares = pd.DataFrame(
        {kind: keys, "share_today": t_share, "share_previous": p_share, "has_previous": has_prev}
    )
    shares["share_change"] = (shares.share_today - shares.share_previous).abs()
    return shares, has_prev


def _funnel(con: Any, qualified: str, check: FunnelCheck, day: date, days_back: int) -> Any:
    cols = ", ".join(f"sum({s}) as {s}" for s in check.steps)
    group = ", ".join(check.group_by)
    conds, args = [], []
    if check.date_column:
        conds.append(f"{check.date_column} between ? and ?")
        args += [day - timedelta(days=days_back), day]
    if check.where:
        conds.append(f"({check.where})")
    where = f"where {' and '.join(conds)}" if conds else ""
    return frame(con, f"select {group}, {cols} from {qualified} {where} group by {group}", args)
