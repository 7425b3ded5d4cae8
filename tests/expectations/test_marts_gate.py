"""Marts gate on dbt-shaped outputs in a real DuckDB file: clean marts pass, each broken invariant fails by name."""

from __future__ import annotations

import pytest
from gx_helpers import DATA_DATE, REFERENCE_TIME, RUN_ID, critical, day, sql

from expectations import GateFailedError, run_marts_gate
from testbed.synthetic import build_marts


@pytest.fixture
def marts(wh):
    build_marts(wh.path, DATA_DATE)
    return wh


def gate(wh, report_dir, **kw):
    return run_marts_gate(
        wh.path, DATA_DATE, RUN_ID, reference_time=REFERENCE_TIME, report_dir=report_dir, **kw
    )


def test_clean_marts_pass(marts, report_dir):
    result = gate(marts, report_dir)
    assert result.status == "PASS", result.summary()
    tables = {o.table_name for o in result.outcomes}
    assert {
        "marts.dim_customers",
        "marts.fct_customer_segments_daily",
        "marts.fct_inflow_funnel_daily",
    } <= tables
    assert {"marts.fct_message_funnel", "audiences.audience_customers"} <= tables
    assert result.counts["rows"]["marts.dim_customers"] == 3000


TODAY = f"segment_date = date '{DATA_DATE.isoformat()}'"
FAULTS = {
    "customer twice in dim_customers": (
        "insert into marts.dim_customers select * from marts.dim_customers order by customer_id limit 2",
        ("marts.dim_customers", "customer_id", "expect_column_values_to_be_unique"),
        "marts.dim_customers.customer_id has 4 duplicate values",
    ),
    "customer without a segment today": (
        f"delete from marts.fct_customer_segments_daily where {TODAY} and customer_id = 'm0000007'",
        ("marts.fct_customer_segments_daily", "segment_rows", "expect_column_values_to_not_be_null"),
        "(e.g. m0000007)",
    ),
    "customer in two segments today": (
        "insert into marts.fct_customer_segments_daily select * replace ('G4' as segment) "
        f"from marts.fct_customer_segments_daily where {TODAY} and customer_id = 'm0000009'",
        ("marts.fct_customer_segments_daily", "segment_rows", "expect_column_values_to_be_between"),
        "exactly one segment row per customer today",
    ),
    "unknown segment": (
        f"update marts.fct_customer_segments_daily set segment = 'G5' where {TODAY} and customer_id = 'm0000011'",
        ("marts.fct_customer_segments_daily", "segment", "expect_column_values_to_be_in_set"),
        "segment is one of G1/G2/G3/G4",
    ),
    "missing tier": (
        f"update marts.fct_customer_segments_daily set tier = null where {TODAY} and customer_id = 'm0000012'",
        ("marts.fct_customer_segments_daily", "tier", "expect_column_values_to_not_be_null"),
        "tier",
    ),
    "segmented customer unknown to dim_customers": (
        "delete from marts.dim_customers where customer_id = 'm0000013'",
        ("marts.fct_customer_segments_daily", "in_dim", "expect_column_values_to_be_in_set"),
        "every segmented customer is in dim_customers",
    ),
    "segment share jump": (
        f"update marts.fct_customer_segments_daily set segment = 'G4' where {TODAY} and segment = 'G1'",
        (
            "marts.fct_customer_segments_daily.segment_shares",
            "share_change",
            "expect_column_values_to_be_between",
        ),
        "segment shares jumped from the previous day: G1 ",
    ),
    "inflow funnel grows at cart step": (
        "update marts.fct_inflow_funnel_daily set cart_add_sessions = product_view_sessions + 5 "
        f"where funnel_date = date '{DATA_DATE.isoformat()}' and acquisition_channel = 'paid'",
        (
            "marts.fct_inflow_funnel_daily",
            "product_view_sessions,cart_add_sessions",
            "expect_column_pair_values_a_to_be_greater_than_b",
        ),
        "funnel step cart_add_sessions never exceeds product_view_sessions",
    ),
    "message funnel delivered more than sent": (
        "update marts.fct_message_funnel set delivered = sent + 10 where campaign_id = 'review_request_3d'",
        ("marts.fct_message_funnel", "sent,delivered", "expect_column_pair_values_a_to_be_greater_than_b"),
        "(e.g. review_request_3d)",
    ),
    "stale audience": (
        "update audiences.audience_customers set run_date = run_date - 1 where customer_id < 'm0000100'",
        ("audiences.audience_customers", "run_date_text", "expect_column_values_to_be_in_set"),
        "built for this run's date",
    ),
    "audience without a contract column": (
        "alter table audiences.audience_customers drop column consent_night",
        ("audiences.audience_customers", "consent_night", "expect_column_to_exist"),
        "consent_night must exist",
    ),
    "model missing (dbt failed)": (
        "drop table marts.fct_customer_segments_daily",
        ("fct_customer_segments_daily", None, "expect_table_to_exist"),
        "dbt model fct_customer_segments_daily is missing",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_the_marts_gate(marts, report_dir, fault):
    statement, expected, phrase = FAULTS[fault]
    sql(marts.path, statement)
    result = gate(marts, report_dir)
    assert not result.passed, f"{fault} slipped through: {result.summary()}"
    assert expected in critical(result), critical(result)
    assert any(phrase in o.reason for o in result.critical), [o.reason for o in result.critical]
    with pytest.raises(GateFailedError, match=r"^marts gate FAILED for 2026-11-22: "):
        result.raise_if_failed()


def test_holdout_clicks_without_sends_are_not_a_funnel_fault(marts, report_dir):
    # the clean fixture has a holdout arm with 0 sent and 4 clicks (the baseline): only treatment arms are checked
    assert (
        sql(marts.path, "select sum(clicked) from marts.fct_message_funnel where arm = 'holdout'")[0][0] > 0
    )
    assert gate(marts, report_dir).passed


def test_first_day_without_previous_shares_is_a_warning(marts, report_dir):
    sql(marts.path, "delete from marts.fct_customer_segments_daily where segment_date = ?", [day(-1)])
    result = gate(marts, report_dir)
    assert result.passed and result.status == "WARN", result.summary()
    assert {o.column_name for o in result.warnings} == {"has_previous"}
    assert any("no segment shares for 2026-11-21" in o.reason for o in result.warnings)
