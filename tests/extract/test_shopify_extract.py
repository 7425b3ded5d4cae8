"""Shopify mode: the same generated shop extracted through the Shopify emulator's Link-header pagination."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

os.environ.setdefault(
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false"
)  # dlt would import Airflow to look for secrets

from include.extract.storefront import extract_full_history, extract_storefront  # noqa: E402
from testbed.emulators.storefront_harness import StorefrontHarness, warehouse_snapshot  # noqa: E402
from testbed.shop import ShopStore, generate_shop  # noqa: E402

pytestmark = pytest.mark.integration

KST = ZoneInfo("Asia/Seoul")
D0 = datetime(2026, 11, 20, tzinfo=KST)
D1 = D0 + timedelta(days=1)
OPTIONS = {
    "shopify_bucket_capacity": 1000,
    "shopify_bucket_drain_per_s": 1000,
    "shopify_page_limits": {"orders": 100, "customers": 100, "products": 25},
}
CLIENT = {"retry_base_s": 0.05, "retry_max_s": 1.0}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shopify_shop")
    generate_shop(root / "shop", root / "drops", customers=600, days=30, end_date=D1.date(), seed=21)
    return root / "shop"


@contextmanager
def harness(shop: Path, work: Path, faults: str | None = None):
    with StorefrontHarness(
        shop, work, D0, apis=("shopify",), options=OPTIONS, faults=faults, client=CLIENT
    ) as h:
        saved = {k: os.environ.get(k) for k in h.env}
        os.environ.update(h.env)
        try:
            yield h
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run(h: StorefrontHarness) -> dict:
    out = {
        "full": extract_full_history(D0, source="shopify", destination=h.warehouse, pipelines_dir=h.dlt_dir)
    }
    out["full_stats"] = h.stats("shopify.")
    h.set_clock(D1)
    h.reset_stats()
    out["increment"] = extract_storefront(
        D0, D1, source="shopify", destination=h.warehouse, pipelines_dir=h.dlt_dir
    )
    out["stats"] = h.stats("shopify.")
    return out


@pytest.fixture(scope="module")
def clean(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    with harness(shop, tmp_path_factory.mktemp("shopify_clean")) as h:
        out = run(h)
        out["snapshot"] = warehouse_snapshot(h.warehouse, "raw_shopify")
        out["warehouse"] = h.warehouse
    return out


def test_shopify_mode_lands_the_same_shop(clean: dict, shop: Path) -> None:
    store = ShopStore(shop)
    orders = store.query_asof("orders", D1).to_pylist()
    items = store.query_asof("order_items", D1).num_rows
    customers = store.query_asof("customers", D1).to_pylist()
    with duckdb.connect(clean["warehouse"], read_only=True) as con:
        con.execute("SET TimeZone = 'Asia/Seoul'")
        got = {r[0]: r[1:] for r in con.execute(
            "select id, updated_at, total_price, cancelled_at is not null from raw_shopify.orders").fetchall()}  # fmt: skip
        n_items = con.execute(
            "select count(*), count(distinct id) from raw_shopify.order_line_items"
        ).fetchone()
        sms = dict(
            con.execute("select id, sms_marketing_consent__state from raw_shopify.customers").fetchall()
        )
    want = {int(o["order_id"].replace("-", "")): (o["updated_date"], float(o["payment_amount"]), o["cancel_date"]
            is not None) for o in orders}  # fmt: skip
    assert got == want
    assert n_items == (items, items)
    assert len(sms) == len(customers)
    for c in customers:
        state = sms[7_000_000_000 + int(c["member_id"][1:])]
        assert state == ("subscribed" if c["sms"] == "T" else "not_subscribed")


def test_link_header_pagination_and_updated_at_increments(clean: dict, shop: Path) -> None:
    full, inc = clean["full_stats"], clean["stats"]
    assert full["shopify.orders.200"] >= clean["full"]["rows"]["orders"] // 100  # one request per page of 100
    assert clean["full"]["http"]["pages"] == clean["full"]["http"]["requests"]
    store = ShopStore(shop).query_asof("orders", D1)
    changed = sum(1 for v in store.column("updated_date").to_pylist() if D0 <= v < D1)
    assert inc["shopify.records.orders"] == changed == clean["increment"]["rows"]["orders"] > 0
    assert clean["increment"]["windows"]["orders"] == [D0.isoformat(), D1.isoformat()]
    assert not [k for k in {**full, **inc} if k.endswith(".400")]  # never broke the page_info rule


def test_shopify_faults_give_the_same_warehouse(clean: dict, shop: Path, tmp_path: Path) -> None:
    spec = "rate=0.2;kinds=429,500,503,reset,timeout,duplicate_page,malformed_json;timeout_s=0.3;seed=5"
    with harness(shop, tmp_path, faults=spec) as h:
        out = run(h)
    faults = {k: v for k, v in out["full_stats"].items() if k.startswith("shopify.fault.")}
    assert sum(faults.values()) >= 5, faults
    assert out["full"]["http"]["retries"] > 0
    assert warehouse_snapshot(h.warehouse, "raw_shopify") == clean["snapshot"]
