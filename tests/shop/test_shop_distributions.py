"""What "realistic" means for the 10k shop: the statistical properties analysts and tests rely on."""

from __future__ import annotations

import duckdb
import pytest

from include.core.rules import korean_mobile_regex


@pytest.fixture(scope="module")
def con(shop_10k):
    shop, drops, _ = shop_10k
    c = duckdb.connect()
    c.execute("SET TimeZone = 'Asia/Seoul'")
    for name in ("customers", "products", "orders", "order_items", "reviews", "subscriptions"):
        c.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{shop / name}.parquet')")
    c.execute(
        f"CREATE TABLE events AS SELECT *, filename FROM read_json('{drops}/dt=*/*.jsonl.gz', filename = true, "
        "hive_partitioning = true, columns = {'$insert_id': 'VARCHAR', event_type: 'VARCHAR', event_time: 'VARCHAR', "
        "user_id: 'VARCHAR', device_id: 'VARCHAR', session_id: 'BIGINT', platform: 'VARCHAR', city: 'VARCHAR', "
        "event_properties: 'JSON'})"
    )
    yield c
    c.close()


def one(con, sql: str):
    return con.sql(sql).fetchall()[0]


def test_purchase_frequency_is_heavy_tailed(con) -> None:
    buyers, one_two, ten_plus, top = one(
        con,
        "SELECT count(*), count(*) FILTER (WHERE n <= 2), count(*) FILTER (WHERE n >= 10), max(n) FROM "
        "(SELECT member_id, count(*) n FROM orders WHERE member_id IS NOT NULL AND canceled = 'F' GROUP BY 1)",
    )
    assert one_two / buyers >= 0.35  # many one- and two-time buyers
    assert ten_plus >= 300 and ten_plus / buyers <= 0.35  # a real tail, not the majority
    assert top >= 40
    never = one(con, "SELECT count(*) FROM customers WHERE member_id NOT IN (SELECT member_id FROM orders "
                     "WHERE member_id IS NOT NULL)")[0]  # fmt: skip
    assert 0.1 <= never / 10_000 <= 0.5  # prospects exist


def test_all_four_interest_conversion_quadrants_are_populated(con) -> None:
    rows = con.sql(
        """
        WITH eng AS (SELECT user_id AS member_id, count(DISTINCT session_id) AS sessions
                     FROM events WHERE user_id IS NOT NULL GROUP BY 1),
             buy AS (SELECT member_id, count(*) AS n FROM orders
                     WHERE member_id IS NOT NULL AND order_date >= TIMESTAMPTZ '2026-08-25 00:00:00+09' GROUP BY 1),
             j AS (SELECT e.member_id, sessions, coalesce(n, 0) AS n FROM eng e LEFT JOIN buy USING (member_id))
        SELECT sessions >= (SELECT median(sessions) FROM j) AS high_interest, n > 0 AS converted, count(*)
        FROM j GROUP BY ALL
        """
    ).fetchall()
    quadrants = {(hi, conv): n for hi, conv, n in rows}
    total = sum(quadrants.values())
    assert len(quadrants) == 4
    assert all(n / total >= 0.03 for n in quadrants.values()), quadrants
    # correlated but not equal: converters are over-represented among the highly engaged
    hi_rate = quadrants[(True, True)] / (quadrants[(True, True)] + quadrants[(True, False)])
    lo_rate = quadrants[(False, True)] / (quadrants[(False, True)] + quadrants[(False, False)])
    assert hi_rate > lo_rate + 0.2


