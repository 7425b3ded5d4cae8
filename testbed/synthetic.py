"""A synthetic raw warehouse for the gates' tests and cost benchmark (vectorised; 1M customers in well under a minute).

It mimics what extraction lands over ``days`` nightly loads ending on ``data_date``: one dlt-style load id per day
(the first load also carries the history), merged storefront tables (one row per key, stamped with the load that
last changed it), append-only event drops (one per day) and messaging reports, with the shop's realistic quirks
(about 1 % malformed phones, guest orders, weekend peaks, late events). It is *not* the shop generator
(:mod:`testbed.shop`), which models behaviour; this one only has to be the right shape, fast, at any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from include.core.timezone import KST

_DOMAINS = np.array(["naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net"])
_SURNAMES = np.array(list("김이박최정강조윤장임한오서신권황안송류홍"))
_GIVEN = np.array(
    ["민준", "서연", "지후", "하은", "도윤", "지민", "서준", "수아", "예준", "지우", "현우", "유나"]
)
_REGIONS = np.array(
    ["서울특별시", "경기도", "부산광역시", "인천광역시", "대구광역시", "경상남도", "충청남도", "대전광역시"]
)
_EVENT_TYPES = np.array(
    ["session_start", "page_view", "view_item", "search", "add_to_cart", "begin_checkout", "purchase",
     "coupon_page_view", "sign_up", "message_click"]
)  # fmt: skip
_EVENT_WEIGHTS = np.array([18, 35, 22, 8, 7, 3, 2, 2, 1, 2], dtype=float)
_PRICES = np.array([23900, 32000, 79000, 21000, 45000, 28000, 16500, 9900, 12900, 5900, 39000, 18900])


@dataclass(frozen=True)
class SyntheticWarehouse:
    """What :func:`build_raw_warehouse` made: the file, the run's date and one load id per day (oldest first)."""

    path: Path
    data_date: date
    load_ids: dict[date, str]

    def run_load_ids(self, day: date | None = None) -> dict[str, list[str]]:
        """``load_ids`` argument of the raw gate for the load of ``day`` (default: the data date)."""
        lid = self.load_ids[day or self.data_date]
        return {s: [lid] for s in ("raw_cafe24", "raw_events", "raw_messaging")}


def _load_id(day: date) -> str:
    return f"{datetime.combine(day, time(2, 0), tzinfo=KST).timestamp():.6f}"


def _ts(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).dt.tz_convert(KST)


