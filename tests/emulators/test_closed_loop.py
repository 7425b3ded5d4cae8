"""Closed loop: delivered campaign messages turn into click events in the drops and orders in the shop."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from emulators.helpers import NOW, Solapi, sms
from testbed.emulators.runner import start_emulators
from testbed.shop.store import SIM_ORDER_COLUMNS, SIM_ORDER_ITEM_COLUMNS

CAMPAIGN = "spring_g2_coupon"


def _campaign_sms(customer_id: str, to: str, variant: str = "A", **fields) -> dict:
    custom = {
        "customer_id": customer_id,
        "campaign_id": CAMPAIGN,
        "variant": variant,
        "run_date": "2025-03-03",
    }
    return sms(to=to, text="(광고) 봄맞이 쿠폰이 도착했어요", customFields={**custom, **fields})


def _instant(start, **options) -> Solapi:
    opts = {"solapi_processing_delay_s": 0, "solapi_report_delay_s": 0, "solapi_carrier_failure_rate": 0.0}
    return Solapi(start(apis=("solapi",), **{**opts, **options}))


def _events(drops: Path) -> list[dict]:
    out = []
    for path in sorted(drops.glob("dt=*/crm-clicks-*.jsonl.gz")):
        out += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return out


def _orders(shop: Path) -> tuple[list[dict], list[dict]]:
    orders = [
        r for p in sorted((shop / "sim").glob("orders-*.parquet")) for r in pq.read_table(p).to_pylist()
    ]
    items = [
        r for p in sorted((shop / "sim").glob("order_items-*.parquet")) for r in pq.read_table(p).to_pylist()
    ]
    return orders, items


def test_a_click_and_an_order_land_where_the_pipeline_reads_them(start, dirs):
    solapi = _instant(start, click_rate=1.0, conversion_rate=1.0)
    r = solapi.send_many(
        [_campaign_sms("m0000001", "01012340001"), _campaign_sms("guest_0a1b2c3d4e5f", "01012340002")]
    )
    group_id = r.json()["groupInfo"]["groupId"]
    drop = dirs["drops"] / f"dt={NOW.date().isoformat()}" / f"crm-clicks-{group_id}.jsonl.gz"
    assert drop.exists()
    events = _events(dirs["drops"])
    assert [e["event_type"] for e in events] == ["session_start", "message_click"] * 2
    start_event = events[0]
    assert start_event["event_properties"] == {
        "utm_source": "crm",
        "utm_medium": "sms",
        "utm_campaign": CAMPAIGN,
        "utm_content": "A",
        "referrer": None,
    }
    assert {e["user_id"] for e in events} == {"m0000001", None}  # guests click without a member id
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", e["event_time"]) for e in events)
    assert len({e["$insert_id"] for e in events}) == 4

    orders, items = _orders(dirs["shop"])
    assert [o["utm_campaign"] for o in orders] == [CAMPAIGN, CAMPAIGN]
    assert {o["member_id"] for o in orders} == {"m0000001", None}
    assert all(re.fullmatch(r"\d{8}-9\d{6}", o["order_id"]) for o in orders)
    sent = NOW
    for o in orders:
        assert sent <= o["order_date"] <= sent + timedelta(hours=48, minutes=5)
        assert o["order_date"] < o["payment_date"] < o["shipbegin_date"] < o["shipend_date"]
        assert o["payment_amount"] == o["order_price_amount"] + o["shipping_fee"] - o["coupon_discount_price"]
        own = [i for i in items if i["order_id"] == o["order_id"]]
        assert 1 <= len(own) <= 2
        assert sum(i["product_price"] * i["quantity"] for i in own) == o["order_price_amount"]
    schema = pq.read_schema(next((dirs["shop"] / "sim").glob("orders-*.parquet")))
    assert tuple(schema.names) == SIM_ORDER_COLUMNS
    assert tuple(pq.read_schema(next((dirs["shop"] / "sim").glob("order_items-*.parquet"))).names) == (
        SIM_ORDER_ITEM_COLUMNS
    )


def test_no_campaign_fields_or_no_delivery_means_no_response(start, dirs):
    solapi = _instant(start, click_rate=1.0, conversion_rate=1.0, solapi_non_kakao_rate=1.0)
    plain = sms(to="01012340001")
    failed = {  # AlimTalk to a non-KakaoTalk user without fallback: never delivered
        "to": "01012340002",
        "from": plain["from"],
        "type": "ATA",
        "kakaoOptions": {
            "pfId": "PF_SHOP",
            "templateId": "TPL_REVIEW_01",
            "disableSms": True,
            "variables": {"#{이름}": "김하나"},
        },
        "customFields": {"customer_id": "m0000009", "campaign_id": CAMPAIGN, "variant": "A"},
    }
    solapi.send_many([plain, failed])
    assert _events(dirs["drops"]) == []
    assert not (dirs["shop"] / "sim").exists()


def test_responses_are_written_once_per_customer_and_campaign(start, dirs):
    solapi = _instant(start, click_rate=1.0, conversion_rate=1.0)
    solapi.send_many([_campaign_sms("m0000001", "01012340001")])
    before = _orders(dirs["shop"])
    files = {p: p.read_bytes() for p in (dirs["shop"] / "sim").glob("*.parquet")}
    # the same customer messaged again for the same campaign and run date (a duplicate send) buys nothing more
    solapi.send_many([_campaign_sms("m0000001", "01012340001")], allowDuplicates=True)
    solapi.list()  # any later request re-checks due transitions
    assert _orders(dirs["shop"])[0] == before[0]
    assert {p: p.read_bytes() for p in files} == files
    assert len(_events(dirs["drops"])) == 2


def test_variant_multiplier_changes_the_click_rate(start, dirs):
    solapi = _instant(start, click_rate=1.0, conversion_rate=0.0, variant_click_multipliers={"B": 0.0})
    messages = [_campaign_sms(f"m{i:07d}", f"0105555{i:04d}", variant="AB"[i % 2]) for i in range(1, 11)]
    solapi.send_many(messages)
    clicks = [e for e in _events(dirs["drops"]) if e["event_type"] == "message_click"]
    assert {e["event_properties"]["variant"] for e in clicks} == {"A"} and len(clicks) == 5
    assert not (dirs["shop"] / "sim").exists()  # conversion rate 0


def _run_once(root: Path, seed: int) -> tuple[set, list[dict]]:
    for name in ("shop", "state", "drops"):
        (root / name).mkdir(parents=True)
    opts = {"solapi_processing_delay_s": 0, "solapi_report_delay_s": 0, "solapi_carrier_failure_rate": 0.0}
    handle = start_emulators(
        root / "shop",
        root / "state",
        root / "drops",
        NOW,
        apis=("solapi",),
        options={
            "solapi_senders": ["0212345678"],
            "click_rate": 0.5,
            "conversion_rate": 0.5,
            "seed": seed,
            **opts,
        },
    )
    try:
        Solapi(handle).send_many([_campaign_sms(f"m{i:07d}", f"0107777{i:04d}") for i in range(1, 41)])
    finally:
        handle.stop()
    clicked = {e["user_id"] for e in _events(root / "drops")}
    orders, _ = _orders(root / "shop")
    return clicked, sorted(orders, key=lambda o: o["order_id"])


def test_responses_are_deterministic_for_a_seed(tmp_path):
    clicked_a, orders_a = _run_once(tmp_path / "a", seed=7)
    clicked_b, orders_b = _run_once(tmp_path / "b", seed=7)
    clicked_c, _ = _run_once(tmp_path / "c", seed=8)
    assert 8 <= len(clicked_a) <= 32  # about half of 40
    assert clicked_a == clicked_b and orders_a == orders_b and orders_a
    assert clicked_c != clicked_a


@pytest.mark.integration
def test_simulated_orders_show_up_in_the_generated_shop(tmp_path):
    from testbed.shop.generator import generate_shop
    from testbed.shop.store import ShopStore

    shop, drops, state = tmp_path / "shop", tmp_path / "drops", tmp_path / "state"
    generate_shop(shop, drops, customers=200, days=7, end_date=date(2025, 3, 3), seed=1)
    customers = pq.read_table(shop / "customers.parquet", columns=["member_id", "cellphone"]).to_pylist()[:20]
    opts = {"solapi_processing_delay_s": 0, "solapi_report_delay_s": 0, "solapi_senders": ["0212345678"]}
    handle = start_emulators(
        shop,
        state,
        drops,
        NOW,
        apis=("solapi",),
        options={**opts, "click_rate": 1.0, "conversion_rate": 1.0, "solapi_carrier_failure_rate": 0.0},
    )
    try:
        Solapi(handle).send_many(
            [_campaign_sms(c["member_id"], f"0108888{i:04d}") for i, c in enumerate(customers)]
        )
    finally:
        handle.stop()
    product_nos = set(pq.read_table(shop / "products.parquet", columns=["product_no"]).column(0).to_pylist())
    store = ShopStore(shop)
    later = datetime(2025, 3, 20, tzinfo=NOW.tzinfo)
    orders = store.query_asof("orders", later).to_pylist()
    sim = [o for o in orders if o["utm_campaign"] == CAMPAIGN]
    assert len(sim) == 20 and {o["member_id"] for o in sim} == {c["member_id"] for c in customers}
    assert {o["order_status"] for o in sim} == {"N50"}
    assert all(o["buyer_name"] for o in sim)  # taken from the shop's customer table
    items = store.query_asof("order_items", later).to_pylist()
    assert {i["product_no"] for i in items if i["order_id"] in {o["order_id"] for o in sim}} <= product_nos
    assert len({o["order_id"] for o in orders}) == len(orders)  # no clash with the generator's order ids
    clicks = [e for e in _events(drops) if e["event_type"] == "session_start"]
    assert len(clicks) == 20 and all(e["city"] for e in clicks)
