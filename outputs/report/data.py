"""The report's numbers: one read-only pass over the marts of a data date, section by section.

Every section is a JSON-friendly dict with ``status`` (``ok``, ``empty`` — the table exists but has nothing to show
yet —, or ``missing`` — the table is not in the warehouse, e.g. dbt did not finish) and a Korean ``message`` for the
two non-ok states. The same dicts go into ``report.json``, the page's ``report-data`` blob and the charts, so what a
marketer sees, what a test reads and what the warehouse holds are one set of numbers.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from include.core.pii import mask_text
from include.core.timezone import TIMEZONE
from outputs.labels import (
    CHANNEL_ORDER,
    CHANNELS,
    GATE_ORDER,
    INFLOW_STEPS,
    SEGMENT_ORDER,
    TIER_ORDER,
    VERDICT_DOWN,
    VERDICT_NO_COMPARISON,
    VERDICT_NOT_MEASURABLE,
    VERDICT_UNCLEAR,
    VERDICT_UP,
)

HISTORY_DAYS = 90  # segment sizes over time: the last 90 days up to the data date
INFLOW_WINDOW_DAYS = 7  # inflow funnel: the week ending on the data date
REVIEW_HISTORY_DAYS = 180  # review coverage over time
REVIEW_FUNNEL_DAYS = 30  # review funnel: orders delivered in the last 30 days
COVIEW_TOP = 5  # co-viewed products shown per hero product
MISSING = "missing"
EMPTY = "empty"
OK = "ok"


class Warehouse:
    """Read-only access to the DuckDB warehouse that tolerates missing tables (the report runs after failures too)."""

    def __init__(self, path: Path) -> None:
        import duckdb

        self.path = Path(path)
        self.con = None
        self.tables: set[str] = set()
        if not self.path.exists():
            return
        try:
            self.con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise RuntimeError(f"cannot open warehouse {self.path} read-only: {exc}") from exc
        self.con.execute(f"set TimeZone = '{TIMEZONE}'")
        rows = self.con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        self.tables = {f"{s}.{t}" for s, t in rows}

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        assert self.con is not None
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def one(self, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
        out = self.rows(sql, params)
        return out[0] if out else {}

    def close(self) -> None:
        if self.con is not None:
            self.con.close()


def _missing(*tables: str) -> dict[str, Any]:
    return {
        "status": MISSING,
        "message": "이번 실행에서 이 데이터를 만드는 단계가 끝나지 않았습니다 (없는 표: "
        + ", ".join(tables)
        + ").",
        "tables": list(tables),
    }


def _empty(message: str) -> dict[str, Any]:
    return {"status": EMPTY, "message": message}


def _stale(wh: Warehouse, table: str, d: date) -> dict[str, Any] | None:
    """An empty-state when a snapshot mart (one ``run_date``) was built for another date than the report's."""
    dates = [r["run_date"] for r in wh.rows(f"select distinct run_date from {table}")]
    if dates and any(x != d for x in dates):
        built = ", ".join(sorted(x.isoformat() for x in dates if x is not None))
        return {
            "status": EMPTY,
            "message": f"{table} 표는 {built} 기준으로 만들어져 있어 {d.isoformat()} 리포트에 쓰지 않았습니다.",
            "stale": True,
        }
    return None


