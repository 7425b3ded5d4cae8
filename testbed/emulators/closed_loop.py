"""Simulated customers answering delivered messages: clicks land in the event drops, conversions in the shop.

For a delivered message whose ``customFields`` carry ``customer_id``, ``campaign_id`` and ``variant``, a hash of
(customer_id, campaign_id, run_date, seed) decides a click (``click_rate`` × the variant's multiplier) and, after a
click, a conversion (``conversion_rate``). Only the first delivered message per (customer, campaign, run date)
counts, so a duplicate send never doubles a response. Outputs, rewritten whole per message group (idempotent):

- ``<drops_dir>/dt=<KST delivery date>/crm-clicks-<groupId>.jsonl.gz``: Amplitude-export events
  ``session_start`` (utm_source=crm, utm_medium=sms|kakao, utm_campaign, utm_content=variant) + ``message_click``;
- ``<shop_dir>/sim/orders-<groupId>.parquet`` and ``order_items-<groupId>.parquet`` (written with
  :func:`testbed.shop.store.write_sim_orders`, typed like the base files): ordered 0–48 h after delivery (after the
  click), paid minutes later, shipped the next day, delivered 1–2 days later, confirmed 7 days after delivery;
  the shop store derives each order's status as of any instant from those timestamps. Order ids are
  ``YYYYMMDD-9NNNNNN`` (the generator numbers its orders from ``-0000001`` per day).

Options (``ctx.options``): ``click_rate`` (0.08), ``conversion_rate`` (0.20), ``variant_click_multipliers``
(``{"B": 1.3}``), ``seed`` (0).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from testbed.emulators.context import EmulatorContext
from testbed.emulators.solapi_rules import KST, unit_hash
from testbed.emulators.solapi_store import SolapiStore, iso, parse_iso

log = logging.getLogger(__name__)

_AMP_TS = "%Y-%m-%d %H:%M:%S.%f"  # Amplitude export: UTC, microseconds

# Used only when the shop folder has no products file (a bare test shop).
_FALLBACK_PRODUCTS = [
    {"product_no": 1, "product_name": "강아지 사료 2kg", "price": 32000},
    {"product_no": 2, "product_name": "고양이 간식 세트", "price": 12900},
    {"product_no": 3, "product_name": "배변패드 100매", "price": 18900},
]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _find_table(shop_dir: Path, name: str) -> Path | None:
    """The base generator's ``<name>.parquet`` (top level or one folder down, never ``sim/``)."""
    for candidate in (shop_dir / f"{name}.parquet", *sorted(shop_dir.glob(f"*/{name}.parquet"))):
        if candidate.exists() and candidate.parent.name != "sim":
            return candidate
    return None


class ShopData:
    """Products, customers and the orders layout of the base shop, read lazily once."""

    def __init__(self, shop_dir: Path) -> None:
        self.shop_dir = shop_dir
        self._products: list[dict] | None = None
        self._customers: dict[str, dict] | None = None

    def products(self) -> list[dict]:
        if self._products is None:
            path = _find_table(self.shop_dir, "products")
            rows: list[dict] = []
            if path is not None:
                import pyarrow.parquet as pq

                table = pq.read_table(path).to_pylist()
                rows = [
                    {
                        "product_no": int(r["product_no"]),
                        "product_name": r["product_name"],
                        "price": int(r["price"]),
                    }
                    for r in table
                    if r.get("selling", "T") == "T" and r.get("discontinued_at") is None and r.get("price")
                ]
            self._products = rows or list(_FALLBACK_PRODUCTS)
        return self._products

    def customer(self, member_id: str) -> dict:
        if self._customers is None:
            path = _find_table(self.shop_dir, "customers")
            self._customers = {}
            if path is not None:
                import pyarrow.parquet as pq

                names = set(pq.read_schema(path).names)
                cols = [c for c in ("member_id", "name", "cellphone", "email", "address1") if c in names]
                for r in pq.read_table(path, columns=cols).to_pylist():
                    self._customers[r["member_id"]] = r
        return self._customers.get(member_id, {})

    def layout(self, name: str) -> Any:
        """The Arrow schema of the base ``orders``/``order_items`` file, or ``None``."""
        path = _find_table(self.shop_dir, name)
        if path is None:
            return None
        import pyarrow.parquet as pq

        return pq.read_schema(path)


