"""The raw-layer contract in code: every table extraction lands, its key, cursor and column types.

`docs/data_model.md` explains the columns; this module is what code uses. Extraction passes these as dlt column hints
(so a column exists even when every value in a load is null), the quality gates check required columns against it,
and tests build empty raw tables from it. Types are dlt data types (``text``, ``bigint``, ``double``, ``bool``,
``timestamp``, ``date``, ``json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawTable:
    """One raw table: where it lands, its primary key, its increment cursor and its typed columns."""

    schema: str
    name: str
    primary_key: tuple[str, ...]
    columns: dict[str, str]
    cursor: str | None = None
    required: tuple[str, ...] = field(default=())
    # Money columns (typed ``bigint``): stored exactly in the minor unit of the currency (include/core/currency.py);
    # ``currency_column`` names the row's currency when the table has one (else the shop's currency applies).
    money: tuple[str, ...] = field(default=())
    currency_column: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def dlt_columns(self) -> dict[str, dict]:
        """Column hints in dlt's format; key columns are marked not-null primary keys."""
        hints: dict[str, dict] = {}
        for col, dtype in self.columns.items():
            hint: dict = {"data_type": dtype, "nullable": col not in self.primary_key}
            if col in self.primary_key:
                hint["primary_key"] = True
            hints[col] = hint
        return hints


_KST_TS = "timestamp"

# Cafe24 amounts (``money=``) are integers in the minor unit of the shop's currency (dbt var ``shop_currency``):
# won as they are, cents for USD (``11.77`` → ``1177``); staging turns them back into major units.

CAFE24_CUSTOMERS = RawTable(
    "raw_cafe24",
    "customers",
    ("member_id",),
    {
        "member_id": "text",
        "name": "text",
        "cellphone": "text",
        "email": "text",
        "gender": "text",
        "birthday": "text",
        "address1": "text",
        "created_date": _KST_TS,
        "updated_date": _KST_TS,
        "last_login_date": _KST_TS,
        "sms": "text",
        "news_mail": "text",
        "sms_consent_date": _KST_TS,
        "news_mail_consent_date": _KST_TS,
        "kakao_consent": "text",
        "push_consent": "text",
        "night_consent": "text",
        "kakao_consent_date": _KST_TS,
        "push_consent_date": _KST_TS,
        "night_consent_date": _KST_TS,
    },
    cursor="updated_date",
    required=("member_id", "created_date", "updated_date", "sms", "news_mail"),
)

CAFE24_PRODUCTS = RawTable(
    "raw_cafe24",
    "products",
    ("product_no",),
    {
        "product_no": "bigint",
        "product_code": "text",
        "product_name": "text",
        "category_no": "bigint",
        "category_name": "text",
        "price": "bigint",
        "display": "text",
        "selling": "text",
        "created_date": _KST_TS,
        "updated_date": _KST_TS,
    },
    cursor="updated_date",
    required=("product_no", "product_name", "price"),
    money=("price",),
)

CAFE24_ORDERS = RawTable(
    "raw_cafe24",
    "orders",
    ("order_id",),
    {
        "order_id": "text",
        "member_id": "text",
        "member_authentication": "text",
        "buyer_name": "text",
        "buyer_cellphone": "text",
        "buyer_email": "text",
        "order_date": _KST_TS,
        "payment_date": _KST_TS,
        "currency": "text",
        "order_price_amount": "bigint",
        "shipping_fee": "bigint",
        "coupon_discount_price": "bigint",
        "payment_amount": "bigint",
        "order_status": "text",
        "canceled": "text",
        "cancel_date": _KST_TS,
        "refund_amount": "bigint",
        "refund_date": _KST_TS,
        "shipbegin_date": _KST_TS,
        "shipend_date": _KST_TS,
        "first_order": "text",
        "order_from_mobile": "text",
        "utm_campaign": "text",
        "updated_date": _KST_TS,
    },
    cursor="updated_date",
    required=("order_id", "order_date", "payment_amount", "order_status", "currency", "updated_date"),
    money=("order_price_amount", "shipping_fee", "coupon_discount_price", "payment_amount", "refund_amount"),
    currency_column="currency",
)

CAFE24_ORDER_ITEMS = RawTable(
    "raw_cafe24",
    "order_items",
    ("order_item_code",),
    {
        "order_item_code": "text",
        "order_id": "text",
        "product_no": "bigint",
        "product_name": "text",
        "quantity": "bigint",
        "product_price": "bigint",
        "order_status": "text",
    },
    required=("order_item_code", "order_id", "product_no", "quantity", "product_price"),
    money=("product_price",),
)

