"""Raw-gate suites: what extraction landed, checked per raw table of the contract.

Required columns and keys come from :mod:`include.core.contracts` (a new required column is checked without touching
this file); the per-table rules below add what the contract does not say: amounts, accepted values, timestamps
that must not lie in the future, phone columns and which sources must deliver every day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from expectations.config import RawGateConfig
from expectations.result import CRITICAL, WARNING
from expectations.suites import Suite
from include.core import contracts as c
from include.core.contracts import RawTable
from include.core.rules import korean_mobile_regex

SUITE_VERSION = "v2"  # v2: row rules are warnings (rows quarantined) + a critical share of quarantined rows
TF = ("T", "F")
ORDER_STATUS_REGEX = r"^[NCRE][0-9]{2}$"  # Cafe24: N00…N50 normal, C cancel, R refund/return, E exchange
QUARANTINE_FLAG = "__quarantined"  # derived column: 1 when the row breaks a row rule and is quarantined
PHONE_SUFFIX = "__digits"  # derived column: the phone with every non-digit removed
LATENESS_SUFFIX = "__hours_late"  # derived column: hours between the start of the row's day and the timestamp
# Shopify's documented enums (Admin REST 2025-10)
SHOPIFY_CONSENT_STATES = ("subscribed", "not_subscribed", "pending", "unsubscribed", "redacted", "invalid")
SHOPIFY_CUSTOMER_STATES = ("enabled", "disabled", "invited", "declined")
SHOPIFY_FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
)
# Storefront modes and the raw schema each lands in; a run checks only its own storefront's tables.
STOREFRONT_SCHEMAS = {"cafe24": "raw_cafe24", "shopify": "raw_shopify"}


@dataclass(frozen=True)
class TableRules:
    """What the raw gate checks on one table beyond its contract (keys, required columns).

    Attributes:
        table: the contract table.
        batch_column: business-date column selecting the batch when no load ids are given (rows of the interval).
        batch_is_date: ``batch_column`` is a DATE equal to the data date (event drops) instead of a timestamp.
        amounts: money/count columns that must be ≥ 0.
        ranges: other numeric bounds ``column → (min, max)``.
        accepted: columns with a closed set of values (severity critical unless listed in ``soft``).
        regex: ``column → (pattern, rule in words)``.
        not_future: timestamp columns that must not be later than the interval end; default every timestamp.
        not_future_exempt: timestamp columns that may lie in the future (a subscription's end date).
        window_column: timestamp that must be no older than the allowed lateness before the start of its day
            (event drops only: storefront loads may be full snapshots, where old rows are normal).
        window_anchor: DATE column naming that day (the drop's date); without it the data date.
        phones: phone columns validated as Korean mobiles (invalid rows are quarantined); an E.164 ``+82`` prefix
            is read as the national ``0``.
        daily_column: when set, the source must deliver rows every day; the day's volume counts rows whose
            ``daily_column`` falls on the data date and is compared with the trailing days in the warehouse.
        soft: columns whose accepted-set check is only a warning.
        pairs: ``(a, b)`` columns with ``a ≥ b`` in every row.
    """

    table: RawTable
    batch_column: str
    batch_is_date: bool = False
    amounts: tuple[str, ...] = ()
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    accepted: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    regex: dict[str, tuple[str, str]] = field(default_factory=dict)
    not_future_exempt: tuple[str, ...] = ()
    window_column: str | None = None
    window_anchor: str | None = None
    phones: tuple[str, ...] = ()
    daily_column: str | None = None
    soft: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def not_future(self) -> tuple[str, ...]:
        return tuple(
            col
            for col, t in self.table.columns.items()
            if t == "timestamp" and col not in self.not_future_exempt
        )


RULES: dict[str, TableRules] = {
    r.table.qualified: r
    for r in (
        TableRules(
            c.CAFE24_CUSTOMERS,
            batch_column="updated_date",
            accepted={
                "sms": TF,
                "news_mail": TF,
                "kakao_consent": TF,
                "push_consent": TF,
                "night_consent": TF,
                "gender": ("M", "F"),
            },
            soft=("gender",),
            phones=("cellphone",),
        ),
        TableRules(
            c.CAFE24_PRODUCTS,
            batch_column="updated_date",
            amounts=("price",),
            accepted={"display": TF, "selling": TF},
        ),
        TableRules(
            c.CAFE24_ORDERS,
            batch_column="updated_date",
            amounts=(
                "order_price_amount",
                "shipping_fee",
                "coupon_discount_price",
                "payment_amount",
                "refund_amount",
            ),
            accepted={
                "currency": ("KRW",),
                "canceled": TF,
                "first_order": TF,
                "order_from_mobile": TF,
                "member_authentication": TF,
            },
            regex={
                "order_status": (ORDER_STATUS_REGEX, "order status is a Cafe24 code N00…, C00…, R00… or E00…")
            },
            phones=("buyer_cellphone",),
            daily_column="order_date",
        ),
        TableRules(
            c.CAFE24_ORDER_ITEMS,
            batch_column="order_id",  # selected through the orders of the interval
            amounts=("product_price",),
            ranges={"quantity": (1, None)},
            regex={
                "order_status": (ORDER_STATUS_REGEX, "order status is a Cafe24 code N00…, C00…, R00… or E00…")
            },
        ),
        TableRules(
            c.CAFE24_REVIEWS,
            batch_column="updated_date",
            ranges={"rating": (1, 5)},
            accepted={"board_no": (4,)},
        ),
        TableRules(
            c.CAFE24_SUBSCRIPTIONS,
            batch_column="updated_date",
            amounts=("total_delivery_count", "used_delivery_count"),
            accepted={"subscription_state": ("active", "expired", "cancelled"), "auto_renewal": TF},
            not_future_exempt=("start_date", "end_date"),
            pairs=(("total_delivery_count", "used_delivery_count"),),
        ),
        # Shopify mode (CRM_STOREFRONT=shopify): the same checks in Shopify's names. Phones arrive in E.164
        # (+8210…), which the gate reads as national digits (+82 → 0) before the Korean-mobile check.
        TableRules(
            c.SHOPIFY_CUSTOMERS,
            batch_column="updated_at",
            accepted={
                "state": SHOPIFY_CUSTOMER_STATES,
                "email_marketing_consent__state": SHOPIFY_CONSENT_STATES,
                "sms_marketing_consent__state": SHOPIFY_CONSENT_STATES,
            },
            soft=("state", "email_marketing_consent__state", "sms_marketing_consent__state"),
            phones=("phone",),
        ),
        TableRules(
            c.SHOPIFY_PRODUCTS,
            batch_column="updated_at",
            amounts=("variants__price",),
            accepted={"status": ("active", "archived", "draft")},
            not_future_exempt=("published_at",),  # publication can be scheduled
        ),
        TableRules(
            c.SHOPIFY_ORDERS,
            batch_column="updated_at",
            amounts=(
                "total_line_items_price",
                "total_discounts",
                "subtotal_price",
                "total_shipping_price_set__shop_money__amount",
                "total_price",
            ),
            accepted={"currency": ("KRW",), "financial_status": SHOPIFY_FINANCIAL_STATUSES},
            phones=("phone",),
            daily_column="created_at",
        ),
        TableRules(
            c.SHOPIFY_ORDER_LINE_ITEMS,
            batch_column="updated_at",  # the order's updated_at
            amounts=("price",),
            ranges={"quantity": (1, None)},
        ),
        TableRules(
            c.EVENTS,
            batch_column="drop_date",
            batch_is_date=True,
            accepted={
                "event_type": (
                    "session_start",
                    "page_view",
                    "search",
                    "view_item",
                    "add_to_cart",
                    "begin_checkout",
                    "purchase",
                    "coupon_page_view",
                    "sign_up",
                    "message_click",
                ),
                "platform": ("Web", "iOS", "Android"),
            },
            window_column="event_time",
            window_anchor="drop_date",
            daily_column="drop_date",
        ),
        TableRules(
            c.MESSAGE_REPORTS,
            batch_column="date_updated",
            accepted={"type": ("ATA", "CTA", "SMS", "LMS")},
        ),
    )
}


QUARANTINED = "; breaking rows are quarantined"


def _rule(text: str) -> dict[str, str]:
    return {"rule": text}


def table_suite(rules: TableRules, cfg: RawGateConfig, *, empty: bool, n_rows: int | None = None) -> Any:
    """The suite of one raw table's batch.

    Runtime values are GX suite parameters: ``interval_end_max`` (interval end + clock tolerance).

    Args:
        rules: the table's rules.
        cfg: thresholds.
        empty: the batch has no rows (the "not all null" checks are skipped; volume checks catch a missing load).
        n_rows: rows in the batch; sets the share of invalid phones tolerated so that fewer than
            ``phone_invalid_min_count`` invalid phones never fail the batch.
    """
    import great_expectations as gx

    E = gx.expectations
    t = rules.table
    suite = Suite(name=f"raw.{SUITE_VERSION}.{t.qualified}")
    add = suite.add_expectation
    add(
        E.ExpectTableColumnsToMatchSet(
            column_set=list(t.columns), exact_match=False, meta=_rule("every column of the contract exists")
        )
    )
    for col in t.primary_key:
        add(
            E.ExpectColumnValuesToNotBeNull(
                column=col, severity=WARNING, meta=_rule("key is never null" + QUARANTINED)
            )
        )
        add(E.ExpectColumnValuesToBeUnique(column=col, meta=_rule("key is unique within the batch")))
    if not empty:
        for col in t.required:
            if col in t.primary_key:
                continue
            add(
                E.ExpectColumnProportionOfNonNullValuesToBeBetween(
                    column=col,
                    min_value=0.0,
                    strict_min=True,
                    meta=_rule(
                        "required column is not null in every row (a dropped field arrives as all-null)"
                    ),
                )
            )
    for col in rules.amounts:
        add(
            E.ExpectColumnValuesToBeBetween(
                column=col, min_value=0, severity=WARNING, meta=_rule("amount ≥ 0" + QUARANTINED)
            )
        )
    for col, (lo, hi) in rules.ranges.items():
        add(
            E.ExpectColumnValuesToBeBetween(
                column=col,
                min_value=lo,
                max_value=hi,
                severity=WARNING,
                meta=_rule(f"between {lo} and {hi}" + QUARANTINED),
            )
        )
    for a, b in rules.pairs:
        add(
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a,
                column_B=b,
                or_equal=True,
                severity=WARNING,
                meta=_rule(f"{a} ≥ {b}" + QUARANTINED),
            )
        )
    for col, values in rules.accepted.items():
        sev = WARNING if col in rules.soft else CRITICAL
        shown = "/".join(map(str, values)) if len(values) <= 4 else f"{len(values)} known values"
        add(
            E.ExpectColumnValuesToBeInSet(
                column=col, value_set=list(values), severity=sev, meta=_rule(f"one of {shown}")
            )
        )
    for col, (pattern, text) in rules.regex.items():
        add(E.ExpectColumnValuesToMatchRegex(column=col, regex=pattern, meta=_rule(text)))
    for col in rules.not_future:
        add(
            E.ExpectColumnValuesToBeBetween(
                column=col,
                max_value={"$PARAMETER": "interval_end_max"},
                severity=WARNING,
                meta=_rule(
                    "not later than the end of the data interval (no future timestamps)" + QUARANTINED
                ),
            )
        )
    if rules.window_column:
        add(
            E.ExpectColumnValuesToBeBetween(
                column=rules.window_column + LATENESS_SUFFIX,
                max_value=cfg.event_lateness_hours,
                severity=WARNING,
                meta={
                    "column": rules.window_column,
                    **_rule(
                        f"at most {cfg.event_lateness_hours:g} h before the day of its "
                        f"{rules.window_anchor or 'data interval'} (late events only)" + QUARANTINED
                    ),
                },
            )
        )
    if not empty:
        share = cfg.bad_row_share(t.qualified)
        allowed = max(share, (cfg.bad_row_min_count - 1) / max(1, n_rows or 1))
        add(
            E.ExpectColumnValuesToBeBetween(
                column=QUARANTINE_FLAG,
                max_value=0,
                mostly=max(0.0, round(1 - allowed, 6)),
                meta={
                    "column": "rows",
                    **_rule(
                        f"at most {share:.0%} of the batch breaks a row rule (fewer than "
                        f"{cfg.bad_row_min_count} rows never fail); above that the whole batch is untrustworthy"
                    ),
                },
            )
        )
        allowed = max(cfg.phone_invalid_max_share, (cfg.phone_invalid_min_count - 1) / max(1, n_rows or 1))
        share = cfg.phone_invalid_max_share
        for col in rules.phones:
            digits = col + PHONE_SUFFIX
            text = "a Korean mobile number (01X + 7–8 digits)"
            meta = {"column": col, "pii": "phone"}
            add(
                E.ExpectColumnValuesToMatchRegex(
                    column=digits,
                    regex=korean_mobile_regex(),
                    severity=WARNING,
                    meta={**meta, **_rule(f"{text}; invalid ones are quarantined")},
                )
            )
            add(
                E.ExpectColumnValuesToMatchRegex(
                    column=digits,
                    regex=korean_mobile_regex(),
                    mostly=max(0.0, round(1 - allowed, 6)),
                    meta={
                        **meta,
                        **_rule(
                            f"{text} for at least {1 - share:.0%} of rows "
                            f"(fewer than {cfg.phone_invalid_min_count} invalid never fail)"
                        ),
                    },
                )
            )
    return suite


def volume_suite(table: RawTable, cfg: RawGateConfig, *, history_ok: bool) -> Any:
    """Suite of the one-row volume frame of a daily source (``rows_today``, ``history_days``, ``trailing_mean``).

    Parameters ``volume_min``/``volume_max`` are the band computed from the trailing days in the warehouse.
    """
    import great_expectations as gx

    E = gx.expectations
    suite = Suite(name=f"raw.{SUITE_VERSION}.{table.qualified}.volume")
    suite.add_expectation(
        E.ExpectColumnMinToBeBetween(
            column="rows_today",
            min_value=1,
            meta=_rule("a daily source delivers rows every day (empty extract?)"),
        )
    )
    suite.add_expectation(
        E.ExpectColumnMinToBeBetween(
            column="history_days",
            min_value=cfg.volume_min_history_days,
            severity=WARNING,
            meta=_rule(
                f"at least {cfg.volume_min_history_days} of the previous {cfg.volume_history_days} days have data "
                "to compare the volume with (else the band is not checked)"
            ),
        )
    )
    if history_ok:
        suite.add_expectation(
            E.ExpectColumnMaxToBeBetween(
                column="rows_today",
                min_value={"$PARAMETER": "volume_min"},
                max_value={"$PARAMETER": "volume_max"},
                meta=_rule(
                    f"within {cfg.volume_low_factor:g}×–{cfg.volume_high_factor:g}× of the trailing "
                    f"{cfg.volume_history_days}-day mean"
                ),
            )
        )
    return suite