class CustomerSimulator:
    """Decides and writes simulated responses for delivered messages (see the module docstring)."""

    def __init__(self, ctx: EmulatorContext, store: SolapiStore) -> None:
        self.ctx = ctx
        self.store = store
        self.shop = ShopData(ctx.shop_dir)
        # The writers need pyarrow, the shop store (duckdb) and pandas (pulled in lazily by pyarrow): seconds of
        # imports that would otherwise land on the first delivered campaign message's request.
        threading.Thread(target=_warm_imports, name="closed-loop-warmup", daemon=True).start()

    def _opt(self, key: str, default: Any) -> Any:
        return self.ctx.options.get(key, default)

    def process(self, delivered: list[dict]) -> None:
        """Handles messages that just reached 4000; rewrites the outputs of every group touched."""
        items = [item for m in delivered if (item := self._decide(m)) is not None]
        if not items:
            return
        self.store.claim_responses(items)
        for group_id in sorted({i["group_id"] for i in items}):
            self.write_group(group_id)

    def _decide(self, msg: dict) -> dict | None:
        doc = json.loads(msg["doc"])
        fields = doc.get("customFields") or {}
        customer_id, campaign_id = fields.get("customer_id"), fields.get("campaign_id")
        if not customer_id or not campaign_id:
            return None
        delivered = parse_iso(msg["due_final"])
        run_date = str(fields.get("run_date") or delivered.astimezone(KST).date().isoformat())
        variant = str(fields.get("variant") or "")
        seed = self._opt("seed", 0)
        key = (customer_id, campaign_id, run_date, seed)
        rate = float(self._opt("click_rate", 0.08)) * float(
            (self._opt("variant_click_multipliers", {}) or {}).get(variant, 1.0)
        )
        clicked = unit_hash("click", *key) < rate
        converted = clicked and unit_hash("convert", *key) < float(self._opt("conversion_rate", 0.20))
        midnight = datetime.combine(
            delivered.astimezone(KST).date() + timedelta(days=1), datetime.min.time(), KST
        )
        room = max(0.0, (midnight - delivered).total_seconds() - 1)
        click_at = delivered + timedelta(seconds=min(60 + unit_hash("click-delay", *key) * 3 * 3600, room))
        decision: dict[str, Any] = {
            "message_id": msg["message_id"],
            "customer_id": customer_id,
            "campaign_id": campaign_id,
            "variant": variant,
            "run_date": run_date,
            "to": doc.get("to"),
            "channel": "kakao" if msg["type"] in ("ATA", "CTA") else "sms",
            "delivered_at": iso(delivered),
            "clicked": clicked,
            "click_at": iso(click_at),
            "converted": converted,
        }
        if converted:
            order_at = max(
                click_at + timedelta(minutes=2),
                delivered + timedelta(hours=48 * unit_hash("order-delay", *key)),
            )
            decision["order_at"] = iso(order_at)
            decision["order_day"] = order_at.astimezone(KST).strftime("%Y%m%d")
            decision["items"] = self._pick_items(key)
        return {
            "customer_id": customer_id,
            "campaign_id": campaign_id,
            "run_date": run_date,
            "message_id": msg["message_id"],
            "group_id": msg["group_id"],
            "decision": decision,
        }

    def _pick_items(self, key: tuple) -> list[dict]:
        products = self.shop.products()
        n_items = 1 if unit_hash("n-items", *key) < 0.6 else 2
        picked: list[dict] = []
        for i in range(n_items):
            product = products[int(unit_hash("item", i, *key) * len(products))]
            if any(p["product_no"] == product["product_no"] for p in picked):
                continue
            qty = 1 if unit_hash("qty", i, *key) < 0.8 else 2
            picked.append({**product, "quantity": qty})
        return picked

    # --- outputs ----------------------------------------------------------------------------------------------
    def write_group(self, group_id: str) -> None:
        """Rewrites the group's click drops and sim orders from its stored decisions."""
        decisions = [r["decision"] for r in self.store.group_responses(group_id)]
        clicks = [d for d in decisions if d["clicked"]]
        by_day: dict[str, list[dict]] = {}
        for d in clicks:
            day = parse_iso(d["delivered_at"]).astimezone(KST).date().isoformat()
            by_day.setdefault(day, []).extend(self._events(d))
        for day, events in by_day.items():
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
                for event in events:
                    gz.write(json.dumps(event, ensure_ascii=False, sort_keys=True).encode() + b"\n")
            _atomic_write(
                self.ctx.drops_dir / f"dt={day}" / f"crm-clicks-{group_id}.jsonl.gz", buf.getvalue()
            )
        orders = [d for d in decisions if d.get("converted")]
        if orders:
            self._write_orders(group_id, orders)
        self.ctx.stats.incr("solapi.closed_loop.groups_written")

    def _events(self, d: dict) -> list[dict]:
        click_at = parse_iso(d["click_at"])
        customer_id = d["customer_id"]
        member = customer_id if customer_id.startswith("m") else None
        platform = ("Web", "iOS", "Android")[int(unit_hash("platform", customer_id) * 3)]
        device_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-device:{customer_id}"))
        base = {
            "user_id": member,
            "device_id": device_id.upper() if platform == "iOS" else device_id,
            "session_id": int(click_at.timestamp() * 1000),
            "platform": platform,
            "city": _city(self.shop.customer(member).get("address1") if member else None),
        }
        utm = {
            "utm_source": "crm",
            "utm_medium": d["channel"],
            "utm_campaign": d["campaign_id"],
            "utm_content": d["variant"],
            "referrer": None,
        }
        click_props = {
            "campaign_id": d["campaign_id"],
            "variant": d["variant"],
            "message_id": d["message_id"],
        }
        events = []
        for offset, event_type, props in ((0, "session_start", utm), (1, "message_click", click_props)):
            at = click_at + timedelta(seconds=offset)
            events.append(
                {
                    **base,
                    "$insert_id": str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"crm-click:{d['message_id']}:{event_type}")
                    ),
                    "event_type": event_type,
                    "event_time": at.astimezone(UTC).strftime(_AMP_TS),
                    "event_properties": props,
                }
            )
        return events

    def _write_orders(self, group_id: str, decisions: list[dict]) -> None:
        from testbed.shop.store import SIM_ORDER_COLUMNS, SIM_ORDER_ITEM_COLUMNS, write_sim_orders

        orders, items = [], []
        for d in decisions:
            order, order_items = self._order_rows(d)
            orders.append(order)
            items.extend(order_items)
        write_sim_orders(
            self.ctx.shop_dir,
            group_id,
            _to_layout(orders, SIM_ORDER_COLUMNS, self.shop.layout("orders")),
            _to_layout(items, SIM_ORDER_ITEM_COLUMNS, self.shop.layout("order_items")),
        )

    def _order_rows(self, d: dict) -> tuple[dict, list[dict]]:
        key = (d["customer_id"], d["campaign_id"], d["run_date"])
        order_at = parse_iso(d["order_at"]).astimezone(KST)
        paid_at = order_at + timedelta(seconds=30 + int(unit_hash("pay", *key) * 270))
        ship_begin = paid_at + timedelta(days=1)
        ship_end = ship_begin + timedelta(days=1 + int(unit_hash("ship", *key) * 2))
        confirmed = ship_end + timedelta(days=7)
        member = d["customer_id"] if d["customer_id"].startswith("m") else None
        profile = self.shop.customer(member) if member else {}
        to = d.get("to") or ""
        phone = profile.get("cellphone") or (f"{to[:3]}-{to[3:-4]}-{to[-4:]}" if len(to) >= 10 else to)
        subtotal = sum(i["price"] * i["quantity"] for i in d["items"])
        shipping = 0 if subtotal >= 30000 else 3000
        order = {
            "order_id": d["order_id"],
            "member_id": member,
            "member_authentication": "T" if member else "F",
            "buyer_name": profile.get("name"),
            "buyer_cellphone": phone,
            "buyer_email": profile.get("email"),
            "order_date": order_at,
            "payment_date": paid_at,
            "currency": "KRW",
            "order_price_amount": subtotal,
            "shipping_fee": shipping,
            "coupon_discount_price": 0,
            "payment_amount": subtotal + shipping,
            "order_status": "N50",
            "canceled": "F",
            "cancel_date": None,
            "refund_amount": 0,
            "refund_date": None,
            "shipbegin_date": ship_begin,
            "shipend_date": ship_end,
            "first_order": "F",
            "order_from_mobile": "T",
            "utm_campaign": d["campaign_id"],
            "updated_date": confirmed,
            "purchaseconfirmation_date": confirmed,
        }
        life = {
            k: order[k]
            for k in ("order_date", "payment_date", "shipbegin_date", "shipend_date", "cancel_date")
        }
        life |= {"refund_date": None, "purchaseconfirmation_date": confirmed}
        items = [
            {
                "order_item_code": f"{d['order_id']}-{n:02d}",
                "order_id": d["order_id"],
                "product_no": i["product_no"],
                "product_name": i["product_name"],
                "quantity": i["quantity"],
                "product_price": i["price"],
                "order_status": "N50",
                **life,
            }
            for n, i in enumerate(d["items"], start=1)
        ]
        return order, items