CAFE24_REVIEWS = RawTable(
    "raw_cafe24",
    "reviews",
    ("article_no",),
    {
        "article_no": "bigint",
        "board_no": "bigint",
        "product_no": "bigint",
        "member_id": "text",
        "order_id": "text",
        "rating": "bigint",
        "created_date": _KST_TS,
        "updated_date": _KST_TS,
    },
    cursor="updated_date",
    required=("article_no", "product_no", "created_date"),
)

CAFE24_SUBSCRIPTIONS = RawTable(
    "raw_cafe24",
    "subscriptions",
    ("subscription_id",),
    {
        "subscription_id": "text",
        "member_id": "text",
        "product_no": "bigint",
        "subscription_state": "text",
        "delivery_cycle": "text",
        "total_delivery_count": "bigint",
        "used_delivery_count": "bigint",
        "auto_renewal": "text",
        "start_date": _KST_TS,
        "end_date": _KST_TS,
        "created_date": _KST_TS,
        "updated_date": _KST_TS,
    },
    cursor="updated_date",
    required=(
        "subscription_id",
        "member_id",
        "subscription_state",
        "total_delivery_count",
        "used_delivery_count",
    ),
)

# --- raw_shopify: the same shop in Shopify Admin REST shape (second storefront mode, CRM_STOREFRONT=shopify).
# Nested objects are flattened the way dlt names them (``email_marketing_consent__state``); ``refunds`` stays JSON
# text; money is Shopify's decimal amounts (KRW). dbt maps them onto the same staging columns as Cafe24
# (``dbt_project/models/staging/shopify``, docs/dbt.md).
SHOPIFY_CUSTOMERS = RawTable(
    "raw_shopify", "customers", ("id",),
    {
        "id": "bigint", "email": "text", "phone": "text", "first_name": "text", "last_name": "text",
        "created_at": _KST_TS, "updated_at": _KST_TS, "state": "text", "verified_email": "bool",
        "tags": "text", "email_marketing_consent__state": "text",
        "email_marketing_consent__consent_updated_at": _KST_TS, "sms_marketing_consent__state": "text",
        "sms_marketing_consent__consent_updated_at": _KST_TS, "default_address__address1": "text",
        "default_address__province": "text", "default_address__country_code": "text",
    },
    cursor="updated_at", required=("id", "created_at", "updated_at"),
)  # fmt: skip

SHOPIFY_PRODUCTS = RawTable(
    "raw_shopify", "products", ("id",),
    {
        "id": "bigint", "title": "text", "product_type": "text", "vendor": "text", "handle": "text",
        "status": "text", "created_at": _KST_TS, "updated_at": _KST_TS, "published_at": _KST_TS,
        "tags": "text", "variants__price": "double", "variants__sku": "text",
    },
    cursor="updated_at", required=("id", "title", "updated_at"),
)  # fmt: skip

SHOPIFY_ORDERS = RawTable(
    "raw_shopify", "orders", ("id",),
    {
        "id": "bigint", "name": "text", "order_number": "bigint", "email": "text", "phone": "text",
        "customer__id": "bigint", "created_at": _KST_TS, "processed_at": _KST_TS, "updated_at": _KST_TS,
        "cancelled_at": _KST_TS, "cancel_reason": "text", "closed_at": _KST_TS, "financial_status": "text",
        "fulfillment_status": "text", "currency": "text", "total_line_items_price": "double",
        "total_discounts": "double", "subtotal_price": "double",
        "total_shipping_price_set__shop_money__amount": "double", "total_price": "double", "source_name": "text",
        "landing_site": "text", "tags": "text", "refunds": "text",
    },
    cursor="updated_at", required=("id", "created_at", "updated_at", "total_price", "currency"),
)  # fmt: skip

# The ``line_items`` of each order, split out by extraction; ``updated_at`` is the order's (the shared cursor).
SHOPIFY_ORDER_LINE_ITEMS = RawTable(
    "raw_shopify", "order_line_items", ("id",),
    {
        "id": "bigint", "order_id": "bigint", "product_id": "bigint", "variant_id": "bigint", "title": "text",
        "quantity": "bigint", "price": "double", "updated_at": _KST_TS,
    },
    cursor="updated_at", required=("id", "order_id", "quantity", "price"),
)  # fmt: skip

EVENTS = RawTable(
    "raw_events",
    "events",
    ("insert_id",),
    {
        "insert_id": "text",
        "event_type": "text",
        "event_time": "timestamp",
        "user_id": "text",
        "device_id": "text",
        "session_id": "text",
        "platform": "text",
        "city": "text",
        "event_properties": "text",
        "drop_date": "date",
        "drop_file": "text",
    },
    # session_id is any string (Amplitude's epoch-ms number arrives as its digits); without one, staging
    # sessionizes by inactivity. device_id (or an anonymous id) may be absent when user_id is present: the loaders
    # quarantine an event with neither (include/extract/events.py, ACTOR_COLUMNS).
    required=("insert_id", "event_type", "event_time"),
)

