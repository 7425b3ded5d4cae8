"""As-of store: contract columns, states at instants, the since filter, simulated orders, speed."""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from testbed.shop.store import CONTRACTS, ShopStore, write_sim_orders

KST = ZoneInfo("Asia/Seoul")
END = datetime(2026, 11, 23, tzinfo=KST)  # end of the generated history


@pytest.fixture()
def store(small_shop, tmp_path: Path) -> ShopStore:
    """A private copy of the small shop (tests add simulated orders to it)."""
    shop = tmp_path / "shop"
    shutil.copytree(small_shop[0], shop)
    s = ShopStore(shop)
    yield s
    s.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, **params) -> list[dict]:
    table = con.sql(sql, params=params).to_arrow_table()
    return table.to_pylist()


def test_macros_return_exactly_the_contract_columns_and_types(store: ShopStore) -> None:
    con = store.connect()
    types = {"text": pa.string(), "bigint": pa.int64(), "timestamp": pa.timestamp("us", tz="Asia/Seoul")}
    for macro, contract in CONTRACTS.items():
        table = con.sql(f"SELECT * FROM {macro}($ts) LIMIT 50", params={"ts": END}).to_arrow_table()
        assert table.column_names == list(contract.columns), macro
        for col, dtype in contract.columns.items():
            assert table.schema.field(col).type == types[dtype], (macro, col)
        assert table.num_rows > 0 or macro == "products_asof"


def test_nothing_exists_before_it_happened(store: ShopStore) -> None:
    con = store.connect()
    first = con.sql("SELECT min(created_date) FROM customers_base").fetchall()[0][0]
    assert (
        con.sql(
            "SELECT count(*) FROM customers_asof($ts)", params={"ts": first - timedelta(seconds=1)}
        ).fetchall()[0][0]
        == 0
    )
    mid = END - timedelta(days=200)
    for macro, col in (("customers_asof", "created_date"), ("orders_asof", "order_date"), ("reviews_asof", "created_date"),
                       ("subscriptions_asof", "created_date")):  # fmt: skip
        late = con.sql(f"SELECT count(*) FROM {macro}($ts) WHERE {col} > $ts", params={"ts": mid}).fetchall()[
            0
        ][0]
        assert late == 0
        assert con.sql(f"SELECT count(*) FROM {macro}($ts)", params={"ts": mid}).fetchall()[0][0] < con.sql(
            f"SELECT count(*) FROM {macro}($ts)", params={"ts": END}).fetchall()[0][0]  # fmt: skip


def test_a_refunded_order_shows_its_refund_only_from_the_refund_instant(store: ShopStore) -> None:
    con = store.connect()
    order = rows(con, "SELECT order_id, refund_date, refund_amount, shipend_date FROM orders_base_check "
                      "LIMIT 1".replace("orders_base_check", "orders_all WHERE refund_amount > 0 AND refund_date < $end"),
                 end=END)[0]  # fmt: skip
    at = order["refund_date"]
    q = "SELECT * FROM orders_asof($ts) WHERE order_id = $id"
    before = rows(con, q, ts=at - timedelta(seconds=1), id=order["order_id"])[0]
    after = rows(con, q, ts=at, id=order["order_id"])[0]
    assert before["refund_amount"] == 0 and before["refund_date"] is None
    assert before["order_status"] in ("N40", "N30") and before["updated_date"] < at
    assert after["refund_amount"] == order["refund_amount"] > 0
    assert after["order_status"] == "R40" and after["updated_date"] == at and after["refund_date"] == at
    items_before = rows(con, "SELECT order_status FROM order_items_asof($ts) WHERE order_id = $id",
                        ts=at - timedelta(seconds=1), id=order["order_id"])  # fmt: skip
    items_after = rows(con, "SELECT order_status FROM order_items_asof($ts) WHERE order_id = $id", ts=at,
                       id=order["order_id"])  # fmt: skip
    assert "R40" not in {r["order_status"] for r in items_before}
    assert "R40" in {r["order_status"] for r in items_after}


