"""A clickstream without sessions or session_start, imported from a CSV, through dbt: sessions by inactivity,
channels from UTM/referrer, and distinct users per funnel step that roll up correctly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.dbt.dbt_helpers import run_dbt

RUN_DATE = date(2026, 11, 22)
HEADER = "anonymous_id,user_id,event,timestamp,session_id,page_url,referrer,utm_source,utm_medium,product_id,order_id"
ROWS = [
    # a1: organic search; +20 min; +30 min exactly (same session); 70 min later an e-mail visit (new session)
    "a1,,page_view,2026-11-20T01:00:00Z,,https://shop/,https://www.google.com/search?q=pads,,,,",
    "a1,,view_item,2026-11-20T01:20:00Z,,https://shop/p/11,,,,11,",
    "a1,,add_to_cart,2026-11-20T01:50:00Z,,https://shop/p/11,,,,11,",
    "a1,,page_view,2026-11-20T03:00:00Z,,https://shop/,,newsletter,email,,",
    # a2 logged in as m1: paid on the 20th, back directly on the 21st and buys
    "a2,m1,page_view,2026-11-20T02:00:00Z,,https://shop/,,naver,CPC,,",
    "a2,m1,page_view,2026-11-21T02:00:00Z,,https://shop/,,,,,",
    "a2,m1,purchase,2026-11-21T02:05:00Z,,https://shop/cart,,,,,o-1",
    # a3: 23:50 KST, then 00:10 KST the next day: one session across midnight
    "a3,,page_view,2026-11-20T14:50:00Z,,https://shop/,,,e-mail,,",
    "a3,,view_item,2026-11-20T15:10:00Z,,https://shop/p/12,,,,12,",
    # m2 with no device: a social referrer
    ",m2,page_view,2026-11-21T05:00:00Z,,https://shop/,https://l.instagram.com/?u=x,,,,",
    # a5: a source session id kept across a 3-hour gap; a referral
    "a5,,page_view,2026-11-21T06:00:00Z,abc-1,https://shop/,https://blog.example.com/post,,,,",
    "a5,,page_view,2026-11-21T09:00:00Z,abc-1,https://shop/x,,,,,",
    # no actor: quarantined; a repeated line: quarantined as a duplicate
    ",,page_view,2026-11-21T07:00:00Z,,https://shop/,,,,,",
    "a5,,page_view,2026-11-21T09:00:00Z,abc-1,https://shop/x,,,,,",
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from include.extract.event_files import import_event_files

    root = tmp_path_factory.mktemp("clickstream")
    wh = root / "w.duckdb"
    ensure_raw_tables_duckdb(wh)
    src = root / "clicks.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    out = import_event_files([src], destination=wh, pipelines_dir=root / "dlt")
    assert (out["loaded_total"], out["quarantined_total"]) == (12, 2), out
    assert out["reasons"]["events"] == {"duplicate_key": 1, "other": 1}
    run_dbt(["run", "--select", "+fct_inflow_funnel_periods", "+fct_inflow_funnel_daily"], run_date=RUN_DATE,
            workdir=root, warehouse=wh)  # fmt: skip
    return wh


def q(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_sessions_by_inactivity_across_midnight_and_source_ids(warehouse: Path) -> None:
    got = q(warehouse, "select actor_id, session_date, event_count, acquisition_channel, is_derived_session "
                       "from intermediate.int_sessions_aggregated order by actor_id, started_at")  # fmt: skip
    assert got == [
        ("a1", date(2026, 11, 20), 3, "organic_search", True),
        ("a1", date(2026, 11, 20), 1, "email", True),
        ("a2", date(2026, 11, 20), 1, "paid", True),
        ("a2", date(2026, 11, 21), 2, "direct", True),
        ("a3", date(2026, 11, 20), 2, "email", True),
        ("a5", date(2026, 11, 21), 2, "referral", False),
        ("member:m2", date(2026, 11, 21), 1, "social", True),
    ]


def test_channel_counts_without_session_start(warehouse: Path) -> None:
    got = dict(q(warehouse, "select acquisition_channel, count(*) from intermediate.int_sessions_aggregated "
                            "group by 1"))  # fmt: skip
    assert got == {"organic_search": 1, "email": 2, "paid": 1, "direct": 1, "social": 1, "referral": 1}


def test_unique_users_per_step_roll_up_by_period_not_by_sum(warehouse: Path) -> None:
    daily = q(warehouse, "select funnel_date, sum(sessions), sum(unique_users) from marts.fct_inflow_funnel_daily "
                         "group by 1 order by 1")  # fmt: skip
    # a1 came through two channels on the 20th: one user per channel row, so the rows' sum counts a1 twice
    assert daily == [(date(2026, 11, 20), 4, 4), (date(2026, 11, 21), 3, 3)]
    periods = {
        (g, str(s)): rest
        for g, s, *rest in q(
            warehouse,
            "select period_grain, period_start, sessions, unique_users, product_view_users, "
            "cart_add_users, purchase_users from marts.fct_inflow_funnel_periods "
            "where acquisition_channel = 'all'",
        )  # fmt: skip
    }
    assert periods[("day", "2026-11-20")] == [4, 3, 2, 1, 0]  # a1, m1, a3
    assert periods[("day", "2026-11-21")] == [3, 3, 0, 0, 1]  # m1, m2, a5
    # m1 came back on the 21st: 7 summed daily users, 6 summed daily distinct users, 5 users in the week
    assert periods[("week", "2026-11-16")] == [7, 5, 2, 1, 1]
    assert periods[("month", "2026-11-01")] == [7, 5, 2, 1, 1]
    email = q(warehouse, "select sessions, unique_users from marts.fct_inflow_funnel_periods "
                         "where period_grain = 'week' and acquisition_channel = 'email'")  # fmt: skip
    assert email == [(2, 2)]
