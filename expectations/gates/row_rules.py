"""Row-level quarantine of the raw gate: which rows of a batch break a row rule, and moving them out of raw.

A row rule judges one row on its own (a null key, a negative amount, a timestamp after the run's interval end, an
event older than the allowed lateness). Such a row says nothing about the rest of the batch, so it must not stop the
night: the gate moves it, in one transaction, from its raw table into ``raw_quarantine.records`` (the table the
extractors already quarantine into) with its reasons and the whole row as JSON, and dbt builds on the clean rows.
Only a share of breaking rows above the table's threshold fails the batch (``RawGateConfig.bad_row_max_share``).

Why move rather than flag: staging reads raw tables whole (``select * from source``), so a row that stays in raw
reaches every model; removing it needs no change in any dbt model, and the record in the quarantine keeps the row.
Replay: the record's id is a hash of table, key, reasons and row content (never the load id), so a rerun that
re-extracts the same bad row moves it again and adds no second record.

Child rows follow their parent: an order moved out takes its order lines with it (reason ``its order … was
quarantined``) when no other version of the order stays in raw, so no line points at a missing order.

Malformed phones are not row rules here: the customer or order stays (staging flags ``has_valid_phone`` and never
uses the contact) and only a record is written (:func:`expectations.gates.raw._quarantine_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from expectations.config import RawGateConfig
from expectations.suites.raw import LATENESS_SUFFIX, TableRules
from include.core.contracts import BY_NAME, QUARANTINE, RawTable

SOURCE = "quality.raw_gate"
ROWID = "__rowid"  # the row's DuckDB rowid, read with the batch: what the move deletes by
FLAG = "__quarantined"  # derived column: 1 when the row breaks a row rule (the share check's input)
SEP = "; "

# Tables other rows refer to (orders → customers, order lines → products): a breaking row is recorded in the
# quarantine but kept in raw, because moving it would orphan the rows pointing at it (and fail dbt's relationship
# tests); the record's reason says so. Staging treats the breaking value on its own (e.g. a future signup date).
KEPT: frozenset[str] = frozenset(
    {"raw_cafe24.customers", "raw_cafe24.products", "raw_shopify.customers", "raw_shopify.products"}
)
KEPT_PREFIX = "kept in raw (other rows refer to it): "

# parent table → (child table, column of the child holding the parent's key)
CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {
    "raw_cafe24.orders": (("raw_cafe24.order_items", "order_id"),),
    "raw_shopify.orders": (("raw_shopify.order_line_items", "order_id"),),
}


@dataclass
class Breach:
    """One row rule on one column: the rows breaking it and the reason written for them."""

    label: str  # short rule name for counts (``payment_amount < 0``)
    reason: str  # sentence stored in the quarantine record
    mask: Any  # pandas boolean Series aligned with the batch


def breaches(df: Any, rules: TableRules, cfg: RawGateConfig, future_limit: datetime) -> list[Breach]:
    """Every row rule of ``rules`` evaluated on the batch ``df`` (columns the batch lacks are skipped).

    The rules mirror the suite's row checks (:func:`expectations.suites.raw.table_suite`), where they are warnings.
    """
    import pandas as pd

    t = rules.table
    out: list[Breach] = []

    def add(label: str, reason: str, mask: Any) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            out.append(Breach(label, reason, mask))

    for col in t.primary_key:
        if col in df.columns:
            add(f"{col} is null", f"{col} is null (the key)", df[col].isna())
    for col in rules.amounts:
        if col in df.columns:
            add(f"{col} < 0", f"{col} is negative", pd.to_numeric(df[col], errors="coerce") < 0)
    for col, (lo, hi) in rules.ranges.items():
        if col in df.columns:
            v = pd.to_numeric(df[col], errors="coerce")
            bad = pd.Series(False, index=df.index)
            if lo is not None:
                bad |= v < lo
            if hi is not None:
                bad |= v > hi
            add(f"{col} outside {lo}…{hi}", f"{col} is outside {lo}…{hi}", bad)
    for a, b in rules.pairs:
        if a in df.columns and b in df.columns:
            va, vb = pd.to_numeric(df[a], errors="coerce"), pd.to_numeric(df[b], errors="coerce")
            add(f"{a} < {b}", f"{a} is less than {b}", va < vb)
    for col in rules.not_future:
        if col in df.columns and isinstance(df[col].dtype, pd.DatetimeTZDtype):
            add(
                f"{col} in the future",
                f"{col} lies after the end of the run's data interval "
                f"(+{cfg.future_tolerance_minutes:g} min clock skew)",
                df[col] > pd.Timestamp(future_limit),
            )
    late = (rules.window_column or "") + LATENESS_SUFFIX
    if rules.window_column and late in df.columns:
        add(
            f"{rules.window_column} too late",
            f"{rules.window_column} is more than {cfg.event_lateness_hours:g} h before the day of its "
            f"{rules.window_anchor or 'data interval'}",
            df[late] > cfg.event_lateness_hours,
        )
    return out


def flag_rows(df: Any, found: list[Breach]) -> Any:
    """Adds :data:`FLAG` to ``df`` and returns the frame of breaking rows: ``__rowid`` and their joined reasons."""
    import pandas as pd

    reasons = pd.Series("", index=df.index, dtype="object")
    for b in found:
        reasons = reasons.where(~b.mask, reasons + SEP + b.reason)
    bad = reasons != ""
    df[FLAG] = bad.astype("int8")
    if ROWID not in df.columns or not bad.any():
        return pd.DataFrame({ROWID: pd.Series([], dtype="int64"), "reason": pd.Series([], dtype="object")})
    return pd.DataFrame({ROWID: df.loc[bad, ROWID].astype("int64"), "reason": reasons[bad].str[len(SEP) :]})


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: Any, table: RawTable) -> list[str]:
    return [
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [table.schema, table.name],
        ).fetchall()
    ]


def _move(con: Any, table: RawTable, bad_view: str, reference_time: datetime) -> int:
    """Inserts a record per row of ``bad_view`` (``__rowid``, ``reason``) and deletes those rows from raw.

    Rows of a :data:`KEPT` table are recorded only (reason prefixed :data:`KEPT_PREFIX`); returns rows deleted.
    """
    kept = table.qualified in KEPT
    reason = f"'{KEPT_PREFIX}' || b.reason" if kept else "b.reason"
    cols = _columns(con, table)
    src = f"{_q(table.schema)}.{_q(table.name)}"
    data = [c for c in cols if not c.startswith("_dlt")]
    payload = f"to_json(struct_pack({', '.join(f'{_q(c)} := t.{_q(c)}' for c in data)}))::VARCHAR"
    key = " || '|' || ".join(f"coalesce(CAST(t.{_q(k)} AS VARCHAR), '<null>')" for k in table.primary_key)
    load = "CAST(t._dlt_load_id AS VARCHAR)" if "_dlt_load_id" in cols else "CAST(NULL AS VARCHAR)"
    qcols = ", ".join(_q(c) for c in QUARANTINE.columns)
    con.execute(
        f"""
        insert into {QUARANTINE.qualified} ({qcols})
        select quarantine_id, source, table_name, record_key, reason, payload, load_id, quarantined_at from (
            select md5(concat_ws('|', $source, $table, record_key, reason, payload)) as quarantine_id,
                   $source as source, $table as table_name, record_key, reason, payload, load_id,
                   CAST($at AS TIMESTAMPTZ) as quarantined_at
            from (
                select {key} as record_key, {reason} as reason, {payload} as payload, {load} as load_id
                from {src} t join {bad_view} b on t.rowid = b.{ROWID}
            )
        ) q
        where not exists (select 1 from {QUARANTINE.qualified} r where r.quarantine_id = q.quarantine_id)
        qualify row_number() over (partition by q.quarantine_id) = 1
        """,
        {"source": SOURCE, "table": table.qualified, "at": reference_time},
    )
    if kept:
        return 0
    before = con.execute(f"select count(*) from {src}").fetchall()[0][0]
    con.execute(f"delete from {src} where rowid in (select {ROWID} from {bad_view})")
    return int(before - con.execute(f"select count(*) from {src}").fetchall()[0][0])


def _cascade(con: Any, parent: RawTable, bad_view: str, reference_time: datetime) -> dict[str, int]:
    """Moves the child rows of parents just moved out (when no other version of the parent stays in raw)."""
    out: dict[str, int] = {}
    if len(parent.primary_key) != 1:
        return out
    pk = _q(parent.primary_key[0])
    psrc = f"{_q(parent.schema)}.{_q(parent.name)}"
    for child_name, fk in CHILDREN.get(parent.qualified, ()):
        child = BY_NAME[child_name]
        if fk not in _columns(con, child):
            continue
        csrc = f"{_q(child.schema)}.{_q(child.name)}"
        con.execute(
            f"""
            create or replace temp table _q_children as
            select c.rowid as {ROWID},
                   'its {parent.name[:-1] if parent.name.endswith("s") else parent.name} '
                   || CAST(c.{_q(fk)} AS VARCHAR) || ' was quarantined (' || k.reason || ')' as reason
            from {csrc} c
            join (select key, any_value(reason) as reason from _q_parent_keys group by key) k
              on CAST(c.{_q(fk)} AS VARCHAR) = k.key
            where CAST(c.{_q(fk)} AS VARCHAR) not in
                  (select CAST({pk} AS VARCHAR) from {psrc} where {pk} is not null)
            """
        )
        n = _move(con, child, "_q_children", reference_time)
        if n:
            out[child.qualified] = n
    return out


def move_rows(con: Any, batches: list[tuple[RawTable, Any]], reference_time: datetime) -> dict[str, Any]:
    """Moves every breaking row of ``batches`` (table, frame of ``__rowid`` + ``reason``) into the quarantine.

    One transaction for the whole gate call: either every row is recorded and removed, or nothing changes.

    Returns:
        ``{"moved": {table: rows}, "cascaded": {child table: rows}, "records": new quarantine records}``.
    """
    moved: dict[str, int] = {}
    cascaded: dict[str, int] = {}
    batches = [(t, f) for t, f in batches if f is not None and len(f)]
    if not batches:
        return {"moved": moved, "cascaded": cascaded, "records": 0}
    before = con.execute(f"select count(*) from {QUARANTINE.qualified}").fetchall()[0][0]
    con.execute("begin transaction")
    try:
        for table, bad in batches:
            con.register("_q_bad_frame", bad)
            con.execute("create or replace temp table _q_bad as select * from _q_bad_frame")
            con.unregister("_q_bad_frame")
            if len(table.primary_key) == 1 and table.qualified in CHILDREN:
                con.execute(
                    f"create or replace temp table _q_parent_keys as select CAST(t.{_q(table.primary_key[0])} "
                    f"AS VARCHAR) as key, b.reason from {_q(table.schema)}.{_q(table.name)} t "
                    f"join _q_bad b on t.rowid = b.{ROWID} where t.{_q(table.primary_key[0])} is not null"
                )
            n = _move(con, table, "_q_bad", reference_time)
            moved[table.qualified] = moved.get(table.qualified, 0) + n
            if table.qualified in CHILDREN:
                for child, m in _cascade(con, table, "_q_bad", reference_time).items():
                    cascaded[child] = cascaded.get(child, 0) + m
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    for temp in ("_q_bad", "_q_parent_keys", "_q_children"):
        con.execute(f"drop table if exists {temp}")
    after = con.execute(f"select count(*) from {QUARANTINE.qualified}").fetchall()[0][0]
    return {"moved": moved, "cascaded": cascaded, "records": int(after - before)}
