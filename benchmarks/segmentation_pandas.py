"""The segmentation logic of the dbt project written straightforwardly in pandas (the baseline of benchmark 2).

Same inputs (the raw tables), same rules (``docs/dbt.md`` and the SQL of ``stg_cafe24__orders``,
``int_customers_unioned``, ``int_sessions_aggregated``, ``int_customer_activity_daily``, ``int_as_of_dates``,
``int_customer_orders_as_of``, ``int_customer_engagement_as_of``, ``int_customer_segments_scored``), same output:
one row per customer and recomputed date with the order facts, tier, interest and conversion scores, thresholds
and G1–G4. DuckDB only reads the raw columns into pandas (``event_properties`` only for ``session_start`` rows, the
one place it is used); deduplication, time zones, joins, windows, percentiles and arithmetic happen in pandas.
Scores are kept as integer hundredths, which is what the SQL's exact decimal rounding amounts to.

    python -m benchmarks.segmentation_pandas --warehouse W --run-date 2026-11-21 --out result.parquet
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from include.core.timezone import TIMEZONE

TZ = TIMEZONE
LOOKBACK_DAYS = 2  # var event_lookback_days
TIERS = ((10, "loyal"), (3, "repeat"), (2, "second"), (1, "first"))  # var tier_*_min_orders
RECENT_DAYS, WINDOW_DAYS, PURCHASE_WINDOW_DAYS = 30, 90, 365
W_SESSION, W_VIEW, W_CART, W_CLICK = 1, 1, 3, 2
POINTS_PER_ORDER, REVENUE_UNIT = 5, 10_000
PERCENTILE = 0.5
TRUE_FLAGS, FALSE_FLAGS = {"T", "Y", "TRUE", "1"}, {"F", "N", "FALSE", "0"}


def _local(ts: pd.Series) -> pd.Series:
    """A tz-aware timestamp column as naive local time in the business timezone (staging's conversion)."""
    return ts.dt.tz_convert(TZ).dt.tz_localize(None)


def _latest(df: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    """One row per ``key``: the greatest ``order`` values win, nulls last (``row_number() ... = 1``)."""
    return df.sort_values(order, ascending=False, na_position="last").drop_duplicates(key, keep="first")


def _flag(s: pd.Series) -> pd.Series:
    """Cafe24 T/F flags as booleans, anything else false (``flag_to_boolean(..., default=false)``)."""
    return s.fillna("").str.strip().str.upper().isin(TRUE_FLAGS)


def _guest_id(phone: pd.Series, order_id: pd.Series) -> pd.Series:
    key = phone.where(phone.notna(), "order:" + order_id)
    return pd.Series(["guest_" + hashlib.md5(k.encode()).hexdigest()[:12] for k in key], index=key.index)


def read_raw(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The raw columns the logic needs, as pandas frames."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"SET TimeZone = '{TZ}'")
        customers = con.execute(
            "select member_id, created_date, updated_date, _dlt_load_id from raw_cafe24.customers"
        ).df()
        orders = con.execute(
            "select order_id, member_id, buyer_cellphone, order_date, payment_amount, order_status, canceled, "
            "cancel_date, refund_amount, refund_date, updated_date, _dlt_load_id from raw_cafe24.orders"
        ).df()
        events = con.execute(
            "select insert_id, event_type, event_time, user_id, device_id, session_id, _dlt_load_id, "
            "case when lower(trim(event_type)) = 'session_start' then event_properties end as event_properties "
            "from raw_events.events"
        ).df()
    finally:
        con.close()
    return customers, orders, events


def staged_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """``stg_cafe24__orders``: latest version, customer key, KST times, cancel and refund times."""
    o = _latest(orders, "order_id", ["updated_date", "_dlt_load_id"])
    member = o["member_id"].str.strip().replace("", None)
    phone = o["buyer_cellphone"].str.replace(r"[^0-9]", "", regex=True).replace("", None)
    updated = _local(o["updated_date"])
    status = o["order_status"].fillna("").str.strip().str.upper()
    cancelled = _flag(o["canceled"]) | status.str.startswith("C")
    refund = o["refund_amount"].fillna(0).astype("int64")
    out = pd.DataFrame(
        {
            "order_id": o["order_id"],
            "member_id": member,
            "ordered_at": _local(o["order_date"]),
            "payment_krw": o["payment_amount"].fillna(0).astype("int64"),
            "cancelled_at": _local(o["cancel_date"]).fillna(updated).where(cancelled),
            "refund_krw": refund,
            "refunded_at": _local(o["refund_date"]).fillna(updated).where(refund > 0),
        }
    )
    out["order_date"] = out["ordered_at"].dt.normalize()
    out["customer_id"] = member
    guests = member.isna()
    out.loc[guests, "customer_id"] = _guest_id(phone[guests], o.loc[guests, "order_id"])
    return out


def customer_spine(customers: pd.DataFrame, orders: pd.DataFrame, run_day: pd.Timestamp) -> pd.DataFrame:
    """``int_customers_unioned``: every customer known by the end of the run date and its first-seen date."""
    members = _latest(customers, "member_id", ["updated_date", "_dlt_load_id"])
    members = pd.DataFrame(
        {"customer_id": members["member_id"], "first_seen": _local(members["created_date"]).dt.normalize()}
    )
    signed_up = members[members["first_seen"] <= run_day]
    first_order = orders.groupby("customer_id", as_index=False)["order_date"].min()
    first_order = first_order.rename(columns={"order_date": "first_seen"})
    is_member = first_order["customer_id"].isin(orders.loc[orders["member_id"].notna(), "customer_id"])
    guests = first_order[~is_member]
    orphans = first_order[is_member & ~first_order["customer_id"].isin(members["customer_id"])]
    return pd.concat([signed_up, guests, orphans], ignore_index=True)


def member_activity(events: pd.DataFrame, run_day: pd.Timestamp) -> pd.DataFrame:
    """``int_sessions_aggregated`` → ``int_customer_activity_daily``: per member and session day."""
    ev = _latest(events, "insert_id", ["_dlt_load_id"])
    ev = pd.DataFrame(
        {
            "event_id": ev["insert_id"],
            "event_type": ev["event_type"].str.strip().str.lower(),
            "event_at": _local(ev["event_time"]),
            "member_id": ev["user_id"].str.strip().replace("", None),
            "device_id": ev["device_id"],
            "session_id": ev["session_id"],
            "properties": ev["event_properties"],
        }
    )
    ev = ev[ev["event_at"].dt.normalize() <= run_day]
    keys = ["device_id", "session_id"]
    ev["is_view"] = ev["event_type"] == "view_item"
    ev["is_cart"] = ev["event_type"] == "add_to_cart"
    sessions = ev.groupby(keys, sort=False).agg(
        member_id=("member_id", "min"),
        started_at=("event_at", "min"),
        product_views=("is_view", "sum"),
        cart_adds=("is_cart", "sum"),
    )
    starts = ev[ev["event_type"] == "session_start"].sort_values(["event_at", "event_id"])
    starts = starts.drop_duplicates(keys, keep="first").set_index(keys)
    props = starts["properties"].where(starts["properties"].fillna("").str.strip().str.startswith("{"))
    utm = props.map(lambda p: json.loads(p).get("utm_source") if isinstance(p, str) else None)
    clicks = utm.map(lambda u: isinstance(u, str) and u.lower() == "crm")
    sessions["is_click"] = clicks.reindex(sessions.index, fill_value=False).astype(bool)
    sessions = sessions[sessions["member_id"].notna()]
    sessions["activity_date"] = sessions["started_at"].dt.normalize()
    return sessions.groupby(["member_id", "activity_date"], as_index=False).agg(
        sessions=("started_at", "size"),
        product_views=("product_views", "sum"),
        cart_adds=("cart_adds", "sum"),
        message_clicks=("is_click", "sum"),
    )


def _percentile_disc(values: np.ndarray, q: float) -> float | None:
    """``percentile_disc(q)``: the first value whose cumulative share reaches ``q`` (null without values)."""
    if len(values) == 0:
        return None
    s = np.sort(values)
    return s[max(int(np.ceil(q * len(s))) - 1, 0)]


def score_day(
    as_of: pd.Timestamp, spine: pd.DataFrame, orders: pd.DataFrame, activity: pd.DataFrame
) -> pd.DataFrame:
    """Facts, tier, scores, thresholds and segment of every customer as of one date."""
    cust = spine.loc[spine["first_seen"] <= as_of, ["customer_id"]]
    o = orders[orders["order_date"] <= as_of]
    cancelled = (o["cancelled_at"].dt.normalize() <= as_of).fillna(False).to_numpy(bool)
    refunded = np.where((o["refunded_at"].dt.normalize() <= as_of).fillna(False), o["refund_krw"], 0)
    net = np.where(cancelled, 0, np.maximum(o["payment_krw"].to_numpy() - refunded, 0))
    in_window = (o["order_date"] > as_of - pd.Timedelta(days=PURCHASE_WINDOW_DAYS)).to_numpy()
    valid = ~cancelled
    facts = (
        pd.DataFrame(
            {
                "customer_id": o["customer_id"].to_numpy(),
                "order_count": valid.astype(int),
                "net_revenue_krw": net,
                "last_order_at": o["ordered_at"].where(valid).to_numpy(),
                "window_order_count": (valid & in_window).astype(int),
                "window_net_revenue_krw": np.where(in_window, net, 0),
            }
        )
        .groupby("customer_id", as_index=False)
        .agg(
            order_count=("order_count", "sum"),
            net_revenue_krw=("net_revenue_krw", "sum"),
            last_order_at=("last_order_at", "max"),
            window_order_count=("window_order_count", "sum"),
            window_net_revenue_krw=("window_net_revenue_krw", "sum"),
        )
    )
    a = activity[(activity["activity_date"] <= as_of)
                 & (activity["activity_date"] > as_of - pd.Timedelta(days=WINDOW_DAYS))]  # fmt: skip
    recent = a["activity_date"] > as_of - pd.Timedelta(days=RECENT_DAYS)
    points = (W_SESSION * a["sessions"] + W_VIEW * a["product_views"] + W_CART * a["cart_adds"]
              + W_CLICK * a["message_clicks"])  # fmt: skip
    # interest in hundredths: 100 × recent points + 50 × older points (older weight 0.5, exact)
    eng = pd.DataFrame({"customer_id": a["member_id"], "interest_c": np.where(recent, 100, 50) * points})
    eng = eng.groupby("customer_id", as_index=False)["interest_c"].sum()

    day = cust.merge(facts, on="customer_id", how="left").merge(eng, on="customer_id", how="left")
    for col in (
        "order_count",
        "net_revenue_krw",
        "window_order_count",
        "window_net_revenue_krw",
        "interest_c",
    ):
        day[col] = day[col].fillna(0).astype("int64")
    days_since = (as_of - day["last_order_at"].dt.normalize()).dt.days
    # recency multiplier in quarters: 1 → 4, 0.5 → 2, 0.25 → 1, none → 0
    quarters = np.select(
        [day["window_order_count"] == 0, days_since < RECENT_DAYS, days_since < WINDOW_DAYS],
        [0, 4, 2],
        default=1,
    )
    # conversion = q/4 × (5 × orders + revenue / 10,000) in millionths, rounded half up to 4 then 2 decimals
    micro = quarters * (
        POINTS_PER_ORDER * REVENUE_UNIT * day["window_order_count"] + day["window_net_revenue_krw"]
    )
    micro = micro * (1_000_000 // REVENUE_UNIT) // 4
    day["conversion_c"] = ((micro + 50) // 100 + 50) // 100
    tier = np.full(len(day), "prospect", dtype=object)
    for minimum, name in reversed(TIERS):
        tier = np.where(day["order_count"] >= minimum, name, tier)
    day["tier"] = tier
    for score in ("interest", "conversion"):
        col = day[f"{score}_c"]
        cut = _percentile_disc(col[col > 0].to_numpy(), PERCENTILE)
        day[f"{score}_threshold_c"] = cut
        day[f"is_high_{score}"] = (col > 0) & (col >= cut) if cut is not None else False
    hi, hc = day["is_high_interest"], day["is_high_conversion"]
    day["segment"] = np.select([hi & hc, hc, hi], ["G4", "G3", "G2"], default="G1")
    day["as_of_date"] = as_of.date()
    return day


def segment(warehouse: Path, run_date: date) -> tuple[pd.DataFrame, dict[str, float]]:
    """Runs the whole logic for the dates ``int_as_of_dates`` recomputes; returns the rows and phase timings."""
    laps: dict[str, float] = {}
    t = time.perf_counter()
    customers, orders, events = read_raw(warehouse)
    laps["read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    run_day = pd.Timestamp(run_date)
    o = staged_orders(orders)
    o = o[o["order_date"] <= run_day]
    spine = customer_spine(customers, o, run_day)
    activity = member_activity(events, run_day)
    del events
    dates = [run_day - pd.Timedelta(days=k) for k in range(LOOKBACK_DAYS + 2)]
    out = pd.concat([score_day(d, spine, o, activity) for d in dates], ignore_index=True)
    laps["logic_s"] = time.perf_counter() - t
    cols = ["customer_id", "as_of_date", "tier", "order_count", "net_revenue_krw", "window_order_count",
            "interest_c", "conversion_c", "interest_threshold_c", "conversion_threshold_c", "segment"]  # fmt: skip
    return out[cols], laps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.segmentation_pandas")
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--run-date", type=date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    out, laps = segment(args.warehouse, args.run_date)
    out.to_parquet(args.out, index=False)
    sys.stdout.write(json.dumps({"rows": len(out), **{k: round(v, 2) for k, v in laps.items()}}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["segment", "timedelta"]