def _warm_imports() -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet  # noqa: F401

        import testbed.shop.store  # noqa: F401

        pa.array([0])
    except Exception:  # only a warm-up: the real import reports any problem
        log.debug("closed-loop warm-up import failed", exc_info=True)


def _city(address: str | None) -> str | None:
    """Amplitude's city for a Korean address (the generator's region table), else None."""
    if not address:
        return None
    from testbed.shop.catalog import REGIONS

    region = address.split()[0]
    return next((city for name, _, city in REGIONS if name == region), None)


def _to_layout(rows: list[dict], columns: tuple[str, ...], base: Any) -> Any:
    """An Arrow table of ``rows`` with ``columns`` typed as in the base shop file (contract types without one)."""
    import pyarrow as pa

    from include.core import contracts

    types = {"text": pa.string(), "bigint": pa.int64(), "timestamp": pa.timestamp("s", tz="Asia/Seoul")}
    declared = {**contracts.CAFE24_ORDER_ITEMS.columns, **contracts.CAFE24_ORDERS.columns}
    fields = []
    for col in columns:
        if base is not None and col in base.names:
            fields.append(base.field(col))
        else:
            fields.append(pa.field(col, types[declared.get(col, "timestamp")]))
    schema = pa.schema(fields)
    arrays = []
    for f in schema:
        values = [r.get(f.name) for r in rows]
        arrays.append(_ts(values, f.type) if pa.types.is_timestamp(f.type) else pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _ts(values: list, typ: Any) -> Any:
    import pyarrow as pa

    secs = [None if v is None else int(v.timestamp()) for v in values]
    return pa.array(secs, type=pa.int64()).cast(pa.timestamp("s", tz="UTC")).cast(typ)
