"""The Cafe24 emulator speaks Cafe24's interface: OAuth rotation, limits, windows, keysets, errors, call limit."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from testbed.emulators.runner import EmulatorHandle, start_emulators
from testbed.shop import ShopStore, generate_shop

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=KST)
ADMIN = "/api/v2/admin"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cafe24shop")
    generate_shop(root / "shop", root / "drops", customers=300, days=10, end_date=NOW.date(), seed=3)
    return root / "shop"


class Cafe24:
    def __init__(self, handle: EmulatorHandle) -> None:
        self.handle = handle
        self.url = handle.urls["cafe24"]
        self.creds = handle.credentials["cafe24"]
        self.extra = handle._connections["cafe24"]["extra"]
        self.token: str | None = None

    def oauth(self, refresh_token: str, auth: tuple[str, str] | None = None) -> requests.Response:
        auth = auth or (self.creds["key"], self.creds["secret"])
        return requests.post(f"{self.url}/api/v2/oauth/token", auth=auth, timeout=5,
                             data={"grant_type": "refresh_token", "refresh_token": refresh_token})  # fmt: skip

    def login(self) -> dict:
        doc = self.oauth(self.extra["refresh_token"]).json()
        self.token = doc["access_token"]
        return doc

    def get(self, path: str, **params) -> requests.Response:
        if self.token is None:
            self.login()
        return requests.get(self.url + ADMIN + path, params=params, timeout=10,
                            headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip


@pytest.fixture
def cafe24(shop: Path, tmp_path: Path) -> Iterator:
    handles: list[EmulatorHandle] = []

    def _start(**options) -> Cafe24:
        opts = {"cafe24_bucket_capacity": 1000, "cafe24_bucket_drain_per_s": 1000, **options}
        handle = start_emulators(
            shop, tmp_path / "state", tmp_path / "drops", NOW, apis=("cafe24",), options=opts
        )
        handles.append(handle)
        return Cafe24(handle)

    yield _start
    for handle in handles:
        handle.stop()


def test_oauth_refresh_rotates_and_checks_the_client(cafe24) -> None:
    api = cafe24()
    doc = api.login()
    assert set(doc) >= {
        "access_token",
        "expires_at",
        "refresh_token",
        "refresh_token_expires_at",
        "scopes",
        "mall_id",
    }
    assert doc["mall_id"] == api.extra["mall_id"] and doc["refresh_token"] != api.extra["refresh_token"]
    issued = datetime.fromisoformat(doc["issued_at"])
    assert datetime.fromisoformat(doc["expires_at"]) - issued == timedelta(hours=2)
    again = api.oauth(api.extra["refresh_token"])  # single use
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert api.oauth(doc["refresh_token"]).status_code == 200
    wrong = api.oauth(doc["refresh_token"], auth=(api.creds["key"], "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    basic = base64.b64encode(f"{api.creds['key']}:{api.creds['secret']}".encode()).decode()
    form = requests.post(f"{api.url}/api/v2/oauth/token", headers={"Authorization": f"Basic {basic}"},
                         data={"grant_type": "password"}, timeout=5)  # fmt: skip
    assert form.status_code == 400 and form.json()["error"] == "unsupported_grant_type"


def test_access_token_expires_on_the_simulated_clock(cafe24) -> None:
    api = cafe24(cafe24_token_ttl_s=600)
    assert api.get("/products", limit=1).status_code == 200
    api.handle.ctx.clock.set(NOW + timedelta(minutes=11))
    r = api.get("/products", limit=1)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401 and "expired" in r.json()["error"]["message"]
    assert requests.get(api.url + ADMIN + "/products", timeout=5).status_code == 401  # no token at all


def test_orders_need_a_window_of_at_most_three_months(cafe24) -> None:
    api = cafe24()
    missing = api.get("/orders")
    assert missing.status_code == 400 and set(missing.json()["error"]) == {"code", "message", "more_info"}
    assert api.get("/orders", start_date="2026-01-01", end_date="2026-04-02").status_code == 400
    assert api.get("/orders", start_date="2026-08-21", end_date="2026-11-20").status_code == 200
    assert api.get("/orders", start_date="2026-08-01", end_date="2026-09-01", offset=15001).status_code == 400
    assert api.get("/orders", start_date="2026-08-01", end_date="2026-09-01", limit=1001).status_code == 400
    assert (
        api.get("/orders", start_date="2026-08-01", end_date="2026-09-01", date_type="nope").status_code
        == 400
    )
    assert api.get("/boards/99/articles").status_code == 404
    unparsable = api.get("/orders", start_date="yesterday", end_date="2026-09-01")
    assert unparsable.status_code == 422 and "start_date" in unparsable.json()["error"]["message"]
    assert api.get("/orders", start_date="2026-08-01", end_date="2026-09-01", limit="ten").status_code == 422


def test_endpoints_outside_the_token_scopes_answer_403(cafe24) -> None:
    api = cafe24(cafe24_scopes=["mall.read_product"])
    assert api.login()["scopes"] == ["mall.read_product"]
    assert api.get("/products", limit=1).status_code == 200
    denied = api.get("/customersprivacy", limit=1)
    assert denied.status_code == 403 and "mall.read_privacy" in denied.json()["error"]["message"]
    assert api.get("/orders/count", start_date="2026-08-01", end_date="2026-09-01").status_code == 403


def test_orders_embed_items_and_match_the_shop(cafe24, shop: Path) -> None:
    api = cafe24()
    params = {"start_date": "2026-10-01", "end_date": "2026-11-20T08:59:59+09:00"}
    total = api.get("/orders/count", **params).json()["count"]
    pages, offset = [], 0
    while True:
        page = api.get("/orders", **params, limit=100, offset=offset, embed="items").json()["orders"]
        pages += page
        if len(page) < 100:
            break
        offset += 100
    store = ShopStore(shop).query_asof("orders", NOW).to_pylist()
    want = {o["order_id"] for o in store if datetime(2026, 10, 1, tzinfo=KST) <= o["order_date"] < NOW}
    assert total == len(pages) == len(want) and {o["order_id"] for o in pages} == want
    sample = pages[0]
    assert sample["order_date"].endswith("+09:00") and len(sample["order_date"]) == 25
    assert sample["items"] and all(i["order_id"] == sample["order_id"] for i in sample["items"])
    assert sample["actual_order_amount"]["payment_amount"] == sample["payment_amount"]
    assert api.handle.ctx.stats.snapshot("cafe24.records.orders")["cafe24.records.orders"] == len(pages)


def test_updated_date_extension_and_lifecycle_date_types(cafe24, shop: Path) -> None:
    api = cafe24()
    since, until = NOW - timedelta(days=2), NOW - timedelta(seconds=1)
    window = {"start_date": since.isoformat(), "end_date": until.isoformat()}
    changed = {
        o["order_id"]
        for o in api.get("/orders", **window, date_type="updated_date", limit=1000).json()["orders"]
    }
    union: set[str] = set()
    for date_type in ("order_date", "pay_date", "shipbegin_date", "shipend_date", "cancel_date",
                      "return_complete_date", "purchaseconfirmation_date"):  # fmt: skip
        union |= {
            o["order_id"]
            for o in api.get("/orders", **window, date_type=date_type, limit=1000).json()["orders"]
        }
    store = ShopStore(shop).query_asof("orders", NOW).to_pylist()
    assert changed == {o["order_id"] for o in store if since <= o["updated_date"] <= until}
    assert changed == union and changed  # every change of an order is a lifecycle event


def test_keysets_for_members_and_products(cafe24) -> None:
    api = cafe24()
    seen, start = [], "2000-01-01"
    while True:
        page = api.get(
            "/customersprivacy", search_type="created_date", created_start_date=start, limit=50
        ).json()
        rows = page["customersprivacy"]
        seen += [r["member_id"] for r in rows if r["member_id"] not in seen]
        if len(rows) < 50:
            break
        start = rows[-1]["created_date"]
    assert len(seen) == api.get("/customersprivacy/count").json()["count"] > 200
    assert api.get("/customersprivacy", search_type="created_date", offset=50).status_code == 400
    first = api.get("/products", limit=5).json()["products"]
    nxt = api.get("/products", limit=5, since_product_no=first[-1]["product_no"]).json()["products"]
    assert nxt[0]["product_no"] > first[-1]["product_no"]


def test_call_limit_bucket_answers_429_with_headers(cafe24) -> None:
    api = cafe24(cafe24_bucket_capacity=5, cafe24_bucket_drain_per_s=0.5)
    statuses = [api.get("/products", limit=1) for _ in range(7)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
    assert [r.headers["X-Api-Call-Limit"] for r in statuses[:5]] == [f"{n}/5" for n in range(1, 6)]
    assert statuses[0].headers["X-Cafe24-Call-Remain"] == "4"
    assert int(statuses[-1].headers["Retry-After"]) >= 1 and statuses[-1].json()["error"]["code"] == 429


def test_corrupt_option_and_missing_shop(cafe24, tmp_path: Path) -> None:
    api = cafe24(cafe24_corrupt={"products": [11]})
    products = api.get("/products", limit=100).json()["products"]
    assert next(p for p in products if p["product_no"] == 11)["price"] == "가격문의"
    empty = tmp_path / "noshop"
    empty.mkdir()
    handle = start_emulators(empty, tmp_path / "s2", tmp_path / "d2", NOW, apis=("cafe24",))
    try:
        r = Cafe24(handle).get("/products")
        assert r.status_code == 503 and "no generated shop" in r.json()["error"]["message"]
    finally:
        handle.stop()
