"""The same project on PostgreSQL gives the same answers as on DuckDB, row for row, from the same raw data.

Segments, tiers, transitions, funnels, campaign results, audiences and the big facts are compared on every column;
only floating-point statistics (sums of doubles in a different order) are compared within 1e-9.
"""

from __future__ import annotations

import duckdb
import psycopg
import pytest
from dbt_helpers import assert_same_rows, fetch, pg_url

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DIM_CUSTOMER_COLUMNS = (
    "customer_id, member_id, is_member, segment, tier, interest_score, conversion_score, interest_threshold, "
    "conversion_threshold, order_count, cancelled_order_count, net_revenue_krw, avg_order_value_krw, "
    "days_since_last_order, avg_days_between_orders, sessions_30d, sessions_90d, product_views_90d, cart_adds_90d, "
    "message_clicks_90d, acquisition_channel, preferred_product_no, preferred_category_no, review_count, "
    "subscription_state, subscription_remaining_deliveries, is_opted_out, has_valid_phone, phone, region, "
    "consent_reconfirmation_due_date, is_consent_reconfirmation_due, benefit_code"
)

# (relation, columns): every mart the activation, analysts and the quality gates read
COMPARED = [
    ("marts.dim_customers", DIM_CUSTOMER_COLUMNS),
    ("marts.dim_products", "*"),
    ("marts.fct_customer_segments_daily", "*"),
    ("marts.fct_customer_tiers_daily", "*"),
    ("marts.fct_segment_transitions", "*"),
    ("marts.fct_tier_transitions", "*"),
    ("marts.fct_inflow_funnel_daily", "*"),
    ("marts.fct_message_funnel", "*"),
    ("marts.fct_review_funnel", "*"),
    ("marts.fct_subscription_funnel", "*"),
    ("marts.fct_hero_product_coviews", "*"),
    ("marts.fct_campaign_results", "*"),
    # every column but load_id (each warehouse's own dlt load: a watermark, not data)
    (
        "marts.fct_orders",
        "order_id, customer_id, member_id, is_member_order, ordered_at, order_date, paid_at, "
        "order_status, order_status_group, items_amount_krw, shipping_fee_krw, discount_krw, payment_amount_krw, "
        "is_cancelled, refund_amount_krw, is_mobile_order, utm_campaign, updated_at, cancelled_at, refunded_at, "
        "net_revenue_krw, shipped_at, delivered_at, item_lines, item_units",
    ),
    ("marts.fct_order_items", "*"),
    ("marts.fct_events", "*"),
    ("audiences.audience_customers", "*"),
    ("audiences.audience_segment_transitions", "*"),
    ("audiences.audience_tier_changes", "*"),
    ("audiences.audience_review_requests", "*"),
    ("audiences.audience_subscription_renewals", "*"),
    ("audiences.audience_signup_no_purchase", "*"),
]


@pytest.mark.parametrize(("relation", "cols"), COMPARED, ids=[r for r, _ in COMPARED])
def test_postgres_equals_duckdb(duckdb_build, postgres_build, relation: str, cols: str) -> None:
    sql = f"select {cols} from {relation}"
    with duckdb.connect(str(duckdb_build.warehouse), read_only=True) as dcon:
        duck = fetch(dcon, sql)
    with psycopg.connect(pg_url(postgres_build.pg_db)) as pcon:
        pg = fetch(pcon, sql)
    assert duck, f"{relation} is empty: the comparison would prove nothing"
    assert_same_rows(pg, duck, relation)


def test_postgres_build_ran_every_test(postgres_build) -> None:
    assert "Done. PASS=" in postgres_build.stdout and "ERROR=0" in postgres_build.stdout
