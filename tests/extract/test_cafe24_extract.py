"""Cafe24 extraction against the Cafe24 emulator over a small generated shop: history, increments, faults, limits."""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import requests

os.environ.setdefault(
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false"
)  # dlt would import Airflow to look for secrets

from include.core import connections  # noqa: E402
from include.extract import cafe24  # noqa: E402
from include.extract.rest import MalformedResponseError  # noqa: E402
from include.extract.storefront import (  # noqa: E402
    extract_full_history,
    extract_storefront,
    mark_history_loaded,
)
from testbed.emulators.storefront_harness import StorefrontHarness, table_diff, warehouse_snapshot  # noqa: E402
from testbed.shop import ShopStore, generate_shop  # noqa: E402
from testbed.shop.snapshot import load_snapshot  # noqa: E402

pytestmark = pytest.mark.integration

KST = ZoneInfo("Asia/Seoul")
D0 = datetime(2026, 11, 20, tzinfo=KST)
D1 = D0 + timedelta(days=1)
TABLES = ("customers", "products", "orders", "order_items", "reviews", "subscriptions")
FAST = {"cafe24_bucket_capacity": 1000, "cafe24_bucket_drain_per_s": 1000}
CLIENT = {"retry_base_s": 0.05, "retry_max_s": 1.0}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    generate_shop(root / "shop", root / "drops", customers=900, days=30, end_date=D1.date(), seed=7)
    return root / "shop"


@contextmanager
def harness(shop: Path, work: Path, *, options: dict | None = None, faults: str | None = None, client=None):
    with StorefrontHarness(shop, work, D0, options={**FAST, **(options or {})}, faults=faults,
                           client={**CLIENT, **(client or {})}) as h:  # fmt: skip
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


def changed(shop: Path, table: str, since: datetime, until: datetime) -> int:
    """Rows of ``table`` whose last change falls in ``[since, until)``, as of ``until``."""
    store = ShopStore(shop)
    rows = store.query_asof(table, until)
    return sum(1 for v in rows.column("updated_date").to_pylist() if since <= v < until)


def full_then_increment(h: StorefrontHarness) -> dict:
    out = {"full": extract_full_history(D0, destination=h.warehouse, pipelines_dir=h.dlt_dir)}
    out["stats_full"] = h.stats("cafe24.")
    h.set_clock(D1)
    h.reset_stats()
    out["increment"] = extract_storefront(D0, D1, destination=h.warehouse, pipelines_dir=h.dlt_dir)
    out["served"] = h.stats("cafe24.records.")
    return out


