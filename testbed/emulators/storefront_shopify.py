"""The generated shop's records in Shopify Admin REST shapes (customers, products, orders with line items).

Ids are derived, stable numbers (member ``m0001234`` → customer ``7000001234``, product ``n`` → ``8000000000 + n``,
order ``20261121-0000007`` → ``202611210000007``) so a cursor on ``id`` pages in a stable order. Money is KRW
written the way Shopify writes amounts (``"32000.00"``); phones are E.164 (``+821012345678``) when they are Korean
mobiles, otherwise kept as the shop has them (the shop's deliberately malformed ~1 %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CUSTOMER_BASE = 7_000_000_000
PRODUCT_BASE = 8_000_000_000
VARIANT_BASE = 9_000_000_000
_MOBILE = re.compile(r"^01[016789]\d{7,8}$")


@dataclass(frozen=True)
class Resource:
    """How one Shopify resource is selected from the as-of snapshot (``sid`` is its Shopify id)."""

    select: str
    updated: str
    created: str
    tables: tuple[str, ...]


ITEMS_SQL = """SELECT order_id, order_item_code, product_no, product_name, quantity, product_price
               FROM snap_order_items WHERE list_contains($ids, order_id) ORDER BY order_item_code"""

RESOURCES: dict[str, Resource] = {
    "customers": Resource(
        f"SELECT *, {CUSTOMER_BASE} + CAST(regexp_replace(member_id, '[^0-9]', '', 'g') AS BIGINT) AS sid "
        "FROM snap_customers",
        "updated_date", "created_date", ("customers",),
    ),
    "products": Resource(
        f"SELECT *, {PRODUCT_BASE} + product_no AS sid FROM snap_products", "updated_date", "created_date", ("products",)
    ),
    "orders": Resource(
        "SELECT *, CAST(replace(order_id, '-', '') AS BIGINT) AS sid, "
        "coalesce(purchaseconfirmation_date, refund_date) AS closed FROM snap_orders",
        "updated_date", "order_date", ("orders",),
    ),
}  # fmt: skip


def e164(phone: str | None) -> str | None:
    """``010-1234-5678`` → ``+821012345678``; anything that is not a Korean mobile is kept (blank → None)."""
    if not phone or not phone.strip():
        return None
    digits = re.sub(r"\D", "", phone)
    return f"+82{digits[1:]}" if _MOBILE.match(digits) else phone


def money(value: Any) -> str | None:
    return None if value is None else f"{int(value)}.00"


def customer_id(member_id: str | None) -> int | None:
    digits = re.sub(r"\D", "", member_id or "")
    return CUSTOMER_BASE + int(digits) if digits else None


def _customer(r: dict) -> dict:
    name = r.get("name") or ""
    tags = [t for t in ("kakao_consent", "push_consent", "night_consent") if r.get(t) == "T"]
    region = (r.get("address1") or "").split(" ")[0] or None
    return {
        "id": r["sid"],
        "email": r.get("email"),
        "phone": e164(r.get("cellphone")),
        "first_name": name[1:] or None,
        "last_name": name[:1] or None,
        "created_at": r.get("created_date"),
        "updated_at": r.get("updated_date"),
        "state": "enabled",
        "verified_email": bool(r.get("email")),
        "currency": "KRW",
        "tags": ", ".join(tags),
        "note": None,
        "email_marketing_consent": {
            "state": "subscribed" if r.get("news_mail") == "T" else "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": r.get("news_mail_consent_date"),
        },
        "sms_marketing_consent": {
            "state": "subscribed" if r.get("sms") == "T" else "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": r.get("sms_consent_date"),
            "consent_collected_from": "OTHER",
        },
        "default_address": {
            "address1": r.get("address1"), "province": region, "country": "South Korea", "country_code": "KR",
        },
    }  # fmt: skip


def _product(r: dict) -> dict:
    selling = r.get("selling") == "T"
    return {
        "id": r["sid"],
        "title": r.get("product_name"),
        "product_type": r.get("category_name"),
        "vendor": "멍냥",
        "handle": (r.get("product_code") or "").lower(),
        "status": "active" if selling else "archived",
        "created_at": r.get("created_date"),
        "updated_at": r.get("updated_date"),
        "published_at": r.get("created_date") if r.get("display") == "T" else None,
        "tags": r.get("category_name") or "",
        "variants": [{
            "id": VARIANT_BASE + int(r["product_no"]), "product_id": r["sid"], "title": "Default Title",
            "price": money(r.get("price")), "sku": r.get("product_code"),
        }],
    }  # fmt: skip


def _financial_status(r: dict) -> str:
    paid, refund, total = (
        r.get("payment_date"),
        int(r.get("refund_amount") or 0),
        int(r.get("payment_amount") or 0),
    )
    if r.get("cancel_date"):
        return "refunded" if paid else "voided"
    if refund and refund >= total:
        return "refunded"
    if refund:
        return "partially_refunded"
    return "paid" if paid else "pending"


def _order(r: dict) -> dict:
    oid = r["sid"]
    items = r.get("line_items") or []
    refund = int(r.get("refund_amount") or 0)
    campaign = r.get("utm_campaign")
    return {
        "id": oid,
        "name": f"#{r['order_id']}",
        "order_number": oid,
        "email": r.get("buyer_email"),
        "phone": e164(r.get("buyer_cellphone")),
        "customer": {"id": customer_id(r.get("member_id")), "email": r.get("buyer_email")} if r.get("member_id") else None,
        "created_at": r.get("order_date"),
        "processed_at": r.get("payment_date") or r.get("order_date"),
        "updated_at": r.get("updated_date"),
        "cancelled_at": r.get("cancel_date"),
        "cancel_reason": "customer" if r.get("cancel_date") else None,
        "closed_at": r.get("closed"),
        "financial_status": _financial_status(r),
        "fulfillment_status": "fulfilled" if r.get("shipbegin_date") else None,
        "currency": r.get("currency") or "KRW",
        "total_line_items_price": money(r.get("order_price_amount")),
        "total_discounts": money(r.get("coupon_discount_price")),
        "subtotal_price": money(int(r.get("order_price_amount") or 0) - int(r.get("coupon_discount_price") or 0)),
        "total_shipping_price_set": {"shop_money": {"amount": money(r.get("shipping_fee")), "currency_code": "KRW"}},
        "total_price": money(r.get("payment_amount")),
        "source_name": "mobile_web" if r.get("order_from_mobile") == "T" else "web",
        "landing_site": f"/?utm_source=crm&utm_campaign={campaign}" if campaign else "/",
        "tags": "first_order" if r.get("first_order") == "T" else "",
        "line_items": [
            {
                "id": int(re.sub(r"\D", "", i["order_item_code"])),
                "product_id": PRODUCT_BASE + int(i["product_no"]),
                "variant_id": VARIANT_BASE + int(i["product_no"]),
                "title": i.get("product_name"),
                "quantity": i.get("quantity"),
                "price": money(i.get("product_price")),
            }
            for i in items
        ],
        "refunds": [{
            "id": oid * 10 + 1, "created_at": r.get("refund_date"),
            "transactions": [{"kind": "refund", "status": "success", "amount": money(refund)}],
        }] if refund else [],
    }  # fmt: skip


def shape(resource: str, row: dict) -> dict:
    """One snapshot row as the Shopify object of ``resource``."""
    return {"customers": _customer, "products": _product, "orders": _order}[resource](row)