def test_hero_products_carry_a_large_share_and_are_co_viewed_with_companions(con) -> None:
    share, hero_min, other_max = one(
        con,
        "SELECT avg((product_no IN (11, 12))::INT), min(n) FILTER (WHERE product_no IN (11, 12)), "
        "max(n) FILTER (WHERE product_no NOT IN (11, 12)) FROM order_items "
        "JOIN (SELECT product_no, count(*) n FROM order_items GROUP BY 1) USING (product_no)",
    )
    assert 0.25 <= share <= 0.6
    assert hero_min > other_max
    # viewers of the pad hero (11) view its companions far more often than other viewers do
    with_hero, without = one(
        con,
        """
        WITH v AS (SELECT session_id, CAST(event_properties->>'$.product_no' AS INT) AS p
                   FROM events WHERE event_type = 'view_item'),
             s AS (SELECT session_id, bool_or(p = 11) AS hero, bool_or(p IN (30, 41, 40, 31)) AS comp
                   FROM v GROUP BY 1)
        SELECT avg(comp::INT) FILTER (WHERE hero), avg(comp::INT) FILTER (WHERE NOT hero) FROM s
        """,
    )
    assert with_hero > 2 * without


def test_reviews_follow_delivery_and_only_some_products_reach_ten(con) -> None:
    ge10, lt10, products = one(
        con,
        "SELECT count(*) FILTER (WHERE n >= 10), count(*) FILTER (WHERE n < 10), (SELECT count(*) FROM products) "
        "FROM (SELECT p.product_no, count(r.article_no) n FROM products p LEFT JOIN reviews r USING (product_no) "
        "GROUP BY 1)",
    )
    assert ge10 >= 10 and lt10 >= 5 and ge10 + lt10 == products
    lo, hi, bad = one(
        con,
        "SELECT min(date_diff('second', o.shipend_date, r.created_date)) / 86400, "
        "max(date_diff('second', o.shipend_date, r.created_date)) / 86400, count(*) FILTER (WHERE o.member_id "
        "<> r.member_id) FROM reviews r JOIN orders o USING (order_id)",
    )
    assert 1 <= lo and hi <= 14.01 and bad == 0


def test_guests_order_with_their_phone_and_some_come_back(con) -> None:
    guest_share, repeat_phones = one(
        con,
        "SELECT avg((member_id IS NULL)::INT), (SELECT count(*) FROM (SELECT buyer_cellphone FROM orders "
        "WHERE member_id IS NULL AND buyer_cellphone <> '' GROUP BY 1 HAVING count(*) > 1)) FROM orders",
    )
    assert 0.10 <= guest_share <= 0.20
    assert repeat_phones >= 100
    assert (
        one(con, "SELECT count(*) FROM orders WHERE member_id IS NULL AND member_authentication <> 'F'")[0]
        == 0
    )


def test_phones_are_mobile_numbers_with_about_one_percent_broken(con) -> None:
    broken, dup = one(
        con,
        f"SELECT avg((NOT regexp_matches(replace(cellphone, '-', ''), '{korean_mobile_regex()}'))::DOUBLE), "
        "count(*) - count(DISTINCT cellphone) FILTER (WHERE cellphone <> '') - count(*) FILTER (WHERE cellphone = '') "
        "FROM customers",
    )
    assert 0.004 <= broken <= 0.02
    assert dup == 0
    assert (
        one(con, "SELECT count(*) FROM customers WHERE regexp_matches(cellphone, '^010-[0-9]{4}-[0-9]{4}$')")[
            0
        ]
        > 9_800
    )


def test_order_lifecycle_rates(con) -> None:
    cancelled, refunded, partial, late_va, bad_ids, amount_ok = one(
        con,
        """
        SELECT avg((canceled = 'T')::INT), avg((refund_amount > 0)::INT),
               count(*) FILTER (WHERE refund_amount > 0 AND refund_amount < payment_amount),
               count(*) FILTER (WHERE payment_method = 'virtual_account' AND payment_date > order_date + INTERVAL 1 HOUR),
               count(*) FILTER (WHERE NOT regexp_matches(order_id, '^[0-9]{8}-[0-9]{7}$')),
               bool_and(payment_amount = order_price_amount + shipping_fee - coupon_discount_price)
        FROM orders
        """,
    )
    assert 0.03 <= cancelled <= 0.07
    assert 0.015 <= refunded <= 0.045
    assert partial > 50 and late_va > 500 and bad_ids == 0 and amount_ok
    mismatched = one(
        con,
        "SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(quantity * product_price) s FROM order_items "
        "GROUP BY 1) i USING (order_id) WHERE o.order_price_amount <> i.s",
    )[0]
    assert mismatched == 0