def _num(value: Any) -> Any:
    """Warehouse numbers as JSON numbers (Decimal → float, ints stay ints)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return int(f) if f.is_integer() and "." not in str(value) else f


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else _num(v)) for k, v in row.items()}


def _rate(num: Any, den: Any) -> float | None:
    return (num / den) if num is not None and den else None


# ---- sections -------------------------------------------------------------------------------------------------------


def kpis(wh: Warehouse, d: date) -> dict[str, Any]:
    if not wh.has("marts.dim_customers", "marts.fct_orders"):
        return _missing(*(t for t in ("marts.dim_customers", "marts.fct_orders") if not wh.has(t)))
    if stale := _stale(wh, "marts.dim_customers", d):
        return stale
    cust = wh.one(
        "select count(*) as customers, count(case when is_member then 1 end) as members, "
        "count(case when first_seen_date = ? then 1 end) as new_customers, "
        "count(case when order_count > 0 then 1 end) as customers_with_orders from marts.dim_customers",
        [d],
    )
    day = (
        "select count(distinct customer_id) as buyers, count(*) as orders, "
        "coalesce(sum(net_revenue_krw), 0) as revenue_krw from marts.fct_orders "
        "where order_date = ? and not is_cancelled"
    )
    today, week_ago = wh.one(day, [d]), wh.one(day, [d - timedelta(days=7)])
    out: dict[str, Any] = {"status": OK, **_clean(cust), **_clean(today)}
    out.update({f"{k}_week_ago": _num(v) for k, v in week_ago.items()})
    msg = {
        "messages_sent": None,
        "messages_delivered": None,
        "campaigns": None,
        "last_campaign_run_date": None,
    }
    if wh.has("marts.fct_message_funnel"):
        m = wh.one(
            "select coalesce(sum(sent), 0) as messages_sent, coalesce(sum(delivered), 0) as messages_delivered, "
            "count(distinct campaign_id) as campaigns, max(last_run_date) as last_campaign_run_date "
            "from marts.fct_message_funnel where arm = 'treatment'"
        )
        msg = _clean(m)
    out.update(msg)
    return out


def segments(wh: Warehouse, d: date) -> dict[str, Any]:
    table = "marts.fct_customer_segments_daily"
    if not wh.has(table):
        return _missing(table)
    rows = wh.rows(
        f"select segment_date, segment, count(*) as customers from {table} "
        "where segment_date <= ? and segment_date > ? group by all order by all",
        [d, d - timedelta(days=HISTORY_DAYS)],
    )
    dates = sorted({r["segment_date"] for r in rows})
    by = {(r["segment_date"], r["segment"]): r["customers"] for r in rows}
    series = {s: [by.get((x, s), 0) for x in dates] for s in SEGMENT_ORDER}
    if d not in dates:
        return _empty(f"{d.isoformat()} 기준 세그먼트가 아직 계산되지 않았습니다.")
    today = {s: by.get((d, s), 0) for s in SEGMENT_ORDER}
    prev = d - timedelta(days=1)
    yesterday = {s: by.get((prev, s), 0) for s in SEGMENT_ORDER} if prev in dates else None
    total = sum(today.values())
    return {
        "status": OK,
        "dates": [x.isoformat() for x in dates],
        "series": series,
        "today": today,
        "yesterday": yesterday,
        "shares": {s: _rate(today[s], total) for s in SEGMENT_ORDER},
        "total": total,
        "has_history": len(dates) > 1,
    }


def transitions(wh: Warehouse, d: date) -> dict[str, Any]:
    tr, daily = "marts.fct_segment_transitions", "marts.fct_customer_segments_daily"
    if not wh.has(tr, daily):
        return _missing(*(t for t in (tr, daily) if not wh.has(t)))
    moved = wh.rows(
        f"select coalesce(from_segment, 'new') as from_segment, to_segment, count(*) as customers from {tr} "
        "where transition_date = ? group by all order by all",
        [d],
    )
    prev = d - timedelta(days=1)
    has_prev = bool(wh.one(f"select 1 as x from {daily} where segment_date = ? limit 1", [prev]))
    stayed = {}
    if has_prev:
        stayed = {
            r["segment"]: r["customers"]
            for r in wh.rows(
                f"select t.segment, count(*) as customers from {daily} t join {daily} y "
                "on t.customer_id = y.customer_id and y.segment_date = ? and t.segment = y.segment "
                "where t.segment_date = ? group by all",
                [prev, d],
            )
        }
    if not moved and not has_prev:
        return _empty("전날 세그먼트 기록이 없어 오늘의 이동을 계산할 수 없습니다 (첫 실행).")
    sources = ("new", *SEGMENT_ORDER)
    cell = {(r["from_segment"], r["to_segment"]): r["customers"] for r in moved}
    matrix = []
    for f in sources:
        row = []
        for t in SEGMENT_ORDER:
            if f == t:
                row.append(stayed.get(f, 0) if has_prev else None)
            else:
                row.append(cell.get((f, t), 0))
        matrix.append(row)
    changed = sum(v for (f, _), v in cell.items() if f != "new")
    # G1 has no high axis, G2/G3 one (interest or conversion), G4 both: "upward" adds a high axis
    rank = {"G1": 0, "G2": 1, "G3": 1, "G4": 2}
    return {
        "status": OK,
        "date": d.isoformat(),
        "from": list(sources),
        "to": list(SEGMENT_ORDER),
        "matrix": matrix,
        "moves": [_clean(r) for r in moved],
        "moved": changed,
        "new_customers": sum(v for (f, _), v in cell.items() if f == "new"),
        "to_g4": sum(v for (f, t), v in cell.items() if f != "new" and t == "G4"),
        "upward": sum(v for (f, t), v in cell.items() if f != "new" and rank[t] > rank[f]),
        "stayed": sum(stayed.values()) if has_prev else None,
        "has_previous_day": has_prev,
    }


def tiers(wh: Warehouse, d: date) -> dict[str, Any]:
    dim, policy = "marts.dim_customers", "marts.tier_benefit_policy"
    if not wh.has(dim):
        return _missing(dim)
    if stale := _stale(wh, dim, d):
        return stale
    counts = {
        r["tier"]: r["customers"]
        for r in wh.rows(f"select tier, count(*) as customers from {dim} group by all")
    }
    policies = {}
    if wh.has(policy):
        policies = {r["tier"]: _clean(r) for r in wh.rows(f"select * from {policy}")}
    total = sum(counts.values())
    if not total:
        return _empty("아직 고객이 없습니다.")
    rows = []
    for t in TIER_ORDER:
        p = policies.get(t, {})
        rows.append(
            {
                "tier": t,
                "customers": counts.get(t, 0),
                "share": _rate(counts.get(t, 0), total),
                "benefit_code": p.get("benefit_code"),
                "benefit_discount_pct": p.get("benefit_discount_pct"),
                "benefit_scope": p.get("benefit_scope"),
                "benefit_description": p.get("benefit_description"),
            }
        )
    out: dict[str, Any] = {"status": OK, "tiers": rows, "total": total, "upgrades": None, "downgrades": None}
    if wh.has("marts.fct_tier_transitions"):
        moves = wh.one(
            "select count(case when is_upgrade then 1 end) as upgrades, "
            "count(case when is_downgrade then 1 end) as downgrades "
            "from marts.fct_tier_transitions where transition_date = ? and not is_new_customer",
            [d],
        )
        out.update(_clean(moves))
    return out


def inflow(wh: Warehouse, d: date) -> dict[str, Any]:
    table = "marts.fct_inflow_funnel_daily"
    if not wh.has(table):
        return _missing(table)
    start = d - timedelta(days=INFLOW_WINDOW_DAYS - 1)
    steps = ", ".join(f"sum({s}) as {s}" for s, _ in INFLOW_STEPS)
    rows = wh.rows(
        f"select acquisition_channel, {steps}, sum(orders) as orders, sum(order_revenue_krw) as order_revenue_krw "
        f"from {table} where funnel_date between ? and ? group by all",
        [start, d],
    )
    if not rows:
        return _empty(f"{start.isoformat()}~{d.isoformat()} 사이 방문 기록이 없습니다.")
    order = {c: i for i, c in enumerate(CHANNEL_ORDER)}
    rows.sort(key=lambda r: (order.get(r["acquisition_channel"], 99), r["acquisition_channel"]))
    total_sessions = sum(r["sessions"] or 0 for r in rows)
    channels = []
    for r in rows:
        c = _clean(r)
        names = [s for s, _ in INFLOW_STEPS]
        c["step_rates"] = {names[i]: _rate(c[names[i]], c[names[i - 1]]) for i in range(1, len(names))}
        c["reach_rates"] = {n: _rate(c[n], c["sessions"]) for n in names}
        c["session_share"] = _rate(c["sessions"], total_sessions)
        c["label"] = CHANNELS.get(c["acquisition_channel"], c["acquisition_channel"])
        channels.append(c)
    return {
        "status": OK,
        "start_date": start.isoformat(),
        "end_date": d.isoformat(),
        "channels": channels,
        "total_sessions": total_sessions,
    }


def message_funnel(wh: Warehouse, d: date, names: dict[str, str]) -> dict[str, Any]:
    table = "marts.fct_message_funnel"
    if not wh.has(table):
        return _missing(table)
    # built with fct_campaign_results (which carries the run_date) from the same outcomes
    if wh.has("marts.fct_campaign_results") and (stale := _stale(wh, "marts.fct_campaign_results", d)):
        return stale
    rows = [_clean(r) for r in wh.rows(f"select * from {table} order by campaign_id, variant, arm")]
    if not rows:
        return _empty("아직 발송된 캠페인이 없습니다. 첫 캠페인이 나간 다음 날부터 여기에 표시됩니다.")
    for r in rows:
        r["campaign_name"] = names.get(r["campaign_id"], r["campaign_id"])
    return {"status": OK, "rows": rows}


def verdict(row: dict[str, Any]) -> str:
    """Plain-language verdict of a campaign × variant: an up/down call only when the 95 % CI excludes 0."""
    if not row.get("comparison_recipients"):
        return VERDICT_NO_COMPARISON
    low, high = row.get("absolute_lift_ci_low"), row.get("absolute_lift_ci_high")
    if low is None or high is None:
        return VERDICT_NOT_MEASURABLE
    if low > 0:
        return VERDICT_UP
    if high < 0:
        return VERDICT_DOWN
    return VERDICT_UNCLEAR


def campaign_results(wh: Warehouse, d: date, names: dict[str, str]) -> dict[str, Any]:
    table = "marts.fct_campaign_results"
    if not wh.has(table):
        return _missing(table)
    if stale := _stale(wh, table, d):
        return stale
    rows = [_clean(r) for r in wh.rows(f"select * from {table} order by campaign_id, variant")]
    if not rows:
        return _empty(
            "효과를 비교할 캠페인 결과가 아직 없습니다 (발송 후 홀드아웃과 비교할 수 있을 때 표시됩니다)."
        )
    for r in rows:
        r["campaign_name"] = names.get(r["campaign_id"], r["campaign_id"])
        r["verdict"] = verdict(r)
        r["is_window_complete"] = bool(r.get("windows_complete")) and r["windows_complete"] >= r["recipients"]
    return {"status": OK, "rows": rows}


def reviews(wh: Warehouse, d: date) -> dict[str, Any]:
    table = "marts.fct_review_funnel"
    if not wh.has(table):
        return _missing(table)
    hist = wh.rows(
        f"select delivered_date, share_products_at_review_target, products_at_review_target, selling_products "
        f"from {table} where delivered_date <= ? and delivered_date > ? order by delivered_date",
        [d, d - timedelta(days=REVIEW_HISTORY_DAYS)],
    )
    if not hist:
        return _empty("배송 완료된 주문이 아직 없어 리뷰 지표가 없습니다.")
    start = d - timedelta(days=REVIEW_FUNNEL_DAYS - 1)
    funnel = _clean(
        wh.one(
            "select coalesce(sum(delivered_orders), 0) as delivered_orders, "
            "coalesce(sum(review_requested_orders), 0) as review_requested_orders, "
            "coalesce(sum(reviewed_orders), 0) as reviewed_orders, "
            "coalesce(sum(reviewed_after_request_orders), 0) as reviewed_after_request_orders "
            f"from {table} where delivered_date between ? and ?",
            [start, d],
        )
    )
    last = _clean(hist[-1])
    return {
        "status": OK,
        "dates": [r["delivered_date"].isoformat() for r in hist],
        "share": [_num(r["share_products_at_review_target"]) for r in hist],
        "current_share": last["share_products_at_review_target"],
        "products_at_review_target": last["products_at_review_target"],
        "selling_products": last["selling_products"],
        "funnel_start_date": start.isoformat(),
        "funnel": funnel,
        "write_rate": _rate(funnel["reviewed_orders"], funnel["delivered_orders"]),
        "write_rate_after_request": _rate(
            funnel["reviewed_after_request_orders"], funnel["review_requested_orders"]
        ),
    }


def subscriptions(wh: Warehouse, d: date) -> dict[str, Any]:
    table = "marts.fct_subscription_funnel"
    if not wh.has(table):
        return _missing(table)
    if stale := _stale(wh, table, d):
        return stale
    rows = [_clean(r) for r in wh.rows(f"select * from {table} order by bucket_order desc")]
    if not rows:
        return _empty("정기배송 이용 고객이 아직 없습니다.")
    return {
        "status": OK,
        "buckets": rows,
        "active": sum(r["active"] for r in rows),
        "renewal_candidates": sum(
            r["active"] - r["active_auto_renewal"] for r in rows if r["remaining_bucket"] in ("0", "1", "2")
        ),
    }


def coviews(wh: Warehouse, d: date) -> dict[str, Any]:
    table = "marts.fct_hero_product_coviews"
    if not wh.has(table):
        return _missing(table)
    if stale := _stale(wh, table, d):
        return stale
    rows = wh.rows(
        f"select hero_product_no, hero_product_name, hero_sessions, coview_rank, coviewed_product_no, "
        f"coviewed_product_name, coviewed_category_name, coview_sessions, coview_share from {table} "
        f"where coview_rank <= ? order by hero_sessions desc, hero_product_no, coview_rank",
        [COVIEW_TOP],
    )
    if not rows:
        return _empty("히어로 상품을 함께 본 세션이 아직 없습니다.")
    heroes: dict[int, dict[str, Any]] = {}
    for r in rows:
        h = heroes.setdefault(
            r["hero_product_no"],
            {
                "hero_product_no": r["hero_product_no"],
                "hero_product_name": r["hero_product_name"],
                "hero_sessions": r["hero_sessions"],
                "coviews": [],
            },
        )
        h["coviews"].append(_clean({k: r[k] for k in r if k.startswith("cov") or k == "coview_rank"}))
    return {"status": OK, "heroes": list(heroes.values())}


def quality(wh: Warehouse, d: date, run_id: str, quality_dir: Path | None, out_dir: Path) -> dict[str, Any]:
    table = "quality.gate_results"
    if not wh.has(table):
        return {**_missing(table), "overall": "NONE", "gates": []}
    rows = wh.rows(
        f"select * from {table} where data_date = ? order by gate, evaluated_at, suite, expectation", [d]
    )
    if not rows:
        return {**_empty("이 날짜의 품질 검사 결과가 없습니다."), "overall": "NONE", "gates": []}
    gates = []
    names = sorted(
        {r["gate"] for r in rows}, key=lambda g: (GATE_ORDER.index(g) if g in GATE_ORDER else 99, g)
    )
    for gate in names:
        mine = [r for r in rows if r["gate"] == gate]
        runs = {r["run_id"] for r in mine}
        # this run's results when the gate ran in it; otherwise the latest run of the date (noted on the page)
        used = run_id if run_id in runs else max(mine, key=lambda r: r["evaluated_at"])["run_id"]
        mine = [r for r in mine if r["run_id"] == used]
        faults = [_fault(r) for r in mine if not r["success"]]
        critical = [f for f in faults if f["severity"] == "critical"]
        status = "FAIL" if critical else ("WARN" if faults else "PASS")
        gates.append(
            {
                "gate": gate,
                "status": status,
                "run_id": used,
                "from_this_run": used == run_id,
                "checks": len(mine),
                "passed": sum(1 for r in mine if r["success"]),
                "faults": faults,
                "report_href": _gate_report(quality_dir, gate, out_dir),
            }
        )
    order = {"FAIL": 2, "WARN": 1, "PASS": 0}
    overall = max((g["status"] for g in gates), key=order.__getitem__)
    return {"status": OK, "overall": overall, "gates": gates}


def _fault(r: dict[str, Any]) -> dict[str, Any]:
    reason = None
    if r.get("details"):
        try:
            details = json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]
            reason = details.get("reason") if isinstance(details, dict) else None
        except ValueError:
            reason = None
    return {
        "table_name": r["table_name"],
        "column_name": r["column_name"],
        "expectation": r["expectation"],
        "severity": r["severity"],
        "observed_value": mask_text(str(r["observed_value"])) if r["observed_value"] is not None else None,
        "reason": mask_text(reason) if reason else None,
    }


def _gate_report(quality_dir: Path | None, gate: str, out_dir: Path) -> str | None:
    if quality_dir is None:
        return None
    path = Path(quality_dir) / f"{gate}_gate.html"
    if not path.exists():
        return None
    # relative, so the pair of files can be moved or zipped together (runs/<D>/report.html → quality/…)
    return Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()


def campaign_names() -> dict[str, str]:
    """Campaign id → the Korean name from the campaign files (ids are shown when the files cannot be read)."""
    try:
        from activation.config.loader import load_config

        return {c.id: c.name for c in load_config().campaigns}
    except Exception:  # a broken campaign file must not break the morning report
        return {}


def collect(
    warehouse: Path,
    data_date: date,
    run_id: str,
    *,
    out_dir: Path,
    quality_dir: Path | None = None,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every section's numbers for ``data_date`` (see the module docstring for the shape)."""
    wh = Warehouse(warehouse)
    try:
        names = campaign_names() if names is None else names
        return {
            "kpis": kpis(wh, data_date),
            "segments": segments(wh, data_date),
            "transitions": transitions(wh, data_date),
            "tiers": tiers(wh, data_date),
            "inflow": inflow(wh, data_date),
            "message_funnel": message_funnel(wh, data_date, names),
            "campaign_results": campaign_results(wh, data_date, names),
            "reviews": reviews(wh, data_date),
            "subscriptions": subscriptions(wh, data_date),
            "coviews": coviews(wh, data_date),
            "quality": quality(wh, data_date, run_id, quality_dir, out_dir),
        }
    finally:
        wh.close()