@pytest.fixture(scope="module")
def clean(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A clean full history at D0, then the increment of D0 run at D1 (shared by several tests)."""
    work = tmp_path_factory.mktemp("clean")
    with harness(shop, work) as h:
        runs = full_then_increment(h)
        after_increment = warehouse_snapshot(h.warehouse, "raw_cafe24")
        h.reset_stats()
        runs["rerun"] = extract_storefront(D0, D1, destination=h.warehouse, pipelines_dir=h.dlt_dir)
        runs["rerun_served"] = h.stats("cafe24.records.")
        runs.update(warehouse=h.warehouse, after_increment=after_increment, dlt_dir=h.dlt_dir)
    return runs


def test_full_history_matches_the_shop(clean: dict, shop: Path) -> None:
    full = clean["full"]
    assert full["full_history"] and full["mode"] == "extension"
    assert full["rows"]["orders"] > 1000 and full["rows"]["order_items"] > full["rows"]["orders"]
    assert full["quarantined_total"] == 0
    assert len(full["load_ids"]) == 1
    # where the time went: HTTP on one side, dlt's steps on the other
    timing, http = full["timing"], full["http"]
    assert http["http_s"] > 0 and timing["extract_s"] >= timing["waiting_for_pages_s"] > 0
    phases = ("setup_s", "extract_s", "normalize_s", "load_s", "finish_s")
    assert sum(timing[k] for k in phases) <= full["elapsed_s"] + 0.01
    # every request is answered before dlt normalises and loads, so both fall after the last answer
    assert timing["after_last_response_s"] >= timing["normalize_s"] + timing["load_s"] > 0
    assert 0 < timing["before_first_request_s"] < full["elapsed_s"] - timing["after_last_response_s"]
    # the warehouse after the increment equals the shop as of D1, column by column, both ways
    for table in TABLES:
        diff = table_diff(clean["warehouse"], shop, table, D1)
        assert diff["missing"] == 0 and diff["unexpected"] == 0, (table, diff)
        assert diff["loaded"] == diff["expected"] > 0, (table, diff)


def test_increment_fetches_only_changed_records(clean: dict, shop: Path) -> None:
    inc, served = clean["increment"], clean["served"]
    for table in ("customers", "orders", "reviews", "subscriptions", "products"):
        want = changed(shop, table, D0, D1)
        assert served.get(f"cafe24.records.{table}", 0) == want, table  # counted at the emulator
        assert inc["rows"][table] == want, table
    assert served["cafe24.records.orders"] > 0 and served["cafe24.records.customers"] > 0
    assert inc["windows"]["orders"] == [D0.isoformat(), D1.isoformat()]
    # orders changed in the interval include old orders (delivered, confirmed, refunded) merged in place
    with duckdb.connect(clean["warehouse"], read_only=True) as con:
        old_updated = con.execute(
            "select count(*) from raw_cafe24.orders where order_date < ? and updated_date >= ?", [D0, D0]
        ).fetchone()[0]
        dupes = con.execute("select count(*) - count(distinct order_id) from raw_cafe24.orders").fetchone()[0]
    assert old_updated > 0 and dupes == 0


def test_rerunning_the_same_interval_changes_nothing(clean: dict) -> None:
    assert clean["rerun"]["rows"] == clean["increment"]["rows"]
    assert clean["rerun_served"] == clean["served"]  # same window, same requests: deterministic
    assert warehouse_snapshot(clean["warehouse"], "raw_cafe24") == clean["after_increment"]
    assert clean["rerun"]["load_ids"] != clean["increment"]["load_ids"]


def test_after_a_file_import_the_first_increment_reads_only_its_interval(
    clean: dict, shop: Path, tmp_path: Path
) -> None:
    # the history comes from the shop's export files up to D0; marking it loaded lets the first API run read
    # only [D0, D1) instead of the whole history, and it lands the same warehouse as the all-API route
    with harness(shop, tmp_path) as h:
        store = ShopStore(shop)
        try:
            load_snapshot(store, D0, h.warehouse, pipelines_dir=h.dlt_dir)
        finally:
            store.close()
        assert sorted(mark_history_loaded(D0, destination=h.warehouse, pipelines_dir=h.dlt_dir)) == sorted(
            cafe24.SPECS
        )
        assert h.stats("cafe24.records.") == {}  # marking reads nothing from the API
        h.set_clock(D1)
        inc = extract_storefront(D0, D1, destination=h.warehouse, pipelines_dir=h.dlt_dir)
        served = h.stats("cafe24.records.")
    assert inc["full_history"] == [] and inc["windows"]["orders"] == [D0.isoformat(), D1.isoformat()]
    assert served == clean["served"] and inc["rows"] == clean["increment"]["rows"]
    for table in TABLES:
        diff = table_diff(h.warehouse, shop, table, D1)
        assert diff["missing"] == 0 and diff["unexpected"] == 0 and diff["loaded"] > 0, (table, diff)


def test_faults_give_the_same_warehouse_as_a_clean_run(clean: dict, shop: Path, tmp_path: Path) -> None:
    # every kind a read can meet; the token endpoint is left out: a refresh answer lost after the server rotated
    # the token cannot be recovered by any client (see docs/extraction.md), the token test faults it safely
    kinds = "429,500,502,503,reset,timeout,duplicate_page,malformed_json"
    spec = f"rate=0.2;kinds={kinds};timeout_s=0.3;seed=11;only_paths=/api/v2/admin"
    with harness(shop, tmp_path, faults=spec) as h:
        runs = full_then_increment(h)
    faults = {k: v for k, v in runs["stats_full"].items() if k.startswith("cafe24.fault.")}
    assert sum(faults.values()) >= 8 and len(faults) >= 5, faults
    http = runs["full"]["http"]
    assert http["retries"] > 0
    assert http["duplicate_pages"] == faults.get(
        "cafe24.fault.duplicate_page", 0
    )  # each replayed page was caught
    assert warehouse_snapshot(h.warehouse, "raw_cafe24") == clean["after_increment"]


def test_a_page_that_stays_malformed_fails_loudly_and_loads_nothing(shop: Path, tmp_path: Path) -> None:
    with harness(shop, tmp_path, faults="rate=1;kinds=malformed_json;only_paths=/api/v2/admin/order[s]",
                 client={"max_attempts": 3}) as h:  # fmt: skip
        with pytest.raises(Exception) as caught:
            extract_full_history(D0, destination=h.warehouse, pipelines_dir=h.dlt_dir)
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    malformed = [e for e in chain if isinstance(e, MalformedResponseError)]
    assert malformed, chain
    assert "GET orders page 1" in str(malformed[0]) and "not valid JSON" in str(malformed[0])
    with duckdb.connect(h.warehouse, read_only=True) as con:
        tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw_cafe24'").fetchall()}  # fmt: skip
    assert "orders" not in tables  # nothing half-loaded


def test_records_that_do_not_fit_the_contract_are_quarantined(shop: Path, tmp_path: Path) -> None:
    orders = ShopStore(shop).query_asof("orders", D0).column("order_id").to_pylist()
    bad_orders, bad_member = orders[100:102], "m0000005"
    options = {"cafe24_corrupt": {"orders": bad_orders, "customers": [bad_member]}}
    with harness(shop, tmp_path, options=options) as h:
        full = extract_full_history(D0, destination=h.warehouse, pipelines_dir=h.dlt_dir)
    assert full["quarantined"]["orders"] == 2 and full["quarantined"]["customers"] == 1
    assert full["quarantined"]["order_items"] >= 2
    with duckdb.connect(h.warehouse, read_only=True) as con:
        q = con.execute(
            "select table_name, record_key, reason, load_id from raw_quarantine.records"
        ).fetchall()
        loaded = con.execute(
            "select count(*) from raw_cafe24.orders where order_id in (?, ?)", bad_orders
        ).fetchone()
    keys = {(t, k) for t, k, _, _ in q}
    assert {("raw_cafe24.orders", bad_orders[0]), ("raw_cafe24.customers", bad_member)} <= keys
    reasons = " ".join(r for t, _, r, _ in q if t == "raw_cafe24.orders")
    assert "payment_amount: cannot convert" in reasons and "order_date" in reasons
    assert any(t == "raw_cafe24.order_items" and "was quarantined" in r for t, _, r, _ in q)
    assert all(lid == full["load_ids"][-1] for *_, lid in q)
    assert loaded[0] == 0


def test_token_refresh_mid_extraction_and_rotation_persisted(shop: Path, tmp_path: Path) -> None:
    faults = "rate=0.5;kinds=429,503,reset;only_paths=/api/v2/oauth;seed=16"  # fail before the server acts
    with harness(shop, tmp_path, options={"cafe24_token_max_calls": 3}, faults=faults) as h:
        first = cafe24.extract(D0, D0, full_from="discover", destination=h.warehouse, pipelines_dir=h.dlt_dir,
                               resources=("products", "reviews"))  # fmt: skip
        refreshed = h.stats("cafe24.oauth.")
        token_file = h.dlt_dir / "secrets" / "cafe24_crmdemo.json"
        initial = json.loads(h.env["AIRFLOW_CONN_CRM_CAFE24"])["extra"]["refresh_token"]
        # the connection's token was used up by the first refresh: the next run must use the persisted one
        basic = json.loads(h.env["AIRFLOW_CONN_CRM_CAFE24"])
        r = requests.post(f"{h.url('cafe24')}/api/v2/oauth/token", auth=(basic["login"], basic["password"]),
                          data={"grant_type": "refresh_token", "refresh_token": initial}, timeout=5)  # fmt: skip
        h.set_clock(D1)  # the cached access token expires on the simulated clock
        second = cafe24.extract(D0, D1, full_from=None, destination=h.warehouse, pipelines_dir=h.dlt_dir,
                                resources=("products", "reviews"))  # fmt: skip
    assert refreshed["cafe24.oauth.expired_rejections"] >= 2
    assert first["http"]["token_refreshes"] == refreshed["cafe24.oauth.refreshed"] >= 3
    assert first["http"]["retries"] > 0  # the token endpoint was faulted too
    assert first["rows"]["reviews"] == ShopStore(shop).query_asof("reviews", D0).num_rows
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert initial not in token_file.read_text()
    assert second["http"]["token_refreshes"] >= 1 and second["rows"]["reviews"] == changed(
        shop, "reviews", D0, D1
    )


def test_offset_caps_force_window_splitting(shop: Path, tmp_path: Path) -> None:
    options = {
        "cafe24_offset_caps": {"orders": 100, "customers": 200, "reviews": 40},
        "cafe24_page_limits": {"orders": 50, "customers": 100, "reviews": 20},
    }
    with harness(shop, tmp_path, options=options) as h:
        out = cafe24.extract(D0, D0, full_from="discover", destination=h.warehouse, pipelines_dir=h.dlt_dir,
                             resources=("customers", "orders", "reviews"))  # fmt: skip
        stats = h.stats("cafe24.")
    assert not [k for k in stats if k.endswith(".400")], stats  # never asked past a cap
    windows = len(cafe24.windows(datetime.fromisoformat(out["scan_from"]), D0, 3))
    assert stats["cafe24.orders_count.200"] > windows  # windows were halved
    for table in ("customers", "orders", "order_items", "reviews"):
        diff = table_diff(h.warehouse, shop, table, D0)
        assert diff["missing"] == diff["unexpected"] == 0 and diff["loaded"] > 0, (table, diff)


@pytest.mark.parametrize("pacing", [True, False])
def test_pacing_from_the_call_limit_header_avoids_429(shop: Path, tmp_path: Path, pacing: bool) -> None:
    options = {
        "cafe24_bucket_capacity": 8,
        "cafe24_bucket_drain_per_s": 25,
        "cafe24_page_limits": {"reviews": 5},
    }
    with harness(shop, tmp_path, options=options, client={"pacing": pacing}) as h:
        # a nightly run on a pipeline that never loaded reviews reads their whole history, not just the day
        out = cafe24.extract(D0 - timedelta(days=1), D0, full_from=None, destination=h.warehouse,
                             pipelines_dir=h.dlt_dir, resources=("reviews",))  # fmt: skip
        limited = h.stats("cafe24.rate_limited").get("cafe24.rate_limited", 0)
    assert out["full_history"] == ["reviews"]
    assert out["rows"]["reviews"] == ShopStore(shop).query_asof("reviews", D0).num_rows
    assert out["http"]["requests"] > 20
    if pacing:
        assert limited == 0 and out["http"]["http_429"] == 0 and out["http"]["pacing_wait_s"] > 0
    else:
        assert limited > 0 and out["http"]["http_429"] == limited  # every 429 was retried, nothing lost


@pytest.mark.parametrize(
    ("extra", "limit"),
    [({}, 9), ({"pacing_high_water": 0.5}, 4), ({"pacing_reserve_calls": 3}, 7)],
    ids=["default", "high_water_override", "reserve_override"],
)
def test_pacing_at_full_speed_fills_the_bucket_to_its_limit_without_429(
    shop: Path, tmp_path: Path, extra: dict, limit: int
) -> None:
    # a bucket of 10 draining 20/s, and a client that could ask far faster: only the pacing holds it back. The
    # server's own count (X-Api-Call-Limit) must reach the limit (10 less one call of reserve by default; the
    # connection's extra changes it) and never pass it.
    options = {"cafe24_bucket_capacity": 10, "cafe24_bucket_drain_per_s": 20}
    with harness(shop, tmp_path, options=options, client=extra) as h:
        api = cafe24.Cafe24Api(connections.get_connection(connections.CAFE24), tmp_path / "secrets")
        levels: list[str | None] = []
        api.client.session.hooks["response"].append(
            lambda r, *_, **__: levels.append(r.headers.get("X-Api-Call-Limit"))
        )
        for _ in range(60):
            api.count(api.specs["products"], {})
        limited = h.stats("cafe24.rate_limited").get("cafe24.rate_limited", 0)
    used = [int(v.split("/")[0]) for v in levels if v]
    assert len(used) == 60 and limited == 0 and api.stats.status.get(429, 0) == 0
    assert max(used) == limit
    assert api.stats.pacing_wait_s > 0


def test_standard_mode_reads_the_real_api_only_and_lands_the_same(
    clean: dict, shop: Path, tmp_path: Path
) -> None:
    with harness(shop, tmp_path, options={"cafe24_increments": "standard"}) as h:
        runs = full_then_increment(h)
    assert runs["increment"]["mode"] == "standard"
    assert warehouse_snapshot(h.warehouse, "raw_cafe24") == clean["after_increment"]
    # members have no "changed since" filter in the real API: the increment re-reads them all, loads the changed
    assert runs["served"]["cafe24.records.customers"] > runs["increment"]["rows"]["customers"]
    assert runs["increment"]["rows"]["customers"] == changed(shop, "customers", D0, D1)
    # orders come from the lifecycle date types (one query each), products from the real updated_* filter
    assert runs["served"]["cafe24.records.orders"] >= runs["increment"]["rows"]["orders"] > 0
    assert runs["served"].get("cafe24.records.products", 0) == changed(shop, "products", D0, D1)
