"""The Shopify emulator speaks Shopify's REST interface: token auth, cursor pages, the page_info rule, call limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from testbed.emulators.runner import EmulatorHandle, start_emulators
from testbed.shop import ShopStore, generate_shop

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=KST)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shopifyshop")
    generate_shop(root / "shop", root / "drops", customers=250, days=10, end_date=NOW.date(), seed=4)
    return root / "shop"


class Shopify:
    def __init__(self, handle: EmulatorHandle) -> None:
        self.handle = handle
        conn = json.loads(handle.connection_env()["AIRFLOW_CONN_CRM_SHOPIFY"])
        self.base = f"{handle.urls['shopify']}/admin/api/{conn['extra']['api_version']}"
        self.headers = {"X-Shopify-Access-Token": conn["password"]}

    def get(self, url: str, **params) -> requests.Response:
        url = url if url.startswith("http") else f"{self.base}/{url}"
        return requests.get(url, params=params, headers=self.headers, timeout=10)

    def walk(self, resource: str, **params) -> tuple[list[dict], int]:
        r = self.get(f"{resource}.json", **params)
        out, pages = r.json()[resource], 1
        while "next" in r.links:
            r = self.get(r.links["next"]["url"])
            assert r.status_code == 200, r.text
            out += r.json()[resource]
            pages += 1
        return out, pages


@pytest.fixture
def shopify(shop: Path, tmp_path: Path) -> Iterator:
    handles: list[EmulatorHandle] = []

    def _start(**options) -> Shopify:
        opts = {"shopify_bucket_capacity": 1000, "shopify_bucket_drain_per_s": 1000, **options}
        handle = start_emulators(
            shop, tmp_path / "state", tmp_path / "drops", NOW, apis=("shopify",), options=opts
        )
        handles.append(handle)
        return Shopify(handle)

    yield _start
    for handle in handles:
        handle.stop()


def test_cursor_pages_cover_every_order_once(shopify, shop: Path) -> None:
    api = shopify()
    orders, pages = api.walk("orders", status="any", limit=250)
    want = ShopStore(shop).query_asof("orders", NOW).num_rows
    assert (
        len(orders)
        == len({o["id"] for o in orders})
        == want
        == api.get("orders/count.json", status="any").json()["count"]
    )
    assert pages == -(-want // 250)
    last = api.get("orders.json", status="any", limit=250, since_id=orders[-2]["id"])
    assert "Link" not in last.headers and [o["id"] for o in last.json()["orders"]] == [orders[-1]["id"]]
    assert [o["id"] for o in orders] == sorted(o["id"] for o in orders)
    sample = next(o for o in orders if o["line_items"])
    assert sample["total_price"].endswith(".00") and sample["updated_at"].endswith("+09:00")


def test_page_info_may_carry_only_limit_and_fields(shopify) -> None:
    api = shopify()
    first = api.get("customers.json", limit=5, updated_at_min="2024-01-01T00:00:00+09:00")
    nxt = first.links["next"]["url"]
    assert api.get(nxt).status_code == 200
    bad = api.get(nxt, updated_at_min="2024-01-01")
    assert bad.status_code == 400 and "page_info" in bad.json()["errors"]
    trimmed = api.get(nxt, fields="id,updated_at")
    assert set(trimmed.json()["customers"][0]) == {"id", "updated_at"}
    assert api.get("customers.json", page_info="garbage").status_code == 400
    back = api.get(api.get(nxt).links["previous"]["url"])
    assert [c["id"] for c in back.json()["customers"]] == [c["id"] for c in first.json()["customers"]]


def test_updated_at_filters_and_open_orders_by_default(shopify, shop: Path) -> None:
    api = shopify()
    since = "2026-11-15T00:00:00+09:00"
    changed, _ = api.walk(
        "orders", status="any", updated_at_min=since, updated_at_max="2026-11-20T08:59:59+09:00"
    )
    store = ShopStore(shop).query_asof("orders", NOW).to_pylist()
    want = {
        int(o["order_id"].replace("-", ""))
        for o in store
        if o["updated_date"] >= datetime.fromisoformat(since)
    }
    assert {o["id"] for o in changed} == want
    default, _ = api.walk("orders", limit=250)
    assert all(o["cancelled_at"] is None and o["closed_at"] is None for o in default)
    assert len(default) < len(store)


def test_auth_version_and_call_limit(shopify) -> None:
    api = shopify(shopify_bucket_capacity=4, shopify_bucket_drain_per_s=0.5)
    assert requests.get(f"{api.base}/products.json", timeout=5).status_code == 401
    assert api.get(api.base.rsplit("/", 1)[0] + "/2025-13/products.json").status_code == 404
    answers = [api.get("products.json", limit=1) for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    assert [r.headers["X-Shopify-Shop-Api-Call-Limit"] for r in answers] == [
        "1/4",
        "2/4",
        "3/4",
        "4/4",
        "4/4",
    ]
    assert answers[-1].headers["Retry-After"] == "2.0" and "Exceeded" in answers[-1].json()["errors"]