def _phones(rng: np.random.Generator, ids: np.ndarray, malformed: float) -> np.ndarray:
    num = (ids.astype(np.int64) * 7_919 + 12_345_678) % 100_000_000
    mid = pd.Series(num // 10_000).astype(str).str.zfill(4)
    last = pd.Series(num % 10_000).astype(str).str.zfill(4)
    out = ("010-" + mid + "-" + last).to_numpy(dtype=object)
    bad = rng.random(len(ids)) < malformed
    kind = rng.integers(0, 3, len(ids))
    out[bad & (kind == 0)] = ("02-" + mid.str[1:] + "-" + last)[bad & (kind == 0)]
    out[bad & (kind == 1)] = ("010-" + mid.str[1:] + "-" + last.str[1:])[bad & (kind == 1)]
    out[bad & (kind == 2)] = ""
    return out


def _insert(con, table: str, df: pd.DataFrame) -> None:
    con.register("_syn", df)
    con.execute(f"insert into {table} by name select * from _syn")
    con.unregister("_syn")


def build_raw_warehouse(
    path: Path | str,
    data_date: date,
    n_customers: int = 10_000,
    *,
    days: int = 8,
    seed: int = 7,
    events_per_customer: float = 0.3,
    orders_per_customer: float = 0.008,
    malformed_phone_rate: float = 0.01,
) -> SyntheticWarehouse:
    """Creates the raw tables (via :mod:`include.extract.bootstrap`) and fills ``days`` nightly loads up to ``data_date``.

    Daily volumes: ``orders_per_customer`` × customers orders and ``events_per_customer`` × customers events per day
    (±10 % noise, weekends × 1.3).
    """
    import duckdb

    from include.extract.bootstrap import ensure_raw_tables_duckdb

    path = Path(path)
    ensure_raw_tables_duckdb(path)
    rng = np.random.default_rng(seed)
    first = data_date - timedelta(days=days - 1)
    load_days = [first + timedelta(days=i) for i in range(days)]
    load_ids = {d: _load_id(d) for d in load_days}
    day_start = {d: datetime.combine(d, time(0), tzinfo=KST).timestamp() for d in load_days}
    t_end = day_start[data_date] + 86_400

    def load_of(sec: np.ndarray) -> np.ndarray:
        """Load id of the nightly run that saw a change at ``sec`` (history goes with the first load)."""
        idx = np.clip(((sec - day_start[first]) // 86_400).astype(int), 0, days - 1)
        return np.array([load_ids[d] for d in load_days], dtype=object)[idx]

    def pick_ts(day_idx: np.ndarray) -> np.ndarray:
        # evening-heavy time of day
        hour = rng.choice(24, len(day_idx), p=_hourly())
        return day_start[first] + day_idx * 86_400 + hour * 3600 + rng.integers(0, 3600, len(day_idx))

    with duckdb.connect(str(path)) as con:
        # customers: signed up over two years; ~1 % change per day (consent, login) in the loaded days
        n = n_customers
        ids = np.arange(1, n + 1)
        created = t_end - 86_400 * 2 * 365 + rng.random(n) * (86_400 * 2 * 365 - 3600)
        changed = rng.random(n) < 0.01 * days
        updated = np.where(
            changed, day_start[first] + rng.random(n) * (t_end - day_start[first] - 60), created
        )
        updated = np.maximum(updated, created)
        consent = {f: np.where(rng.random(n) < p, "T", "F") for f, p in
                   (("sms", 0.55), ("news_mail", 0.45), ("kakao_consent", 0.6), ("push_consent", 0.5), ("night_consent", 0.2))}  # fmt: skip
        cust = pd.DataFrame(
            {
                "member_id": pd.Series(ids).map("m{:07d}".format),
                "name": _SURNAMES[rng.integers(0, len(_SURNAMES), n)]
                + _GIVEN[rng.integers(0, len(_GIVEN), n)],
                "cellphone": _phones(rng, ids, malformed_phone_rate),
                "email": "user"
                + pd.Series(ids).astype(str)
                + "@"
                + _DOMAINS[rng.integers(0, len(_DOMAINS), n)],
                "gender": np.where(rng.random(n) < 0.1, None, np.where(rng.random(n) < 0.6, "F", "M")),
                "birthday": None,
                "address1": _REGIONS[rng.integers(0, len(_REGIONS), n)]
                + " 중앙로 "
                + pd.Series(ids % 300).astype(str),
                "created_date": _ts(created),
                "updated_date": _ts(updated),
                "last_login_date": _ts(updated),
                **consent,
                "sms_consent_date": _ts(created),
                "news_mail_consent_date": _ts(created),
                "kakao_consent_date": _ts(created),
                "push_consent_date": _ts(created),
                "night_consent_date": _ts(created),
                "_dlt_load_id": load_of(updated),
                "_dlt_id": pd.Series(ids).map("c{:x}".format),
            }
        )
        _insert(con, "raw_cafe24.customers", cust)

        prods = pd.DataFrame(
            {
                "product_no": np.arange(11, 11 + len(_PRICES)),
                "product_code": [f"P{i:07X}" for i in range(11, 11 + len(_PRICES))],
                "product_name": [f"[멍냥] 상품 {i}" for i in range(len(_PRICES))],
                "category_no": 24,
                "category_name": "사료",
                "price": _PRICES,
                "display": "T",
                "selling": "T",
                "created_date": _ts(np.full(len(_PRICES), created.min())),
                "updated_date": _ts(np.full(len(_PRICES), created.min())),
                "_dlt_load_id": load_ids[first],
                "_dlt_id": [f"p{i}" for i in range(len(_PRICES))],
            }
        )
        _insert(con, "raw_cafe24.products", prods)

        # orders: 30 days of history + the loaded days; weekday rhythm; status changes move updated_date later
        hist_days = 30 + days
        per_day = _daily_counts(rng, max(5.0, n * orders_per_customer), data_date, hist_days)
        day_idx = np.repeat(np.arange(-(hist_days - days), days), per_day)
        m = len(day_idx)
        odate = pick_ts(day_idx)
        seq = np.arange(1, m + 1)
        ymd = _ts(odate).dt.strftime("%Y%m%d")
        member = rng.integers(1, n + 1, m)
        guest = rng.random(m) < 0.1
        n_items = rng.integers(1, 4, m)
        item_order = np.repeat(np.arange(m), n_items)
        item_price = _PRICES[rng.integers(0, len(_PRICES), len(item_order))]
        qty = rng.integers(1, 3, len(item_order))
        order_price = np.bincount(item_order, weights=item_price * qty, minlength=m).astype(np.int64)
        ship = np.where(order_price >= 30_000, 0, 3000)
        coupon = np.where(rng.random(m) < 0.2, (order_price * 0.1 // 100 * 100).astype(np.int64), 0)
        age = t_end - odate
        canceled = (rng.random(m) < 0.04) & (odate + 7200 < t_end)
        shipbegin = odate + 86_400
        shipend = odate + 3 * 86_400
        status = np.select(
            [canceled, shipend < t_end, shipbegin < t_end], ["C40", "N40", "N30"], default="N20"
        )
        upd = np.select(
            [canceled, shipend < t_end, shipbegin < t_end],
            [odate + 7200, shipend, shipbegin],
            default=odate + 600,
        )
        upd = np.minimum(upd, t_end - 1)
        cancel_ts = np.where(canceled, odate + 7200, np.nan)
        order_ids = pd.Series(ymd.to_numpy() + "-" + pd.Series(seq).astype(str).str.zfill(7).to_numpy())
        orders = pd.DataFrame(
            {
                "order_id": order_ids,
                "member_id": np.where(guest, None, pd.Series(member).map("m{:07d}".format).to_numpy()),
                "member_authentication": np.where(guest, "F", "T"),
                "buyer_name": "구매자",
                "buyer_cellphone": np.where(
                    guest, _phones(rng, member + 5_000_000, 0.0), cust["cellphone"].to_numpy()[member - 1]
                ),
                "buyer_email": None,
                "order_date": _ts(odate),
                "payment_date": _ts(odate + 120),
                "currency": "KRW",
                "order_price_amount": order_price,
                "shipping_fee": ship,
                "coupon_discount_price": coupon,
                "payment_amount": order_price + ship - coupon,
                "order_status": status,
                "canceled": np.where(canceled, "T", "F"),
                "cancel_date": _ts(cancel_ts),
                "refund_amount": 0,
                "refund_date": pd.NaT,
                "shipbegin_date": _ts(np.where(shipbegin < t_end, shipbegin, np.nan)),
                "shipend_date": _ts(np.where(shipend < t_end, shipend, np.nan)),
                "first_order": np.where(rng.random(m) < 0.2, "T", "F"),
                "order_from_mobile": np.where(rng.random(m) < 0.7, "T", "F"),
                "utm_campaign": None,
                "updated_date": _ts(upd),
                "_dlt_load_id": load_of(upd),
                "_dlt_id": pd.Series(seq).map("o{:x}".format),
            }
        )
        del age
        _insert(con, "raw_cafe24.orders", orders)
        line_no = np.arange(len(item_order)) - np.repeat(np.cumsum(n_items) - n_items, n_items) + 1
        items = pd.DataFrame(
            {
                "order_item_code": order_ids.to_numpy()[item_order]
                + "-"
                + pd.Series(line_no).astype(str).str.zfill(2).to_numpy(),
                "order_id": order_ids.to_numpy()[item_order],
                "product_no": 11 + rng.integers(0, len(_PRICES), len(item_order)),
                "product_name": "상품",
                "quantity": qty,
                "product_price": item_price,
                "order_status": status[item_order],
                "_dlt_load_id": orders["_dlt_load_id"].to_numpy()[item_order],
                "_dlt_id": pd.Series(np.arange(len(item_order))).map("i{:x}".format),
            }
        )
        _insert(con, "raw_cafe24.order_items", items)

        delivered = np.flatnonzero((status == "N40") & (rng.random(m) < 0.15))
        rv_t = np.minimum(shipend[delivered] + 2 * 86_400, t_end - 1)
        reviews = pd.DataFrame(
            {
                "article_no": np.arange(1, len(delivered) + 1),
                "board_no": 4,
                "product_no": 11 + rng.integers(0, len(_PRICES), len(delivered)),
                "member_id": orders["member_id"].to_numpy()[delivered],
                "order_id": order_ids.to_numpy()[delivered],
                "rating": rng.choice([3, 4, 5, 5, 5], len(delivered)),
                "created_date": _ts(rv_t),
                "updated_date": _ts(rv_t),
                "_dlt_load_id": load_of(rv_t),
                "_dlt_id": pd.Series(np.arange(len(delivered))).map("r{:x}".format),
            }
        )
        _insert(con, "raw_cafe24.reviews", reviews)

        k = max(3, n // 200)
        sub_start = t_end - rng.integers(1, 80, k) * 86_400.0
        total = rng.choice([4, 8, 12], k)
        used = np.minimum(total, ((t_end - sub_start) // (7 * 86_400)).astype(int))
        subs = pd.DataFrame(
            {
                "subscription_id": pd.Series(np.arange(1, k + 1)).map("S{:06d}".format),
                "member_id": pd.Series(rng.integers(1, n + 1, k)).map("m{:07d}".format),
                "product_no": 29,
                "subscription_state": np.where(used >= total, "expired", "active"),
                "delivery_cycle": "1W",
                "total_delivery_count": total,
                "used_delivery_count": used,
                "auto_renewal": np.where(rng.random(k) < 0.5, "T", "F"),
                "start_date": _ts(sub_start),
                "end_date": _ts(sub_start + total * 7 * 86_400),
                "created_date": _ts(sub_start),
                "updated_date": _ts(sub_start),
                "_dlt_load_id": load_of(sub_start),
                "_dlt_id": pd.Series(np.arange(k)).map("s{:x}".format),
            }
        )
        _insert(con, "raw_cafe24.subscriptions", subs)

        # events: one drop per loaded day; 2 % of a drop are late events from the previous day
        ev_counts = _daily_counts(rng, max(50.0, n * events_per_customer), data_date, days)
        for i, d in enumerate(load_days):
            e = int(ev_counts[i])
            t = pick_ts(np.full(e, i)) - np.where(rng.random(e) < 0.02, 86_400, 0)
            user = rng.integers(1, n + 1, e)
            logged = rng.random(e) < 0.6
            sess = (t - rng.integers(0, 1800, e)) * 1000
            ev = pd.DataFrame(
                {
                    "insert_id": d.strftime("%Y%m%d")
                    + "-"
                    + pd.Series(np.arange(e)).astype(str).str.zfill(9),
                    "event_type": _EVENT_TYPES[
                        rng.choice(len(_EVENT_TYPES), e, p=_EVENT_WEIGHTS / _EVENT_WEIGHTS.sum())
                    ],
                    "event_time": pd.to_datetime(t, unit="s", utc=True),
                    "user_id": np.where(logged, pd.Series(user).map("m{:07d}".format).to_numpy(), None),
                    "device_id": pd.Series(user).map("d{:08x}".format),
                    "session_id": sess.astype(np.int64),
                    "platform": np.array(["Web", "iOS", "Android"])[rng.integers(0, 3, e)],
                    "city": "Seoul",
                    "event_properties": "{}",
                    "drop_date": d,
                    "drop_file": f"events_{d.isoformat()}.jsonl.gz",
                    "_dlt_load_id": load_ids[d],
                    "_dlt_id": d.strftime("%Y%m%d") + pd.Series(np.arange(e)).map("e{:x}".format),
                }
            )
            _insert(con, "raw_events.events", ev)

        # messaging reports: a few per day
        r = max(5, n // 100)
        rt = pick_ts(rng.integers(0, days, r))
        reports = pd.DataFrame(
            {
                "message_id": pd.Series(np.arange(r)).map("M4V{:017d}".format),
                "group_id": "G4V1",
                "type": np.array(["ATA", "CTA", "SMS", "LMS"])[rng.integers(0, 4, r)],
                "to": pd.Series(_phones(rng, rng.integers(1, n + 1, r), 0.0)).str.replace("-", ""),
                "from": "0215880000",
                "status_code": "4000",
                "status_message": "수신완료",
                "date_created": _ts(rt),
                "date_processed": _ts(rt + 5),
                "date_reported": _ts(rt + 30),
                "date_updated": _ts(rt + 30),
                "replacement": False,
                "custom_fields": "{}",
                "_dlt_load_id": load_of(rt + 30),
                "_dlt_id": pd.Series(np.arange(r)).map("mr{:x}".format),
            }
        )
        _insert(con, "raw_messaging.message_reports", reports)
    return SyntheticWarehouse(path, data_date, load_ids)


def _hourly() -> np.ndarray:
    w = np.array(
        [
            2.5,
            1.5,
            0.8,
            0.5,
            0.4,
            0.5,
            1,
            2,
            3,
            4,
            4.5,
            5,
            5.5,
            5,
            4.5,
            4.5,
            4.5,
            4.8,
            5,
            5.8,
            6.8,
            7.5,
            7,
            4.9,
        ]
    )
    return w / w.sum()


def _daily_counts(rng: np.random.Generator, base: float, last_day: date, n_days: int) -> np.ndarray:
    days = [last_day - timedelta(days=n_days - 1 - i) for i in range(n_days)]
    weekend = np.array([1.3 if d.weekday() >= 5 else 1.0 for d in days])
    return np.maximum(1, np.round(base * weekend * rng.uniform(0.9, 1.1, n_days))).astype(int)


def build_marts(path: Path | str, data_date: date) -> None:
    """Stand-in dbt outputs over a synthetic raw warehouse, shaped like ``dbt_project`` (schemas marts/audiences).

    Lets the marts gate be tested and measured without running dbt: ``dim_customers`` (members), two days of
    ``fct_customer_segments_daily``, ``fct_inflow_funnel_daily`` from the events, ``fct_message_funnel`` and an
    ``audience_customers`` with the contract columns.
    """
    import duckdb

    prev = data_date - timedelta(days=1)
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists audiences")
        con.execute(
            """
            create or replace table marts.dim_customers as
            select member_id as customer_id, member_id, true as is_member, name as customer_name,
                   regexp_replace(cellphone, '[^0-9]', '', 'g') as phone, email, sms = 'T' as consent_sms,
                   kakao_consent = 'T' as consent_kakao, news_mail = 'T' as consent_email,
                   push_consent = 'T' as consent_push, night_consent = 'T' as consent_night,
                   sms_consent_date as consent_sms_at, kakao_consent_date as consent_kakao_at,
                   news_mail_consent_date as consent_email_at, push_consent_date as consent_push_at,
                   night_consent_date as consent_night_at, split_part(address1, ' ', 1) as region
            from raw_cafe24.customers
            """
        )
        # segment/tier by a stable hash; about 1 % of customers move segment from one day to the next
        con.execute(
            """
            create or replace table marts.fct_customer_segments_daily as
            with days as (select unnest([?::date, ?::date]) as segment_date)
            select segment_date, customer_id,
                   'G' || (1 + (hash(customer_id || case when hash(customer_id || segment_date) % 100 = 0
                                then 'moved' else '' end) % 4)) as segment,
                   ['prospect', 'first', 'second', 'repeat', 'loyal'][1 + (hash(customer_id) % 5)::bigint] as tier
            from marts.dim_customers, days
            """,
            [prev, data_date],
        )
        con.execute(
            """
            create or replace table marts.fct_inflow_funnel_daily as
            with s as (
                select cast(timezone('Asia/Seoul', event_time) as date) as funnel_date, session_id,
                       ['direct', 'organic_search', 'paid', 'social', 'messaging'][1 + (hash(session_id) % 5)::bigint]
                           as acquisition_channel,
                       bool_or(event_type = 'view_item') as has_product_view,
                       bool_or(event_type = 'add_to_cart') as has_cart_add,
                       bool_or(event_type = 'begin_checkout') as has_checkout,
                       bool_or(event_type = 'purchase') as has_purchase
                from raw_events.events group by all
            )
            select funnel_date, acquisition_channel, 'unknown' as segment, count(*) as sessions,
                   count(*) filter (where has_product_view) as product_view_sessions,
                   count(*) filter (where has_product_view and has_cart_add) as cart_add_sessions,
                   count(*) filter (where has_product_view and has_cart_add and has_checkout) as checkout_sessions,
                   count(*) filter (where has_product_view and has_cart_add and has_purchase) as purchase_sessions
            from s group by all
            """
        )
        con.execute(
            """
            create or replace table marts.fct_message_funnel as
            select * from (values
                ('g3_repurchase', 'A', 'treatment', 1000, 980, 950, 120),
                ('g3_repurchase', 'B', 'treatment', 1000, 985, 940, 135),
                ('g3_repurchase', null, 'holdout', 100, 0, 0, 4),
                ('review_request_3d', 'A', 'treatment', 300, 300, 296, 40)
            ) t(campaign_id, variant, arm, planned, sent, delivered, clicked)
            """
        )
        con.execute(
            """
            create or replace table audiences.audience_customers as
            select d.customer_id, d.member_id, d.is_member, d.customer_name, d.phone,
                   regexp_full_match(coalesce(d.phone, ''), '^01[016789][0-9]{7,8}$') as has_valid_phone, d.email,
                   d.consent_sms, d.consent_kakao, d.consent_email, d.consent_push, d.consent_night,
                   d.consent_sms_at, d.consent_kakao_at, d.consent_email_at, d.consent_push_at, d.consent_night_at,
                   false as is_opted_out, d.region, s.segment, s.tier,
                   '사료' as preferred_category_name, 12 as preferred_product_no,
                   '[멍냥] 그레인프리 연어 전연령 사료 2kg' as preferred_product_name,
                   'T_' || upper(s.tier) as benefit_code, 5 as benefit_discount_pct, 'all' as benefit_scope,
                   ?::date as run_date
            from marts.dim_customers d
            join marts.fct_customer_segments_daily s on s.customer_id = d.customer_id and s.segment_date = ?
            """,
            [data_date, data_date],
        )
