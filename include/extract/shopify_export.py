"""Shopify admin CSV exports (orders, customers, products) onto the Cafe24 raw contract (``raw_cafe24.*``).

Shopify's orders export has one line per line item: the order's fields are on its first line, later lines repeat
``Name`` and carry the next item. It becomes two tables: ``orders`` (one row per ``Name``) and ``order_items``
(``<Name>-<n>``). What has no Shopify column is derived, and documented in docs/import.md:

- ``member_id`` is the customer's e-mail, lower-cased (the orders export has no customer id; the customers export
  uses the same key, so orders link to customers), else ``shopify-<Customer ID>``;
- ``order_status`` is a Cafe24 code from ``Cancelled at``/``Financial Status``/``Fulfillment Status``;
- ``updated_date`` is the order's latest known time (cancelled, fulfilled, paid, created);
- ``product_no`` is the SKU when it is a number, else a stable 60-bit hash of it (products and line items agree);
- the customers export has no dates: created/updated are the file's modification time.

Columns not used here are not loaded (listed by :func:`ignored`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from include.core.timezone import KST

FILE_COL, LINE_COL = "__file", "__line"

ORDERS = {
    "Name": "order_id", "Email": "buyer_email", "Financial Status": "financial_status", "Paid at": "payment_date",
    "Fulfillment Status": "fulfillment_status", "Fulfilled at": "shipbegin_date", "Currency": "currency",
    "Subtotal": "order_price_amount", "Shipping": "shipping_fee", "Total": "payment_amount",
    "Discount Amount": "coupon_discount_price", "Created at": "order_date", "Cancelled at": "cancel_date",
    "Refunded Amount": "refund_amount", "Billing Name": "buyer_name", "Phone": "buyer_cellphone",
    "Billing Phone": "billing_phone", "Source": "source",
    "Lineitem quantity": "quantity", "Lineitem name": "product_name", "Lineitem price": "product_price",
    "Lineitem sku": "sku",
}  # fmt: skip
CUSTOMERS = {
    "Customer ID": "customer_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
    "Accepts Email Marketing": "news_mail", "Phone": "cellphone", "Accepts SMS Marketing": "sms",
    "Default Address Address1": "address1", "Address1": "address1", "Default Address Phone": "address_phone",
}  # fmt: skip
PRODUCTS = {
    "Handle": "handle", "Title": "product_name", "Type": "category_name", "Published": "display",
    "Variant SKU": "product_code", "Variant Price": "price", "Status": "status",
}  # fmt: skip
USED = {"orders": ORDERS, "customers": CUSTOMERS, "products": PRODUCTS}
_SIGNATURES = {"orders": {"name", "lineitemname"}, "customers": {"customerid", "firstname"},
               "products": {"handle", "variantsku"}}  # fmt: skip


def _norm(header: str) -> str:
    return header.replace(" ", "").strip().lower()


def kind(headers: list[str]) -> str | None:
    """``orders``/``customers``/``products`` when the headers are a Shopify admin export's, else ``None``."""
    names = {_norm(h) for h in headers}
    return next((k for k, sig in _SIGNATURES.items() if sig <= names), None)


def ignored(kind_: str, headers: list[str]) -> list[str]:
    """Headers of a Shopify export that are not loaded."""
    used = {_norm(h) for h in USED[kind_]}
    return [h for h in headers if _norm(h) not in used]


def product_no(sku: str | None) -> int | None:
    """A SKU as a product number: itself when numeric, else a stable positive 60-bit hash."""
    if not sku or not sku.strip():
        return None
    sku = sku.strip()
    if sku.isdigit() and len(sku) < 18:
        return int(sku)
    return int(hashlib.md5(sku.encode("utf-8")).hexdigest()[:15], 16)


def _rows(data: pa.Table, mapping: dict[str, str]) -> list[dict]:
    by_norm = {_norm(k): v for k, v in mapping.items()}
    rename = {c: by_norm[_norm(c)] for c in data.column_names if _norm(c) in by_norm}
    cols = [c for c in data.column_names if c in rename or c in (FILE_COL, LINE_COL)]
    return [{rename.get(k, k): v for k, v in row.items()} for row in data.select(cols).to_pylist()]


