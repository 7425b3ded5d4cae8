"""Shopify storefront mode end to end: the same shop through the Shopify API gives the same customers, orders and tiers.

One generated shop is served by the Cafe24 and Shopify emulators at the end of the data date and extracted twice —
through Cafe24 into one warehouse, through Shopify into another — with the same event drops; ``dbt build`` runs in
each mode (``storefront_source``). The Shopify build must pass every data and unit test, and its marts must equal the
Cafe24 build's for everything Shopify carries, keys mapped the way the emulator derives Shopify ids (member
``m0001234`` → customer ``7000001234``, product ``n`` → ``8000000000 + n``, order ``20261121-0000007`` →
``202611210000007``). Where Shopify legitimately has less (no KakaoTalk/push/night consent, reviews, subscriptions,
fulfilment dates, gender, birthday, last login, guest names) the documented difference is asserted instead.

The synthetic event drops identify members and products by their Cafe24 ids. A shop running on Shopify tracks its
Shopify ids (its storefront only knows those), so the Shopify warehouse's events are re-keyed to Shopify ids before
the build — the stream such a shop would send; without that, no event would join a Shopify customer.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from dbt_helpers import BUILD_MODELS, PG_ADMIN, assert_same_rows, fetch, pg_url, run_dbt

os.environ.setdefault(
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false"
)  # dlt would import Airflow to look for secrets

pytestmark = pytest.mark.integration

KST = ZoneInfo("Asia/Seoul")
D = date(2026, 11, 22)
START = datetime.combine(D, time(0), KST)
END = START + timedelta(days=1)
MEMBERS, EVENT_DAYS = 800, 40
FAST = {  # the emulators' call limits would only make the test wait
    "cafe24_bucket_capacity": 100_000,
    "cafe24_bucket_drain_per_s": 100_000,
    "shopify_bucket_capacity": 100_000,
    "shopify_bucket_drain_per_s": 100_000,
}
CUSTOMER_BASE, PRODUCT_BASE = 7_000_000_000, 8_000_000_000

# dim_customers columns equal in both modes (keys mapped)
SAME_IN_BOTH = (
    "is_member", "phone", "has_valid_phone", "email", "region", "acquisition_channel", "signed_up_at",
    "first_seen_date", "first_order_at", "last_order_at", "order_count", "cancelled_order_count",
    "gross_revenue_krw", "refunded_krw", "net_revenue_krw", "avg_order_value_krw", "days_since_last_order",
    "avg_days_between_orders", "sessions_30d", "sessions_90d", "product_views_30d", "product_views_90d",
    "cart_adds_30d", "cart_adds_90d", "message_clicks_30d", "message_clicks_90d", "consent_sms", "consent_email",
    "consent_sms_at", "consent_email_at", "is_opted_out", "tier", "tier_rank", "segment", "interest_score",
    "conversion_score", "threshold_mode", "interest_threshold", "conversion_threshold", "is_high_interest",
    "is_high_conversion", "benefit_code", "benefit_discount_pct", "benefit_scope", "run_date",
)  # fmt: skip
# what Shopify does not carry (docs/dbt.md): null / false in every Shopify-mode row
SHOPIFY_NULL = (
    "gender", "birth_date", "last_login_at", "consent_kakao_at", "consent_push_at", "consent_night_at",
    "current_subscription_id", "subscription_remaining_deliveries", "subscription_end_date",
)  # fmt: skip
SHOPIFY_FALSE = ("consent_kakao", "consent_push", "consent_night")


@dataclass(frozen=True)
class Build:
    """A warehouse extracted through one storefront API and built by dbt in that storefront's mode."""

    source: str
    warehouse: Path
    workdir: Path
    stdout: str
    load_ids: dict[str, list[str]]