def test_virtual_account_orders_wait_in_n00_until_paid(store: ShopStore) -> None:
    con = store.connect()
    order = rows(con, "SELECT order_id, order_date, payment_date FROM orders_all WHERE payment_date > order_date "
                      "+ INTERVAL 6 HOUR AND payment_date < $end LIMIT 1", end=END)[0]  # fmt: skip
    q = "SELECT order_status, payment_date, updated_date FROM orders_asof($ts) WHERE order_id = $id"
    waiting = rows(con, q, ts=order["payment_date"] - timedelta(minutes=1), id=order["order_id"])[0]
    paid = rows(con, q, ts=order["payment_date"], id=order["order_id"])[0]
    assert waiting == {"order_status": "N00", "payment_date": None, "updated_date": order["order_date"]}
    assert paid["order_status"] == "N10" and paid["updated_date"] == order["payment_date"]


def test_consent_flags_and_dates_follow_an_opt_out(store: ShopStore) -> None:
    con = store.connect()
    member = rows(con, "SELECT member_id, sms_changed_at, sms_initial FROM customers_base WHERE sms_initial = 'T' "
                       "AND sms_changed_at < $end ORDER BY member_id LIMIT 1", end=END)[0]  # fmt: skip
    q = "SELECT sms, sms_consent_date, updated_date FROM customers_asof($ts) WHERE member_id = $id"
    before = rows(con, q, ts=member["sms_changed_at"] - timedelta(seconds=1), id=member["member_id"])[0]
    after = rows(con, q, ts=member["sms_changed_at"], id=member["member_id"])[0]
    assert before["sms"] == "T" and after["sms"] == "F"
    assert after["sms_consent_date"] == member["sms_changed_at"] == after["updated_date"]
    assert before["updated_date"] < member["sms_changed_at"]


def test_subscription_used_count_grows_weekly(store: ShopStore) -> None:
    con = store.connect()
    sub = rows(con, "SELECT subscription_id, start_date, total_delivery_count FROM subscriptions_base "
                    "WHERE cancel_date IS NULL AND end_date < $end LIMIT 1", end=END)[0]  # fmt: skip
    q = "SELECT used_delivery_count, subscription_state FROM subscriptions_asof($ts) WHERE subscription_id = $id"
    seen = [rows(con, q, ts=sub["start_date"] + timedelta(days=7 * k, hours=1), id=sub["subscription_id"])[0]
            for k in range(sub["total_delivery_count"] + 1)]  # fmt: skip
    assert [s["used_delivery_count"] for s in seen[:-1]] == list(range(1, sub["total_delivery_count"] + 1))
    assert seen[0]["subscription_state"] == "active" and seen[-1]["subscription_state"] == "expired"


def test_since_filter_equals_filtering_on_updated_date(store: ShopStore) -> None:
    con = store.connect()
    ts, since = END - timedelta(days=3), END - timedelta(days=15)
    for macro in ("customers_asof", "orders_asof", "reviews_asof", "subscriptions_asof", "products_asof"):
        fast = con.sql(
            f"SELECT * FROM {macro}($ts, since := $since) ORDER BY ALL", params={"ts": ts, "since": since}
        ).fetchall()
        slow = con.sql(f"SELECT * FROM {macro}($ts) WHERE updated_date >= $since ORDER BY ALL",
                       params={"ts": ts, "since": since}).fetchall()  # fmt: skip
        assert fast == slow, macro
        assert macro == "products_asof" or fast


def _sim_batch(order_id: str, member: dict, at: datetime) -> tuple[pa.Table, pa.Table]:
    ts = pa.timestamp("s", tz="Asia/Seoul")
    order = {
        "order_id": order_id, "member_id": member["member_id"], "member_authentication": "T",
        "buyer_name": member["name"], "buyer_cellphone": member["cellphone"], "buyer_email": member["email"],
        "order_date": at, "payment_date": at + timedelta(minutes=1), "currency": "KRW", "order_price_amount": 23900,
        "shipping_fee": 3000, "coupon_discount_price": 0, "payment_amount": 26900, "order_status": "N40",
        "canceled": "F", "cancel_date": None, "refund_amount": 0, "refund_date": None,
        "shipbegin_date": at + timedelta(days=1), "shipend_date": at + timedelta(days=2), "first_order": "F",
        "order_from_mobile": "T", "utm_campaign": "cmp-test", "updated_date": at + timedelta(days=2),
    }  # fmt: skip
    types = {k: (ts if isinstance(v, datetime) or k.endswith("_date") else None) for k, v in order.items()}
    orders = pa.table({k: pa.array([v], type=types[k]) for k, v in order.items()})
    items = pa.table({"order_item_code": [f"{order_id}-01"], "order_id": [order_id], "product_no": [11],
                      "product_name": ["패드"], "quantity": [1], "product_price": [23900], "order_status": ["N40"]})  # fmt: skip
    return orders, items