def _status(row: dict) -> str | None:
    financial = (row.get("financial_status") or "").strip().lower()
    if row.get("cancel_date") or financial == "voided":
        return "C40"
    if financial in ("refunded",):
        return "R40"
    if financial in ("pending", "authorized", "partially_paid"):
        return "N00"
    if financial in ("paid", "partially_refunded"):
        return "N40" if (row.get("fulfillment_status") or "").lower() == "fulfilled" else "N10"
    return financial.upper() or None


def _member(email: str | None, customer_id: str | None = None) -> str | None:
    if email and email.strip():
        return email.strip().lower()
    return f"shopify-{customer_id.strip()}" if customer_id and customer_id.strip() else None


def _table(rows: list[dict], columns: list[str]) -> pa.Table:
    out = {c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns}
    out[LINE_COL] = pa.array([r[LINE_COL] for r in rows], pa.int64())
    out[FILE_COL] = pa.array([r[FILE_COL] for r in rows], pa.string())
    return pa.table(out)


def _orders(data: pa.Table) -> dict[str, pa.Table]:
    orders, items, seen = [], [], {}
    for row in _rows(data, ORDERS):
        name = row.get("order_id")
        if name not in seen:
            seen[name] = 0
            times = [row.get(k) for k in ("cancel_date", "shipbegin_date", "payment_date", "order_date")]
            orders.append({**row, "member_id": _member(row.get("buyer_email")), "order_status": _status(row),
                           "buyer_cellphone": row.get("buyer_cellphone") or row.get("billing_phone"),
                           "canceled": "T" if row.get("cancel_date") else "F",
                           "order_from_mobile": None, "updated_date": next((t for t in times if t), None)})  # fmt: skip
        if row.get("product_name") or row.get("sku"):
            seen[name] += 1
            items.append({**row, "order_item_code": f"{name}-{seen[name]}" if name else None,
                          "product_no": str(product_no(row.get("sku") or row.get("product_name")) or "")
                          or None})  # fmt: skip
    order_cols = ["order_id", "member_id", "buyer_name", "buyer_cellphone", "buyer_email", "order_date",
                  "payment_date", "currency", "order_price_amount", "shipping_fee", "coupon_discount_price",
                  "payment_amount", "order_status", "canceled", "cancel_date", "refund_amount", "shipbegin_date",
                  "updated_date"]  # fmt: skip
    item_cols = ["order_item_code", "order_id", "product_no", "product_name", "quantity", "product_price"]
    return {"orders": _table(orders, order_cols), "order_items": _table(items, item_cols)}


def _customers(data: pa.Table, path: Path) -> pa.Table:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, KST).strftime("%Y-%m-%d %H:%M:%S")
    rows = []
    for row in _rows(data, CUSTOMERS):
        name = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p) or None
        rows.append({**row, "member_id": _member(row.get("email"), row.get("customer_id")), "name": name,
                     "cellphone": row.get("cellphone") or row.get("address_phone"),
                     "created_date": stamp, "updated_date": stamp})  # fmt: skip
    cols = [
        "member_id",
        "name",
        "cellphone",
        "email",
        "address1",
        "sms",
        "news_mail",
        "created_date",
        "updated_date",
    ]
    return _table(rows, cols)


def _products(data: pa.Table) -> pa.Table:
    rows, titles = [], {}
    for row in _rows(data, PRODUCTS):
        handle = row.get("handle")
        if row.get("product_name"):
            titles.setdefault(handle, (row["product_name"], row.get("category_name"), row.get("display"),
                                       row.get("status")))  # fmt: skip
        if not (row.get("product_code") or row.get("price")):
            continue  # an image line of the product, no variant
        title, category, display, status = titles.get(handle, (None, None, None, None))
        status = row.get("status") or status
        rows.append({**row, "product_no": str(product_no(row.get("product_code") or handle) or "") or None,
                     "product_name": row.get("product_name") or title,
                     "category_name": row.get("category_name") or category,
                     "display": row.get("display") or display,
                     "selling": None if status is None else ("T" if status.lower() == "active" else "F")})  # fmt: skip
    cols = ["product_no", "product_code", "product_name", "category_name", "price", "display", "selling"]
    return _table(rows, cols)


def to_contract(kind_: str, data: pa.Table, path: Path) -> dict[str, pa.Table]:
    """A Shopify export (text columns + file/line columns) as contract tables (text), by table name."""
    if kind_ == "orders":
        return _orders(data)
    if kind_ == "customers":
        return {"customers": _customers(data, path)}
    return {"products": _products(data)}
