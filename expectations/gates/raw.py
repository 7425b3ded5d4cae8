"""The raw gate: checks the rows this run loaded into each raw table before dbt builds on them."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from expectations.config import QualityConfig
from expectations.gates.common import check_reference_time, finish, flat_thresholds, frame, interval
from expectations.gates.row_rules import ROWID, breaches, flag_rows, move_rows
from expectations.result import GateResult, Outcome
from expectations.runner import GxValidator
from expectations.store import write_quarantine
from expectations.suites.raw import (
    LATENESS_SUFFIX,
    PHONE_SUFFIX,
    RULES,
    STOREFRONT_SCHEMAS,
    TableRules,
    table_suite,
    volume_suite,
)
from include.core.contracts import QUARANTINE, RawTable
from include.core.rules import korean_mobile_regex

GATE = "raw"


def run_raw_gate(
    warehouse: Path | str,
    data_date: date,
    run_id: str,
    load_ids: dict[str, list[str]] | None,
    *,
    reference_time: datetime,
    config: QualityConfig | None = None,
    tables: Iterable[str] | None = None,
    report_dir: Path | None = None,
    storefront: str | None = None,
) -> GateResult:
    """Validates what this run loaded into every raw table of the contract; quarantines rows that break a row rule.

    Per table: contract columns exist, keys unique in the batch, required columns not null in every row, accepted
    values, Korean mobile phones (invalid ones recorded in ``raw_quarantine.records``; the rows stay). Row rules —
    key not null, amounts ≥ 0 and other numeric bounds, no timestamp after the interval end, no event older than
    the allowed lateness — are judged per row: a breaking row is moved into ``raw_quarantine.records`` with its
    reasons (:mod:`expectations.gates.row_rules`) and the night goes on with the clean rows; the batch fails only
    when the share of such rows is above ``bad_row_max_share`` for its table. Daily sources (orders, events) must
    deliver rows and stay within a band around the trailing mean of the previous days found in the warehouse.

    Args:
        warehouse: DuckDB file (opened read-write: results and quarantine rows are written to it).
        data_date: the run's data date ``D`` (KST day); the interval is ``[D 00:00, D+1 00:00)`` KST.
        run_id: the Airflow run id (key of the stored results with ``data_date`` and the gate).
        load_ids: dlt load ids of this run keyed by table (``raw_cafe24.orders``), table name or schema
            (``raw_cafe24``) or ``"*"`` (ids of unknown schema: used for every table without its own entry); a
            table without an entry was not loaded (daily sources then count as empty).
            ``None``: select by business date instead (rows of the interval).
        reference_time: the run's evaluation instant (interval end); stored as ``evaluated_at``.
        config: thresholds (defaults: :class:`~expectations.config.QualityConfig`).
        tables: restrict to these qualified table names (default: every raw table of the contract that the
            storefront mode uses).
        report_dir: where the HTML report goes (default ``settings.run_dir(D)/quality``).
        storefront: ``cafe24`` or ``shopify`` (default ``settings.storefront``, i.e. ``CRM_STOREFRONT``): the
            other storefront's raw tables stay empty and are not checked (its daily orders would fail).

    Returns:
        the :class:`GateResult`; call ``raise_if_failed()`` to stop the run on a critical failure.
    """
    check_reference_time(reference_time)
    cfg = config or QualityConfig()
    start, end = interval(data_date, cfg.timezone)
    return _gate(
        GATE,
        warehouse,
        data_date,
        run_id,
        load_ids,
        reference_time=reference_time,
        cfg=cfg,
        selected=_select(tables, storefront),
        future_limit=end + timedelta(minutes=cfg.raw.future_tolerance_minutes),
        report_dir=report_dir,
        daily=True,
    )


def gate_import(
    warehouse: Path | str,
    load_id: str,
    *,
    reference_time: datetime,
    config: QualityConfig | None = None,
    tables: Iterable[str] | None = None,
    report_dir: Path | None = None,
    storefront: str | None = None,
) -> GateResult:
    """The raw gate on the rows one file import loaded (its dlt ``load_id``), for ``crm import``.

    The same checks as the nightly raw gate, on every raw table holding rows of ``load_id`` (tables without any
    are skipped): rows breaking a row rule are moved into ``raw_quarantine.records`` with their reasons, malformed
    phones are recorded; the result fails only on what makes the import untrustworthy (a missing contract column,
    duplicate keys, an all-null required column, unknown values, too many breaking rows). "In the future" means
    after ``reference_time`` (+ the clock skew), the instant of the import, given by the caller; there is no volume
    check (a file is not a daily source). Results are stored under gate ``import`` and run id
    ``import:<load_id>``, the report is ``<report_dir>/import_gate.html`` (default the run folder of the
    reference time's business day).
    """
    check_reference_time(reference_time)
    cfg = config or QualityConfig()
    from zoneinfo import ZoneInfo

    data_date = reference_time.astimezone(ZoneInfo(cfg.timezone)).date()
    return _gate(
        "import",
        warehouse,
        data_date,
        f"import:{load_id}",
        {"*": [str(load_id)]},
        reference_time=reference_time,
        cfg=cfg,
        selected=_select(tables, storefront),
        future_limit=reference_time + timedelta(minutes=cfg.raw.future_tolerance_minutes),
        report_dir=report_dir,
        daily=False,
    )


def _gate(
    gate: str,
    warehouse: Path | str,
    data_date: date,
    run_id: str,
    load_ids: dict[str, list[str]] | None,
    *,
    reference_time: datetime,
    cfg: QualityConfig,
    selected: list[TableRules],
    future_limit: datetime,
    report_dir: Path | None,
    daily: bool,
) -> GateResult:
    """The raw gate's steps for ``run_raw_gate`` (``daily``: volume checks, empty daily sources fail) and
    ``gate_import`` (tables without rows of the load are skipped)."""
    import duckdb

    started = time.perf_counter()
    start, end = interval(data_date, cfg.timezone)
    validator = GxValidator(gate, cfg.sample_size)
    outcomes: list[Outcome] = []
    rows: dict[str, int] = {}
    skipped: list[str] = []
    quarantine: list[Any] = []
    to_move: list[tuple[RawTable, Any]] = []
    by_rule: dict[str, dict[str, int]] = {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"set TimeZone = '{cfg.timezone}'")
        existing = _existing_columns(con)
        for rules in selected:
            t = rules.table
            ids = _ids_for(t, load_ids)
            if load_ids is not None and ids is None and not (daily and rules.daily_column):
                skipped.append(t.qualified)
                continue
            df = _load_batch(con, rules, existing, start, end, (ids or []) if load_ids is not None else None)
            if not daily and not len(df):
                skipped.append(t.qualified)
                continue
            rows[t.qualified] = len(df)
            for col in rules.phones:
                if col in df.columns:
                    df[col + PHONE_SUFFIX] = _phone_digits(df[col])
            if rules.window_column and rules.window_column in df.columns:
                df[rules.window_column + LATENESS_SUFFIX] = _hours_late(df, rules, start, cfg.timezone)
            found = breaches(df, rules, cfg.raw, future_limit)
            to_move.append((t, flag_rows(df, found)))
            if found:
                by_rule[t.qualified] = {b.label: int(b.mask.sum()) for b in found}
            params = {"interval_end_max": future_limit}
            suite = table_suite(rules, cfg.raw, empty=len(df) == 0, n_rows=len(df))
            outs = validator.validate(
                suite, df, table_name=t.qualified, params=params, index_columns=list(t.primary_key)
            )
            for o in outs:
                if o.column_name == "rows":
                    _explain_share(o, t.qualified, len(df), by_rule.get(t.qualified, {}), cfg)
            outcomes += outs
            if daily and rules.daily_column:
                outcomes += _volume(
                    con, validator, rules, df, data_date, start, end, cfg, history=t.qualified in existing
                )
            for col in rules.phones:
                if col + PHONE_SUFFIX in df.columns:
                    quarantine.append(_quarantine_rows(df, t, col, run_id, reference_time))
        counts: dict[str, Any] = {"rows": rows, "skipped_tables": skipped}
        phones = _store_quarantine(con, quarantine)
        moved = move_rows(con, to_move, reference_time)
        counts["quarantined"] = phones + moved["records"]
        counts["quarantined_by_rule"] = by_rule
        counts["moved_to_quarantine"] = moved["moved"]
        counts["cascaded_to_quarantine"] = moved["cascaded"]
        return finish(
            gate=gate,
            data_date=data_date,
            run_id=run_id,
            outcomes=outcomes,
            counts=counts,
            reference_time=reference_time,
            config=cfg,
            con=con,
            report_dir=report_dir,
            started=started,
            gx_seconds=validator.seconds,
            thresholds=flat_thresholds(cfg.raw, "raw."),
        )
    finally:
        con.close()


def _explain_share(o: Outcome, table: str, n_rows: int, rules: dict[str, int], cfg: QualityConfig) -> None:
    """Rewrites the share check's reason: how many rows were quarantined, by rule, against the threshold."""
    n_bad = int(o.details.get("unexpected_count") or 0)
    share = cfg.raw.bad_row_share(table)
    by = ", ".join(f"{label}: {n:,}" for label, n in rules.items()) or "none"
    pct = f"{n_bad / n_rows:.1%}" if n_rows else "0%"
    o.details.update({"quarantined_by_rule": rules, "allowed_share": share})
    if o.success:
        o.reason = (
            f"{table}: {n_bad:,} of {n_rows:,} rows quarantined ({pct}; {by}), within the {share:.0%} allowed"
        )
    else:
        o.reason = (
            f"{table} has {n_bad:,} of {n_rows:,} rows breaking row rules ({pct}; {by}), above the {share:.0%} "
            f"allowed: the whole batch is untrustworthy (the rows were quarantined)"
        )


def _select(tables: Iterable[str] | None, storefront: str | None = None) -> list[TableRules]:
    if tables is None:
        if storefront is None:
            from include.core.settings import get_settings

            storefront = get_settings().storefront
        if storefront not in STOREFRONT_SCHEMAS:
            raise ValueError(f"unknown storefront {storefront!r}; known: {sorted(STOREFRONT_SCHEMAS)}")
        inactive = {s for mode, s in STOREFRONT_SCHEMAS.items() if mode != storefront}
        return [r for r in RULES.values() if r.table.schema not in inactive]
    names = list(tables)
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown raw tables {unknown}; known: {sorted(RULES)}")
    return [RULES[n] for n in names]


def _phone_digits(values: Any) -> Any:
    """Phones as national digits: an E.164 ``+82`` prefix becomes ``0`` (Shopify), then non-digits go."""
    text = values.fillna("").astype("str").str.strip()
    return text.str.replace(r"^\+82", "0", regex=True).str.replace(r"\D", "", regex=True)


def _ids_for(table: RawTable, load_ids: dict[str, list[str]] | None) -> list[str] | None:
    if load_ids is None:
        return None
    for key in (table.qualified, table.name, table.schema, "*"):
        if key in load_ids:
            return [str(i) for i in (load_ids[key] or [])]
    return None


def _existing_columns(con: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for schema, name, col in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema like 'raw_%' order by table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault(f"{schema}.{name}", []).append(col)
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_batch(
    con: Any,
    rules: TableRules,
    existing: dict[str, list[str]],
    start: datetime,
    end: datetime,
    ids: list[str] | None,
) -> Any:
    """This run's rows of one table as pandas (no rows and no columns when the table does not exist)."""
    import pandas as pd

    t = rules.table
    cols = existing.get(t.qualified)
    if cols is None:
        return pd.DataFrame()
    src = f"{_q(t.schema)}.{_q(t.name)}"
    if ids is not None:
        if "_dlt_load_id" not in cols or not ids:
            return frame(con, f"select *, rowid as {ROWID} from {src} where false")
        marks = ", ".join("?" for _ in ids)
        df = frame(con, f"select *, rowid as {ROWID} from {src} where _dlt_load_id in ({marks})", list(ids))
    elif t.qualified == "raw_cafe24.order_items":
        df = frame(
            con,
            f"select *, rowid as {ROWID} from {src} where order_id in (select order_id from raw_cafe24.orders "
            "where updated_date >= ? and updated_date < ?)",
            [start, end],
        )
    elif rules.batch_is_date:
        df = frame(
            con, f"select *, rowid as {ROWID} from {src} where {_q(rules.batch_column)} = ?", [start.date()]
        )
    else:
        col = _q(rules.batch_column)
        df = frame(con, f"select *, rowid as {ROWID} from {src} where {col} >= ? and {col} < ?", [start, end])
    for col, dtype in t.columns.items():  # naive timestamps are UTC (dlt's convention)
        if dtype == "timestamp" and col in df.columns and getattr(df[col].dt, "tz", "x") is None:
            df[col] = df[col].dt.tz_localize("UTC")
    return df


def _hours_late(df: Any, rules: TableRules, start: datetime, tz: str) -> Any:
    """Hours from the start of each row's day (its drop date, else the data date) back to its timestamp."""
    import pandas as pd

    ts = df[rules.window_column]
    if rules.window_anchor and rules.window_anchor in df.columns:
        anchor = pd.to_datetime(df[rules.window_anchor]).dt.tz_localize(tz)
    else:
        anchor = pd.Series(pd.Timestamp(start), index=df.index)
    return (anchor - ts).dt.total_seconds() / 3600


def _on_day(df: Any, col: str, day: date, start: datetime, end: datetime) -> int:
    import pandas as pd

    if col not in df.columns or not len(df):
        return 0
    s = df[col]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return int(((s >= start) & (s < end)).sum())
    return int((pd.to_datetime(s).dt.normalize() == pd.Timestamp(day)).sum())


def _volume(
    con: Any,
    validator: GxValidator,
    rules: TableRules,
    df: Any,
    day: date,
    start: datetime,
    end: datetime,
    cfg: QualityConfig,
    *,
    history: bool = True,
) -> list[Outcome]:
    """Today's row count vs the trailing mean per day of the previous days, computed from the warehouse."""
    import pandas as pd

    t, col = rules.table, rules.daily_column
    assert col is not None
    n_days = cfg.raw.volume_history_days
    per_day: list[int] = []
    src = f"{_q(t.schema)}.{_q(t.name)}"
    if t.columns[col] == "date":
        sql = f"select {_q(col)} as d, count(*) from {src} where {_q(col)} >= ? and {_q(col)} < ? group by 1"
        lo, hi, first = day - timedelta(days=n_days), day, day
    else:
        sql = (
            f"select cast({_q(col)} as date) as d, count(*) from {src} "
            f"where {_q(col)} >= ? and {_q(col)} < ? group by 1"
        )
        lo, hi, first = start - timedelta(days=n_days), start, start
    # the day's volume is what raw holds for it after this run's loads (the batch plus rows of the day loaded by
    # earlier runs), not the batch alone: a replay of a past date, whose rows were loaded the first time, then
    # sees the same volume as the first pass instead of an empty extract
    today = max(
        _on_day(df, col, day, start, end),
        sum(int(n) for _, n in con.execute(sql, [first, first + timedelta(days=1)]).fetchall()),
    )
    if history:
        per_day = [int(n) for _, n in con.execute(sql, [lo, hi]).fetchall() if n]
    mean = sum(per_day) / len(per_day) if per_day else 0.0
    history_ok = len(per_day) >= cfg.raw.volume_min_history_days
    frame = pd.DataFrame({"rows_today": [today], "history_days": [len(per_day)], "trailing_mean": [mean]})
    params = {
        "volume_min": max(1, math.floor(cfg.raw.volume_low_factor * mean)),
        "volume_max": max(1, math.ceil(cfg.raw.volume_high_factor * mean)),
    }
    suite = volume_suite(t, cfg.raw, history_ok=history_ok)
    outs = validator.validate(suite, frame, table_name=t.qualified, params=params)
    for o in outs:
        o.details.update({"rows_today": today, "trailing_mean": round(mean, 1), "history_days": len(per_day)})
        if o.expectation == "expect_column_max_to_be_between" and o.column_name == "rows_today":
            band = f"{params['volume_min']:,}–{params['volume_max']:,}"
            o.reason = (
                f"{t.qualified} has {today:,} rows for {day.isoformat()} by {col}, "
                f"{'outside' if not o.success else 'within'} the band {band} "
                f"(trailing {len(per_day)}-day mean {mean:,.0f})"
            )
        elif o.column_name == "rows_today" and not o.success:
            o.reason = f"{t.qualified} has no rows for {day.isoformat()} by {col} (empty extract?)"
        elif o.column_name == "history_days" and not o.success:
            o.reason = (
                f"{t.qualified}: only {len(per_day)} of the previous {n_days} days have data, "
                "volume band not checked (insufficient history)"
            )
    return outs


def _quarantine_rows(df: Any, table: RawTable, col: str, run_id: str, reference_time: datetime) -> Any:
    """One quarantine row per invalid phone (the raw row itself stays where it is)."""
    import pandas as pd

    from expectations.store import quarantine_id

    digits = df[col + PHONE_SUFFIX]
    bad = ~digits.str.fullmatch(korean_mobile_regex()).fillna(False).astype(bool)
    sub = df.loc[bad]
    if not len(sub):
        return None
    d = digits[bad]
    keys = sub[list(table.primary_key)].astype("str").agg("|".join, axis=1)
    original = sub[col].fillna("").astype("str").str.strip()
    reason = (
        pd.Series(f"{col} is not a Korean mobile number (01X + 7–8 digits)", index=d.index)
        .where(d != "", f"{col} has no digits")
        .where(~original.str.contains("@", regex=False), f"{col} holds an e-mail address, not a phone number")
        .where(original != "", f"{col} is empty")
    )
    masked = (d.str[:3] + "-****-" + d.str[-4:]).where(d.str.len() >= 8, "***")
    payload = (
        '{"column": '
        + json.dumps(col)
        + ', "value_masked": "'
        + masked
        + '", "digits": '
        + d.str.len().astype("str")
        + ', "run_id": '
        + json.dumps(run_id)
        + "}"
    )
    load = (
        sub["_dlt_load_id"].astype("str") if "_dlt_load_id" in sub.columns else pd.Series("", index=sub.index)
    )
    out = pd.DataFrame(
        {
            "source": "quality.raw_gate",
            "table_name": table.qualified,
            "record_key": keys,
            "reason": reason,
            "payload": payload,
            "load_id": load,
            "quarantined_at": reference_time,
        }
    )
    out["quarantine_id"] = [
        quarantine_id(table.qualified, k, r, ld)
        for k, r, ld in zip(out.record_key, out.reason, out.load_id, strict=True)
    ]
    return out[list(QUARANTINE.columns)]


def _store_quarantine(con: Any, frames: list[Any]) -> int:
    import pandas as pd

    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return 0
    return write_quarantine(con, pd.concat(frames, ignore_index=True))
