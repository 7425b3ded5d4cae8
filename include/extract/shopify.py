"""Shopify Admin REST → ``raw_shopify.*`` with dlt: Link-header pagination, ``updated_at`` increments, merge.

Resources ``customers``, ``products``, ``orders`` (``status=any``) and ``order_line_items`` (the ``line_items`` of
each order, split out with the order's ``updated_at`` as the shared cursor). Increments are the real API's own:
``updated_at_min``/``updated_at_max`` over ``[lower, upper)`` (both inclusive in Shopify, so the upper bound is
sent as ``upper - 1 s``); pages follow ``Link: <…page_info=…>; rel="next"`` (dlt's ``HeaderLinkPaginator``), which
by the API's rule carries no other filter. Nested objects are flattened the way dlt names them
(``email_marketing_consent__state``, ``customer__id``); ``refunds`` stays JSON text. The access token goes in
``X-Shopify-Access-Token`` through an auth object (never into logged headers); the call limit is paced from
``X-Shopify-Shop-Api-Call-Limit``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from include.core import connections
from include.core.contracts import (
    SHOPIFY_CUSTOMERS,
    SHOPIFY_ORDER_LINE_ITEMS,
    SHOPIFY_ORDERS,
    SHOPIFY_PRODUCTS,
    SHOPIFY_TABLES,
)
from include.core.http import HttpPolicy, HttpStats, Throttle, rest_client
from include.core.settings import get_settings
from include.extract.common import apply_contract, make_pipeline
from include.extract.resources import (
    KST,
    PageLoader,
    as_text,
    batched,
    incremental,
    mark_covered,
    payload_json,
    resource_window,
    run_and_summarise,
)
from include.extract.rest import iterate_pages

log = logging.getLogger(__name__)

SOURCE = "shopify"
SCHEMA = "raw_shopify"
API_VERSION = "2025-10"
PAGE_LIMIT = 250
EPOCH = datetime(2000, 1, 1, tzinfo=KST)

TABLES = SHOPIFY_TABLES  # the raw_shopify contract lives in include/core/contracts.py
RESOURCES = {"customers": SHOPIFY_CUSTOMERS, "products": SHOPIFY_PRODUCTS, "orders": SHOPIFY_ORDERS}


def flatten(obj: dict, prefix: str = "") -> dict:
    """Nested objects become ``parent__child`` columns (dlt's naming); lists stay as they are."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}__"))
        else:
            out[name] = value
    return out


def product_row(product: dict) -> dict:
    row = flatten({k: v for k, v in product.items() if k != "variants"})
    first = (product.get("variants") or [{}])[0]
    row.update(variants__price=first.get("price"), variants__sku=first.get("sku"))
    return row


def split_order(order: dict) -> tuple[dict, list[dict]]:
    row = flatten({k: v for k, v in order.items() if k != "line_items"})
    items = [
        {**i, "order_id": order.get("id"), "updated_at": order.get("updated_at")}
        for i in order.get("line_items") or []
    ]
    return row, items


class ShopifyApi:
    """Paced, authenticated access to one shop's Admin REST API."""

    def __init__(self, conn: connections.ApiConnection) -> None:
        extra = conn.extra or {}
        if not conn.password:
            raise ValueError(f"connection '{conn.conn_id}' needs the Admin API access token as password")
        shop = extra.get("shop")
        base = conn.base_url or (f"https://{shop}" if shop else "")
        if not base:
            raise ValueError(f"connection '{conn.conn_id}' needs a host or a shop domain in its extra")
        self.stats = HttpStats()
        policy = HttpPolicy.from_extra(extra)
        rate = extra.get("rate_limit") or {}
        throttle = Throttle.for_policy(
            policy, float(rate.get("drain_per_s", 2.0)), capacity=int(rate.get("capacity", 40)),
            header="X-Shopify-Shop-Api-Call-Limit", stats=self.stats,
        )  # fmt: skip
        auth = APIKeyAuth(name="X-Shopify-Access-Token", api_key=conn.password, location="header")
        version = str(extra.get("api_version", API_VERSION))
        self.client = rest_client(
            f"{base}/admin/api/{version}", stats=self.stats, policy=policy, throttle=throttle, auth=auth
        )
        limits = extra.get("page_limits") or {}
        self.limits = {n: min(PAGE_LIMIT, int(limits.get(n, PAGE_LIMIT))) for n in RESOURCES}
        self.memory: dict[str, tuple] = {}

    def pages(self, resource: str, lower: datetime | None, upper: datetime) -> Iterator[list[dict]]:
        params: dict[str, Any] = {
            "limit": self.limits[resource],
            "updated_at_max": _ts(upper - timedelta(seconds=1)),
        }
        if lower is not None:
            params["updated_at_min"] = _ts(lower)
        if resource == "orders":
            params["status"] = "any"
        return iterate_pages(
            self.client, f"{resource}.json", params=params, paginator=HeaderLinkPaginator(), data_selector=resource,
            key=lambda item: item.get("id"), stats=self.stats, memory=self.memory, label=f"shopify {resource}",
        )  # fmt: skip


def _ts(value: datetime) -> str:
    return value.astimezone(KST).strftime("%Y-%m-%dT%H:%M:%S+09:00")


@dlt.source(name=SOURCE, max_table_nesting=0)
def shopify_source(
    api: ShopifyApi,
    spans: dict[str, tuple[datetime, datetime]],
    unbounded: frozenset[str],
    loader: PageLoader,
) -> list[Any]:
    """One resource per Shopify resource; orders also feed ``order_line_items``."""

    def records(name: str, lower: datetime, upper: datetime) -> Any:
        def gen() -> Iterator[Any]:
            for batch in batched(api.pages(name, None if name in unbounded else lower, upper)):
                yield from batch_tables(loader, name, batch)
            mark_covered(upper)

        return gen

    out = []
    for name, (lower, upper) in spans.items():
        res = dlt.resource(records(name, lower, upper), name=name, **apply_contract(RESOURCES[name]))
        res.apply_hints(incremental=incremental("updated_at", lower, upper))
        if name == "orders":
            res.apply_hints(create_table_variant=True, **apply_contract(SHOPIFY_ORDER_LINE_ITEMS))
        out.append(res)
    return out


# nested fields the mapping walks, and the JSON shape they must have (anything else quarantines the record)
SHAPES = {"orders": {"line_items": "objects"}, "products": {"variants": "objects"}, "customers": {}}


def batch_tables(loader: PageLoader, name: str, batch: list[Any]) -> Iterator[Any]:
    """What one batch of API items of resource ``name`` becomes: contract-typed Arrow tables (``orders`` also
    yields its line items); items that do not fit are in ``loader``'s quarantine, with the reason."""
    if name == "orders":
        yield from _order_tables(loader, batch)
        return
    table = RESOURCES[name]
    items = loader.objects(table, batch, SHAPES[name])
    rows = [product_row(p) for p in items] if name == "products" else [flatten(c) for c in items]
    good = loader.to_arrow(table, loader.fresh(table, rows))
    if good is not None:
        yield good


def _order_tables(loader: PageLoader, batch: list[Any]) -> Iterator[Any]:
    import pyarrow as pa

    orders, items = [], []
    for order in loader.fresh(SHOPIFY_ORDERS, loader.objects(SHOPIFY_ORDERS, batch, SHAPES["orders"])):
        row, its = split_order(order)
        orders.append(row)
        items.extend(its)
    good = loader.to_arrow(SHOPIFY_ORDERS, orders)
    ok = {as_text(v) for v in good.column("id").to_pylist()} if good is not None else set()
    orphans = [i for i in items if as_text(i["order_id"]) not in ok]
    if orphans:
        loader.reject(SHOPIFY_ORDER_LINE_ITEMS, pa.table({
            "record_key": [str(i.get("id")) for i in orphans],
            "reason": [f"order {i['order_id']} was quarantined" for i in orphans],
            "payload": [payload_json(i) for i in orphans],
        }))  # fmt: skip
    lines = loader.to_arrow(
        SHOPIFY_ORDER_LINE_ITEMS,
        loader.fresh(SHOPIFY_ORDER_LINE_ITEMS, [i for i in items if as_text(i["order_id"]) in ok]),
    )
    if good is not None:
        yield good
    if lines is not None:
        yield dlt.mark.with_table_name(lines, SHOPIFY_ORDER_LINE_ITEMS.name)


def extract(
    start: datetime,
    end: datetime,
    *,
    full_from: datetime | str | None,
    destination: Any = None,
    pipelines_dir: Any = None,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """Runs one Shopify extraction (see :func:`include.extract.storefront.extract_storefront`)."""
    started = time.monotonic()
    api = ShopifyApi(connections.get_connection(conn_id or connections.SHOPIFY))
    folder = Path(pipelines_dir) if pipelines_dir else get_settings().dlt
    pipeline = make_pipeline(SOURCE, destination, SCHEMA, pipelines_dir=folder)
    pipeline.sync_destination()
    spans = {
        n: None if full_from is not None else resource_window(pipeline, SOURCE, n, start, end)
        for n in RESOURCES
    }
    fresh = frozenset(
        n for n, span in spans.items() if span is None
    )  # never loaded: read their whole history
    floor = full_from if isinstance(full_from, datetime) else EPOCH
    spans = {n: span or (floor, end) for n, span in spans.items()}
    loader = PageLoader("shopify_api")
    source = shopify_source(api, spans, fresh if floor == EPOCH else frozenset(), loader)
    summary = run_and_summarise(
        pipeline, source, loader, TABLES, stats=api.stats, windows=spans, started=started
    )
    summary.update(full_history=sorted(fresh))
    return summary
