"""Latency of the as-of store under the storefront emulator's typical queries (``python -m testbed.shop bench-store``)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from testbed.shop.store import ShopStore

QUERIES: dict[str, str] = {
    "customers changed in the last day (since), page 2": "SELECT * FROM customers_asof($ts, since := $day_ago) "
    "ORDER BY updated_date, member_id LIMIT 1000 OFFSET 1000",
    "customers signed up in a week, page 2": "SELECT * FROM customers_asof($ts) WHERE created_date >= $week_ago "
    "ORDER BY created_date, member_id LIMIT 1000 OFFSET 1000",
    "customers by id": "SELECT * FROM customers_asof($ts) WHERE member_id = 'm0000100'",
    "customers full table, page 6 by member_id": "SELECT * FROM customers_asof($ts) ORDER BY member_id "
    "LIMIT 1000 OFFSET 5000",
    "orders changed in the last day (since), page 2": "SELECT * FROM orders_asof($ts, since := $day_ago) "
    "ORDER BY updated_date, order_id LIMIT 1000 OFFSET 1000",
    "orders of one day by order_date, page 2": "SELECT * FROM orders_asof($ts) WHERE order_date >= $day_ago "
    "ORDER BY order_date, order_id LIMIT 1000 OFFSET 1000",
    "order items of one day's orders": "SELECT * FROM order_items_asof($ts) WHERE order_id >= $first_id "
    "AND order_id < $last_id",
    "reviews changed in the last week (since)": "SELECT * FROM reviews_asof($ts, since := $week_ago) "
    "ORDER BY updated_date, article_no LIMIT 1000",
    "subscriptions, page 1": "SELECT * FROM subscriptions_asof($ts) ORDER BY subscription_id LIMIT 1000",
    "products": "SELECT * FROM products_asof($ts)",
}


def bench_store(store: ShopStore, as_of: datetime, repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` milliseconds per query, plus the time to build the shared database (``connect``)."""
    started = time.perf_counter()
    con = store.connect()
    out = {"connect (first)": round((time.perf_counter() - started) * 1000, 1)}
    day = as_of - timedelta(days=1)
    params = {
        "ts": as_of,
        "day_ago": day,
        "week_ago": as_of - timedelta(days=7),
        "first_id": day.strftime("%Y%m%d") + "-",
        "last_id": as_of.strftime("%Y%m%d") + "-",
    }
    for label, sql in QUERIES.items():
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            con.sql(sql, params=used).fetchall()
            best = min(best, time.perf_counter() - t)
        out[label] = round(best * 1000, 1)
    con.close()
    return out