def test_simulated_orders_are_unioned_in_with_their_lifecycle(store: ShopStore) -> None:
    con = store.connect()
    assert store.refresh(con) is False
    member = rows(con, "SELECT member_id, name, cellphone, email FROM customers_base LIMIT 1")[0]
    at = END + timedelta(hours=10)
    orders, items = _sim_batch("20261123-9000001", member, at)
    # the closed-loop emulator writes items in the base layout with empty lifecycle columns: the store fills them
    base_schema = pq.read_schema(store.shop_dir / "order_items.parquet")
    for name in base_schema.names:
        if name not in items.column_names:
            items = items.append_column(base_schema.field(name), pa.nulls(1, base_schema.field(name).type))
    sim = store.sim_dir
    sim.mkdir()
    pq.write_table(orders, sim / "orders-g1.parquet")
    pq.write_table(items, sim / "order_items-g1.parquet")
    assert store.refresh(con) is True
    q = "SELECT order_status, utm_campaign FROM orders_asof($ts) WHERE order_id = '20261123-9000001'"
    assert rows(con, q, ts=at - timedelta(seconds=1)) == []
    assert rows(con, q, ts=at + timedelta(days=3)) == [{"order_status": "N40", "utm_campaign": "cmp-test"}]
    got = rows(store.connect(), "SELECT order_status FROM order_items_asof($ts) WHERE order_id = '20261123-9000001'",
               ts=at + timedelta(hours=30))  # fmt: skip
    assert got == [{"order_status": "N30"}]


def test_write_sim_orders_helper_fills_item_lifecycle_and_validates(store: ShopStore) -> None:
    con = store.connect()
    member = rows(con, "SELECT member_id, name, cellphone, email FROM customers_base LIMIT 1")[0]
    at = END + timedelta(hours=1)
    orders, items = _sim_batch("20261123-9000002", member, at)
    with pytest.raises(ValueError, match="lack columns"):
        write_sim_orders(store.shop_dir, "bad", orders.drop_columns(["order_date"]), items)
    orders = orders.append_column(
        "purchaseconfirmation_date", pa.array([None], pa.timestamp("s", tz="Asia/Seoul"))
    )
    o_path, i_path = write_sim_orders(store.shop_dir, "g2", orders, items)
    assert o_path.exists() and pq.read_table(i_path)["order_date"][0].as_py() == at
    con = store.connect()
    assert rows(con, "SELECT count(*) AS n FROM order_items_asof($ts) WHERE order_id = '20261123-9000002'",
                ts=at + timedelta(days=1)) == [{"n": 1}]  # fmt: skip


def test_connections_share_one_database_and_pages_are_fast(store: ShopStore) -> None:
    con = store.connect()
    started = time.perf_counter()
    page = con.sql("SELECT * FROM orders_asof($ts, since := $since) ORDER BY updated_date, order_id LIMIT 100 "
                   "OFFSET 100", params={"ts": END, "since": END - timedelta(days=10)}).fetchall()  # fmt: skip
    assert time.perf_counter() - started < 0.5 and len(page) == 100
    other = store.connect()
    assert (
        other.sql("SELECT count(*) FROM customers_base").fetchall()
        == con.sql("SELECT count(*) FROM customers_base").fetchall()
    )
    assert ShopStore(store.shop_dir).manifest["rows"]["customers"] == 2_000


def test_missing_shop_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no generated shop"):
        ShopStore(tmp_path)


# Columns that legitimately name a future instant at ts (a plan, not a fact).
PLANNED = {("subscriptions_asof", "end_date")}


@pytest.mark.parametrize("days_before_end", [0, 45])
def test_no_as_of_timestamp_lies_in_the_future(store: ShopStore, days_before_end: int) -> None:
    """Every fact a macro shows at ts happened by ts (regression: final-state consent dates leaked through)."""
    con = store.connect()
    ts = END - timedelta(days=days_before_end)
    for macro, contract in CONTRACTS.items():
        for col, dtype in contract.columns.items():
            if dtype != "timestamp" or (macro, col) in PLANNED:
                continue
            late = con.sql(
                f"SELECT count(*) FROM {macro}($ts) WHERE {col} > $ts", params={"ts": ts}
            ).fetchall()
            assert late[0][0] == 0, f"{macro}.{col}: {late[0][0]} values after {ts}"