def test_subscriptions_renew_and_count_weekly_deliveries(con) -> None:
    members, plans, sizes, renewals, over = one(
        con,
        "SELECT count(DISTINCT member_id), count(*), list_sort(list(DISTINCT total_delivery_count)), "
        "count(previous_subscription_id), count(*) FILTER (WHERE used_delivery_count > total_delivery_count) "
        "FROM subscriptions",
    )
    assert 0.04 <= members / 10_000 <= 0.06
    assert sizes == [4, 8, 12] and renewals > 0.2 * plans and over == 0
    for (dates,) in con.sql(
        "SELECT delivery_dates FROM subscriptions WHERE len(delivery_dates) > 1 LIMIT 200"
    ).fetchall():
        assert {(b - a).days for a, b in zip(dates, dates[1:], strict=False)} == {7}


def test_events_funnel_channels_late_arrivals_and_missing_purchases(con) -> None:
    types = {t for (t,) in con.sql("SELECT DISTINCT event_type FROM events").fetchall()}
    assert types == {"session_start", "page_view", "search", "view_item", "add_to_cart", "begin_checkout",
                     "purchase", "coupon_page_view", "sign_up"}  # fmt: skip
    late = one(con, "SELECT avg((strftime(CAST(event_time AS TIMESTAMP) + INTERVAL 9 HOUR, '%Y-%m-%d') "
                    "<> CAST(dt AS VARCHAR))::DOUBLE) FROM events")[0]  # fmt: skip
    assert 0.005 <= late <= 0.02
    anonymous = one(con, "SELECT avg((user_id IS NULL)::DOUBLE) FROM events")[0]
    assert 0.05 <= anonymous <= 0.4
    covered = one(
        con,
        "SELECT avg((order_id IN (SELECT event_properties->>'$.order_id' FROM events WHERE event_type = 'purchase'))"
        "::DOUBLE) FROM orders WHERE member_id IS NOT NULL AND order_date >= TIMESTAMPTZ '2026-08-25 00:00:00+09'",
    )[0]
    assert 0.9 <= covered <= 0.99
    sources = {
        (s, m)
        for s, m in con.sql(
            "SELECT DISTINCT event_properties->>'$.utm_source', event_properties->>'$.utm_medium' FROM events "
            "WHERE event_type = 'session_start'"
        ).fetchall()
    }
    assert (None, None) in sources and ("crm", "kakao") in sources and ("naver", "cpc") in sources
    assert ("instagram", "social") in sources
    organic = one(con, "SELECT count(*) FROM events WHERE event_type = 'session_start' AND "
                       "event_properties->>'$.referrer' LIKE '%search.naver%' AND event_properties->>'$.utm_source' IS NULL")[0]  # fmt: skip
    assert organic > 0
    signup = one(con, "SELECT count(*), count(user_id) FROM events WHERE event_type = 'sign_up'")
    assert signup[0] > 0 and signup[0] == signup[1]


def test_consents_change_over_time_and_some_are_due_for_renewal(con) -> None:
    flips, due, updated_ok = one(
        con,
        """
        SELECT count(*) FILTER (WHERE sms_changed_at IS NOT NULL OR kakao_changed_at IS NOT NULL),
               count(*) FILTER (WHERE sms = 'T' AND sms_consent_date < TIMESTAMPTZ '2024-11-23 00:00:00+09'),
               bool_and(updated_date >= coalesce(greatest(sms_changed_at, news_mail_changed_at, kakao_changed_at,
                        push_changed_at, night_changed_at), created_date))
        FROM customers
        """,
    )
    assert flips > 500 and due > 50 and updated_ok