MESSAGE_REPORTS = RawTable(
    "raw_messaging",
    "message_reports",
    ("message_id",),
    {
        "message_id": "text",
        "group_id": "text",
        "type": "text",
        "to": "text",
        "from": "text",
        "status_code": "text",
        "status_message": "text",
        "date_created": "timestamp",
        "date_processed": "timestamp",
        "date_reported": "timestamp",
        "date_updated": "timestamp",
        "replacement": "bool",
        "custom_fields": "text",
    },
    cursor="date_updated",
    required=("message_id", "status_code", "date_created"),
)

# One row per intent of the activation ledger (sent, suppressed with reason, holdout, control); docs/campaigns.md.
SEND_LOG = RawTable(
    "raw_messaging",
    "send_log",
    ("intent_id",),
    {
        "intent_id": "text",
        "idempotency_key": "text",
        "run_id": "text",
        "run_date": "date",
        "campaign_id": "text",
        "step": "text",
        "customer_id": "text",
        "member_id": "text",
        "segment": "text",
        "tier": "text",
        "channel": "text",
        "destination": "text",
        "message_kind": "text",
        "message_type": "text",
        "fallback_type": "text",
        "variant": "text",
        "is_control": "bool",
        "is_holdout": "bool",
        "priority": "bigint",
        "status": "text",
        "reason": "text",
        "detail": "text",
        "held": "text",
        "recipient_masked": "text",
        "recipient_hash": "text",
        "planned_send_at": "timestamp",
        "send_at": "timestamp",
        "cost_krw": "double",
        "goal_event": "text",
        "attribution_days": "bigint",
        "batch_id": "text",
        "group_id": "text",
        "message_id": "text",
        "provider_status_code": "text",
        "provider_status_message": "text",
        "replacement": "bool",
        "attempts": "bigint",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "sent_at": "timestamp",
        "final_at": "timestamp",
    },
    cursor="updated_at",
    required=("intent_id", "run_date", "campaign_id", "customer_id", "channel", "status", "updated_at"),
)

QUARANTINE = RawTable(
    "raw_quarantine",
    "records",
    ("quarantine_id",),
    {
        "quarantine_id": "text",
        "source": "text",
        "table_name": "text",
        "record_key": "text",
        "reason": "text",
        "payload": "text",
        "load_id": "text",
        "quarantined_at": "timestamp",
    },
)

# The Cafe24 storefront tables (the default mode; the shop generator and the file import speak this shape).
STOREFRONT_TABLES: tuple[RawTable, ...] = (
    CAFE24_CUSTOMERS,
    CAFE24_PRODUCTS,
    CAFE24_ORDERS,
    CAFE24_ORDER_ITEMS,
    CAFE24_REVIEWS,
    CAFE24_SUBSCRIPTIONS,
)

SHOPIFY_TABLES: tuple[RawTable, ...] = (
    SHOPIFY_CUSTOMERS,
    SHOPIFY_PRODUCTS,
    SHOPIFY_ORDERS,
    SHOPIFY_ORDER_LINE_ITEMS,
)

# Storefront tables per mode (``CRM_STOREFRONT``); dbt reads both sets (the inactive one stays empty).
STOREFRONT_TABLES_BY_SOURCE: dict[str, tuple[RawTable, ...]] = {
    "cafe24": STOREFRONT_TABLES,
    "shopify": SHOPIFY_TABLES,
}

ALL_TABLES: tuple[RawTable, ...] = (
    *STOREFRONT_TABLES,
    *SHOPIFY_TABLES,
    EVENTS,
    MESSAGE_REPORTS,
    SEND_LOG,
    QUARANTINE,
)

BY_NAME: dict[str, RawTable] = {t.qualified: t for t in ALL_TABLES}

# The Korean mobile regex and the audience contract's columns are business rules SQL reads too: they live once, in
# the dbt project's vars (include/core/rules.py reads them).
AUDIENCE_SCHEMA = "audiences"

# The send list (activation -> the send-list gate, before anything is sent): the columns the gate requires, and the
# ones the adapter adds for reports. activation.send_list builds its frame from these; the gate checks them.
SEND_LIST_REQUIRED_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "customer_id",
    "channel",
    "message_kind",
    "recipient",
    "has_channel_consent",
    "consent_night",
    "planned_send_at",
    "is_opted_out",
    "is_holdout",
    "is_control",
    "text",
)
SEND_LIST_COLUMNS: tuple[str, ...] = ("intent_id", "message_type", "variant", *SEND_LIST_REQUIRED_COLUMNS)