def _track_with_shopify_ids(warehouse: Path) -> int:
    """Re-keys the loaded events to Shopify ids (user ``m0001234`` → ``7000001234``, ``product_no`` n →
    ``8000000000 + n``, ``order_id`` → its digits); returns how many events carry a Shopify id afterwards."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"""
            update raw_events.events set
              user_id = case when regexp_matches(user_id, '^m[0-9]+$')
                             then cast({CUSTOMER_BASE} + cast(substr(user_id, 2) as bigint) as varchar)
                             else user_id end,
              event_properties = cast(json_merge_patch(event_properties, json_object(
                  'product_no', {PRODUCT_BASE}
                                + try_cast(json_extract_string(event_properties, '$.product_no') as bigint),
                  'order_id', replace(json_extract_string(event_properties, '$.order_id'), '-', '')
              )) as varchar)
            where json_valid(event_properties)
        """)  # fmt: skip
        (n,) = con.execute(
            f"select count(*) from raw_events.events where user_id like '{CUSTOMER_BASE // 10**9}%' "
            f"or event_properties like '%\"product_no\":{PRODUCT_BASE // 10**9}%'"
        ).fetchone()
    return int(n)


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from testbed.shop import generate_shop

    root = tmp_path_factory.mktemp("shopify_mode")
    generate_shop(root / "shop", root / "drops", customers=MEMBERS, days=EVENT_DAYS, end_date=D, seed=5)
    return root


@pytest.fixture(scope="module")
def builds(shop_dir: Path) -> dict[str, Build]:
    """The shop extracted through each storefront API (emulators at the end of D) and built in each mode."""
    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from include.extract.events import load_event_drops
    from include.extract.storefront import extract_storefront
    from testbed.emulators.runner import run_emulators

    out: dict[str, Build] = {}
    loaded: dict[str, dict[str, list[str]]] = {}
    with run_emulators(
        shop_dir / "shop",
        shop_dir / "state",
        shop_dir / "drops",
        END,
        apis=("cafe24", "shopify"),
        options=FAST,
    ) as emulators:
        saved = {k: os.environ.get(k) for k in emulators.connection_env()}
        os.environ.update(emulators.connection_env())
        try:
            for source in ("cafe24", "shopify"):
                work = shop_dir / source
                warehouse, dlt_dir = work / "warehouse.duckdb", work / "dlt"
                ensure_raw_tables_duckdb(warehouse)
                summary = extract_storefront(
                    START, END, source=source, destination=str(warehouse), pipelines_dir=dlt_dir
                )
                assert summary["quarantined_total"] == 0, summary["quarantined"]
                events = load_event_drops(
                    str(shop_dir / "drops"), D, destination=str(warehouse), lookback_days=EVENT_DAYS + 1,
                    pipelines_dir=dlt_dir,
                )  # fmt: skip
                loaded[source] = {f"raw_{source}": summary["load_ids"], "raw_events": _load_ids(events)}
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    assert _track_with_shopify_ids(shop_dir / "shopify" / "warehouse.duckdb") > 1000
    for source in ("cafe24", "shopify"):
        work = shop_dir / source
        # the Shopify build runs every data and unit test; the Cafe24 reference only needs its tables
        args = ["build"] if source == "shopify" else BUILD_MODELS
        proc = run_dbt(
            args, run_date=D, workdir=work, warehouse=work / "warehouse.duckdb",
            extra_vars={"storefront_source": source},
        )  # fmt: skip
        out[source] = Build(source, work / "warehouse.duckdb", work, proc.stdout, loaded[source])
    return out


def _load_ids(result: Any) -> list[str]:
    """Every dlt load id in an extraction result (however it nests them)."""
    ids: list[str] = []
    if isinstance(result, dict):
        for key, value in result.items():
            if key in ("load_id", "load_ids"):
                ids += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
            else:
                ids += _load_ids(value)
    elif isinstance(result, list):
        for value in result:
            ids += _load_ids(value)
    return sorted(set(ids))


def _rows(build: Build, sql: str) -> list[dict]:
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _shopify_order_id(cafe24_order_id: str) -> str:
    return cafe24_order_id.replace("-", "")


@pytest.fixture(scope="module")
def customer_map(builds: dict[str, Build]) -> dict[str, str]:
    """Cafe24-mode customer key → Shopify-mode key: members by the emulator's id rule; guests through their orders
    (a guest keyed by phone has the same key in both modes, a phone-less guest is keyed by its order id)."""
    shopify_owner = {
        r["order_id"]: r["customer_id"] for r in _rows(builds["shopify"], "select * from marts.fct_orders")
    }
    mapping: dict[str, set[str]] = {}
    for r in _rows(builds["cafe24"], "select order_id, customer_id from marts.fct_orders"):
        mapping.setdefault(r["customer_id"], set()).add(shopify_owner[_shopify_order_id(r["order_id"])])
    for r in _rows(builds["cafe24"], "select member_id from staging.stg_cafe24__customers"):
        mapping.setdefault(r["member_id"], set()).add(str(CUSTOMER_BASE + int(r["member_id"][1:])))
    ambiguous = {k: v for k, v in mapping.items() if len(v) != 1}
    assert not ambiguous, f"customers split or merged between the modes: {list(ambiguous.items())[:5]}"
    out = {k: next(iter(v)) for k, v in mapping.items()}
    assert len(set(out.values())) == len(out), "two Cafe24 customers became one Shopify customer"
    for cafe24_key, shopify_key in out.items():
        if cafe24_key.startswith("m"):
            assert shopify_key == str(CUSTOMER_BASE + int(cafe24_key[1:]))
        elif cafe24_key.startswith("guest_"):
            assert shopify_key.startswith("guest_")
    return out


@pytest.fixture(scope="module")
def customers(builds: dict[str, Build], customer_map: dict[str, str]) -> list[tuple[dict, dict]]:
    """(Cafe24 row, Shopify row) of dim_customers for every customer."""
    cafe24 = {r["customer_id"]: r for r in _rows(builds["cafe24"], "select * from marts.dim_customers")}
    shopify = {r["customer_id"]: r for r in _rows(builds["shopify"], "select * from marts.dim_customers")}
    assert set(shopify) == {customer_map[k] for k in cafe24}, "the two modes know different customers"
    return [(row, shopify[customer_map[key]]) for key, row in sorted(cafe24.items())]


def test_shopify_build_passes_and_reads_only_shopify(builds: dict[str, Build]) -> None:
    build = builds["shopify"]
    assert "Completed successfully" in build.stdout
    for unit_test in (
        "stg_shopify__customers::shopify_phones_consents_and_latest_version",
        "stg_shopify__orders::shopify_customer_keys_status_and_refunds",
        "stg_shopify__products::shopify_categories_prices_and_flags",
    ):
        assert any("PASS" in line and unit_test in line for line in build.stdout.splitlines()), unit_test
    counts = _rows(build, """
        select (select count(*) from raw_shopify.customers) as raw_customers,
               (select count(*) from staging.stg_shopify__customers) as customers,
               (select count(*) from raw_shopify.orders) as raw_orders,
               (select count(*) from staging.stg_shopify__orders) as orders,
               (select count(*) from marts.fct_orders) as fct_orders,
               (select count(*) from staging.stg_shopify__order_items) as items,
               (select count(*) from marts.fct_order_items) as fct_items,
               (select count(*) from raw_cafe24.orders) as cafe24_orders
    """)[0]  # fmt: skip
    assert counts["raw_customers"] == counts["customers"] == MEMBERS
    assert counts["raw_orders"] == counts["orders"] == counts["fct_orders"] > 1000
    assert counts["items"] == counts["fct_items"] > counts["orders"]
    assert counts["cafe24_orders"] == 0  # the inactive storefront's raw tables exist, empty


def test_dim_customers_has_the_shops_customers(builds: dict[str, Build], shop_dir: Path, customers) -> None:
    from testbed.shop import ShopStore

    members = ShopStore(shop_dir / "shop").query_asof("customers", END).column("member_id").to_pylist()
    shopify_members = {s["customer_id"] for _, s in customers if s["is_member"]}
    assert shopify_members == {str(CUSTOMER_BASE + int(m[1:])) for m in members}
    assert len(members) == MEMBERS
    assert sum(1 for _, s in customers if not s["is_member"]) > 50  # guests keyed by phone hash, as in Cafe24


def test_orders_revenue_tiers_and_segments_equal_cafe24_mode(customers) -> None:
    mismatches: dict[str, list] = {}
    for cafe24, shopify in customers:
        for col in SAME_IN_BOTH:
            if cafe24[col] != shopify[col] and not (
                cafe24[col] != cafe24[col] and shopify[col] != shopify[col]
            ):
                mismatches.setdefault(col, []).append((cafe24["customer_id"], cafe24[col], shopify[col]))
    assert not mismatches, {c: (len(v), v[:3]) for c, v in mismatches.items()}
    # the comparison means something: orders, revenue, every tier and segment are present
    assert sum(c["order_count"] for c, _ in customers) > 1000
    assert sum(c["refunded_krw"] for c, _ in customers) > 0
    assert {c["tier"] for c, _ in customers} == {"prospect", "first", "second", "repeat", "loyal"}
    assert {c["segment"] for c, _ in customers} == {"G1", "G2", "G3", "G4"}


def _fetch(build: Build, sql: str) -> list[tuple]:
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        return fetch(con, sql)


def test_daily_tiers_segments_and_orders_equal_cafe24_mode(builds: dict[str, Build], customer_map) -> None:
    for table, day, cols in (
        ("fct_customer_tiers_daily", "tier_date", "tier, order_count"),
        ("fct_customer_segments_daily", "segment_date", "segment, tier, interest_score, conversion_score, "
         "net_revenue_krw, days_since_last_order"),
    ):  # fmt: skip
        sql = f"select customer_id, {day}, {cols} from marts.{table}"
        cafe24 = [(customer_map[r[0]], *r[1:]) for r in _fetch(builds["cafe24"], sql)]
        shopify = _fetch(builds["shopify"], sql)
        assert len(shopify) > 1000
        assert_same_rows(sorted(cafe24, key=str), sorted(shopify, key=str), table)
    cols = ("customer_id", "order_date", "payment_amount_krw", "refund_amount_krw", "net_revenue_krw",
            "is_cancelled", "order_status_group")  # fmt: skip
    cafe24 = {
        _shopify_order_id(r["order_id"]): r for r in _rows(builds["cafe24"], "select * from marts.fct_orders")
    }
    shopify = {r["order_id"]: r for r in _rows(builds["shopify"], "select * from marts.fct_orders")}
    assert set(cafe24) == set(shopify)
    for order_id, row in shopify.items():
        want = {
            **{c: cafe24[order_id][c] for c in cols},
            "customer_id": customer_map[cafe24[order_id]["customer_id"]],
        }
        assert {c: row[c] for c in cols} == want, order_id
        assert row["delivered_at"] is None and row["shipped_at"] is None  # no fulfilment dates in Shopify
    groups = {r["order_status_group"] for r in shopify.values()}
    assert {"normal", "cancel", "refund"} <= groups


def test_what_shopify_does_not_carry_is_null_not_invented(builds: dict[str, Build], customers) -> None:
    for cafe24, shopify in customers:
        assert all(shopify[c] is None for c in SHOPIFY_NULL), shopify["customer_id"]
        assert not any(shopify[c] for c in SHOPIFY_FALSE), shopify["customer_id"]
        assert shopify["review_count"] == 0 and shopify["subscription_state"] == "none"
        assert shopify["subscription_count"] == 0
        if shopify["is_member"]:
            assert shopify["customer_name"] == cafe24["customer_name"]
        else:
            assert shopify["customer_name"] is None  # the extracted order carries no billing name
    # ... while the same shop in Cafe24 mode has them, so the difference is Shopify's, not an empty shop's
    assert sum(bool(c["consent_kakao"]) for c, _ in customers) > 50
    assert sum(bool(c["consent_night"]) for c, _ in customers) > 50
    assert sum(c["review_count"] for c, _ in customers) > 20
    assert sum(c["subscription_count"] for c, _ in customers) > 10
    assert sum(c["gender"] is not None for c, _ in customers) > 100
    for relation in ("audiences.audience_review_requests", "audiences.audience_subscription_renewals",
                     "marts.fct_review_funnel", "staging.stg_shopify__reviews"):  # fmt: skip
        assert _rows(builds["shopify"], f"select count(*) as n from {relation}")[0]["n"] == 0, relation
    # the audiences still carry every contract column, Kakao/push/night consent false
    rows = _rows(builds["shopify"], "select * from audiences.audience_customers")
    assert len(rows) > MEMBERS // 2 and not any(r["consent_kakao"] or r["consent_night"] for r in rows)


def test_preferences_equal_up_to_category_ties(builds: dict[str, Build], customers, customer_map) -> None:
    """Preferred products are equal (Shopify ids keep Cafe24's order); a preferred category may differ only where
    two categories tie exactly (units bought, last purchase), broken by category_no, which is a surrogate in
    Shopify mode (smallest product id of the type) and Cafe24's own number otherwise."""
    bought: dict[tuple[str, str], tuple] = {}
    for r in _rows(builds["cafe24"], """
            select customer_id, category_name, sum(quantity) as units, max(ordered_at) as last_at
            from intermediate.int_order_items_joined where not is_cancelled group by all"""):  # fmt: skip
        bought[(r["customer_id"], r["category_name"])] = (r["units"], r["last_at"])
    ties = 0
    for cafe24, shopify in customers:
        product = cafe24["preferred_product_no"]
        assert shopify["preferred_product_no"] == (None if product is None else PRODUCT_BASE + product)
        assert shopify["preferred_product_name"] == cafe24["preferred_product_name"]
        if shopify["preferred_category_name"] != cafe24["preferred_category_name"]:
            key = cafe24["customer_id"]
            a = bought.get((key, cafe24["preferred_category_name"]))
            b = bought.get((key, shopify["preferred_category_name"]))
            assert a is not None and a == b, (key, cafe24["preferred_category_name"], a, b)
            ties += 1
    assert ties < len(customers) // 10


def test_raw_gate_checks_the_active_storefront_only(builds: dict[str, Build], tmp_path: Path) -> None:
    from expectations import run_raw_gate

    build = builds["shopify"]
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(build.warehouse, warehouse)
    result = run_raw_gate(
        warehouse, D, "test_shopify", build.load_ids, reference_time=END, report_dir=tmp_path / "q",
        storefront="shopify",
    )  # fmt: skip
    assert result.passed, result.summary()
    checked = {o.table_name for o in result.outcomes}
    assert {"raw_shopify.customers", "raw_shopify.orders", "raw_shopify.order_line_items"} <= checked
    assert not {t for t in checked if t.startswith("raw_cafe24.")}
    assert result.counts["rows"]["raw_shopify.orders"] > 1000
    # E.164 phones are read as national numbers: only the shop's deliberately malformed ~1 % are flagged
    flagged = {o.column_name for o in result.warnings}
    assert flagged <= {"phone", "cellphone", "buyer_cellphone"}
    # the same warehouse judged as a Cafe24 run fails: Cafe24's daily orders never arrived
    wrong = run_raw_gate(
        warehouse, D, "test_shopify_as_cafe24", build.load_ids, reference_time=END, report_dir=tmp_path / "q2",
        storefront="cafe24",
    )  # fmt: skip
    assert not wrong.passed
    assert any(o.table_name == "raw_cafe24.orders" for o in wrong.critical)


@pytest.fixture(scope="module")
def pg_shopify(builds: dict[str, Build]) -> Iterator[str]:
    """A fresh PostgreSQL database with the Shopify warehouse's raw tables, built in Shopify mode (models only)."""
    import psycopg

    from include.core.contracts import EVENTS, SHOPIFY_TABLES
    from include.extract.bootstrap import ensure_raw_tables_postgres

    name = f"crm_shopify_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required on {PG_ADMIN} for the portability test: {exc}")
    with admin:
        admin.execute(
            f"create database {name} template template0 encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        )
    try:
        ensure_raw_tables_postgres(pg_url(name))
        with duckdb.connect(str(builds["shopify"].warehouse), read_only=True) as src, psycopg.connect(
            pg_url(name)
        ) as dst:  # fmt: skip
            for table in (*SHOPIFY_TABLES, EVENTS):
                cols = ", ".join(f'"{c}"' for c in (*table.columns, "_dlt_load_id", "_dlt_id"))
                rows = src.execute(f"select {cols} from {table.qualified}").fetchall()
                with dst.cursor().copy(f"copy {table.qualified} ({cols}) from stdin") as copy:
                    for row in rows:
                        copy.write_row(row)
        work = builds["shopify"].workdir.parent / "postgres"
        work.mkdir(exist_ok=True)
        run_dbt(
            BUILD_MODELS, run_date=D, workdir=work, pg_db=name, extra_vars={"storefront_source": "shopify"}
        )
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


@pytest.mark.postgres
@pytest.mark.parametrize(
    "relation",
    ["marts.dim_customers", "marts.fct_orders", "marts.fct_order_items", "marts.fct_customer_segments_daily",
     "marts.dim_products", "audiences.audience_customers"],
)  # fmt: skip
def test_shopify_mode_on_postgres_equals_duckdb(
    builds: dict[str, Build], pg_shopify: str, relation: str
) -> None:
    import psycopg

    sql = f"select * from {relation}"
    with duckdb.connect(str(builds["shopify"].warehouse), read_only=True) as con:
        duck = fetch(con, sql)
    with psycopg.connect(pg_url(pg_shopify)) as con:
        pg = fetch(con, sql)
    assert duck, f"{relation} is empty: the comparison would prove nothing"
    assert_same_rows(pg, duck, relation)
