"""Cafe24 Admin API → ``raw_cafe24.*`` with dlt: OAuth refresh, date windows under the offset caps, increments.

One dlt source (``cafe24``) with a resource per raw table; ``orders`` also feeds ``order_items`` (the ``items``
embedded by ``embed=items``, which carry their order's ``updated_date`` as the shared cursor). Rows are validated
against :mod:`include.core.contracts` page by page; rows that do not fit (and the items of an order that does not)
go to ``raw_quarantine.records``; the rest merge on the primary key.

Windows and caps: orders may be asked for at most 3 months at a time and ``offset`` stops at 15,000 (customers
8,000, products 5,000, board articles 8,000 and 1-year windows, subscriptions 5,000). The walker cuts
``[lower, upper)`` into such windows, asks ``/count`` where Cafe24 has it and halves a window until its rows fit
under the cap; where there is no count it halves a window when paging reaches the cap. Products page by keyset
(``since_product_no``), member exports by ``created_start_date`` (no offset at all).

Increments, per the connection's ``increments`` setting:

- ``standard`` (the real API, default): products by ``updated_start_date``/``updated_end_date`` (real); orders
  by the union of the lifecycle date types (``order_date``, ``pay_date``, ``shipbegin_date``, ``shipend_date``,
  ``cancel_date``, ``return_complete_date``, ``purchaseconfirmation_date``) over the interval — every change of
  an order is one of these events, so the union is exactly the changed orders; members, review articles and
  subscriptions have no "changed since" filter, so they are re-read in full (members by the created-date export)
  and the incremental cursor keeps only the changed rows;
- ``extension`` (the local emulator): ``date_type=updated_date`` on members, orders, articles and subscriptions,
  so the API serves only changed records. docs/extraction.md lists both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa

from include.core import connections
from include.core.contracts import (
    CAFE24_CUSTOMERS,
    CAFE24_ORDER_ITEMS,
    CAFE24_ORDERS,
    CAFE24_PRODUCTS,
    CAFE24_REVIEWS,
    CAFE24_SUBSCRIPTIONS,
    RawTable,
)
from include.core.http import HttpPolicy, HttpStats, Throttle, rest_client
from include.core.settings import get_settings
from include.extract.common import apply_contract, make_pipeline
from include.extract.resources import (
    KST,
    PageLoader,
    as_kst,
    as_text,
    batched,
    incremental,
    mark_covered,
    payload_json,
    resource_window,
    run_and_summarise,
)
from include.extract.rest import (
    CappedOffsetPaginator,
    ExtractionError,
    KeysetPaginator,
    MalformedResponseError,
    OffsetCapReached,
    ReadAhead,
    count_value,
    get_json,
    iterate_pages,
)
from include.extract.storefront_oauth import Cafe24OAuth2

log = logging.getLogger(__name__)

SOURCE = "cafe24"
API_VERSION = "2025-12-01"
ORDER_ITEMS = replace(CAFE24_ORDER_ITEMS, columns={**CAFE24_ORDER_ITEMS.columns, "updated_date": "timestamp"})
LIFECYCLE_DATE_TYPES = (
    "order_date",
    "pay_date",
    "shipbegin_date",
    "shipend_date",
    "cancel_date",
    "return_complete_date",
    "purchaseconfirmation_date",
)
ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Spec:
    """One Cafe24 list endpoint as the extractor reads it (limits from the API reference)."""

    table: RawTable
    path: str
    data_key: str
    limit: int
    offset_cap: int
    has_count: bool
    window_months: int | None

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def key(self) -> str:
        return self.table.primary_key[0]


SPECS: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec(CAFE24_CUSTOMERS, "customersprivacy", "customersprivacy", 1000, 8000, True, None),
        Spec(CAFE24_PRODUCTS, "products", "products", 100, 5000, True, None),
        Spec(CAFE24_ORDERS, "orders", "orders", 1000, 15000, True, 3),
        Spec(CAFE24_REVIEWS, "boards/4/articles", "articles", 100, 8000, False, 12),
        Spec(CAFE24_SUBSCRIPTIONS, "subscription/shipments", "shipments", 100, 5000, False, 3),
    )
}
TABLES = (CAFE24_CUSTOMERS, CAFE24_PRODUCTS, CAFE24_ORDERS, ORDER_ITEMS, CAFE24_REVIEWS, CAFE24_SUBSCRIPTIONS)
SCHEMA = CAFE24_CUSTOMERS.schema
RESOURCES = tuple(SPECS)  # the dlt resources, one per API resource (order items ride with orders)


def kst_param(value: datetime) -> str:
    return value.astimezone(KST).strftime("%Y-%m-%dT%H:%M:%S+09:00")


def add_months(value: datetime, months: int) -> datetime:
    month = value.month - 1 + months
    year, month = value.year + month // 12, month % 12 + 1
    for day in (value.day, 30, 29, 28):
        try:
            return value.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")


def windows(lower: datetime, upper: datetime, months: int | None) -> list[tuple[datetime, datetime]]:
    """``[lower, upper)`` cut into consecutive windows of at most ``months`` calendar months."""
    out, a = [], lower
    while a < upper:
        b = min(upper, add_months(a, months)) if months else upper
        out.append((a, b))
        a = b
    return out


class Cafe24Api:
    """Authenticated, paced access to one mall's Admin API, with the window walking the caps require."""

    def __init__(self, conn: connections.ApiConnection, token_dir: Path) -> None:
        extra = conn.extra or {}
        if not conn.login or not conn.password:
            raise ValueError(
                f"connection '{conn.conn_id}' needs client_id as login and client_secret as password"
            )
        if not extra.get("mall_id"):
            raise ValueError(f"connection '{conn.conn_id}' needs mall_id in its extra")
        self.mall_id = str(extra["mall_id"])
        base = conn.base_url or f"https://{self.mall_id}.cafe24api.com"
        self.mode = str(extra.get("increments", "standard"))
        if self.mode not in ("standard", "extension"):
            raise ValueError(f"increments must be 'standard' or 'extension', got {self.mode!r}")
        self.stats = HttpStats()
        policy = HttpPolicy.from_extra(extra)
        rate = extra.get("rate_limit") or {}
        self.throttle = Throttle.for_policy(
            policy, float(rate.get("drain_per_s", 2.0)), capacity=int(rate.get("capacity", 40)),
            header="X-Api-Call-Limit", stats=self.stats,
        )  # fmt: skip
        token_client = rest_client(base, stats=self.stats, policy=policy, throttle=self.throttle)
        self.auth = Cafe24OAuth2(
            access_token_url=f"{base}/api/v2/oauth/token",
            client_id=conn.login,
            client_secret=conn.password,
            refresh_token=extra.get("refresh_token"),
            token_file=str(token_dir / f"cafe24_{self.mall_id}.json"),
            session=token_client.session,
            stats=self.stats,
        )
        self.client = rest_client(
            f"{base}/api/v2/admin", stats=self.stats, policy=policy, throttle=self.throttle, auth=self.auth,
            headers={"X-Cafe24-Api-Version": str(extra.get("api_version", API_VERSION))},
        )  # fmt: skip
        caps, limits = extra.get("offset_caps") or {}, extra.get("page_limits") or {}
        self.specs = {
            n: replace(
                s, offset_cap=int(caps.get(n, s.offset_cap)), limit=min(s.limit, int(limits.get(n, s.limit)))
            )
            for n, s in SPECS.items()
        }
        self.memory: dict[str, tuple] = {}
        # pages are fetched while the previous ones are validated and written
        self.read_ahead = ReadAhead(self.stats)

    def close(self) -> None:
        self.read_ahead.close()

    # --- low level --------------------------------------------------------------------------------------------
    def count(self, spec: Spec, params: dict[str, Any]) -> int:
        label = f"cafe24 {spec.name} count"
        doc = get_json(self.client, f"{spec.path}/count", params, label)
        return count_value(doc, f"{label}: GET {spec.path}/count")

    def pages(self, spec: Spec, params: dict[str, Any], paginator: Any) -> Iterator[list[dict]]:
        return iterate_pages(
            self.client, spec.path, params=params, paginator=paginator, data_selector=spec.data_key,
            key=lambda item: item.get(spec.key), stats=self.stats, memory=self.memory, label=f"cafe24 {spec.name}",
        )  # fmt: skip

    def walk(
        self,
        spec: Spec,
        base: dict[str, Any],
        a: datetime,
        b: datetime,
        dates: Callable[[datetime, datetime], dict],
    ) -> Iterator[list[dict]]:
        """Pages of one date window, halved while it holds more rows than the offset cap lets us page through."""
        params = {**base, **dates(a, b), "limit": spec.limit}
        total = None
        if spec.has_count:
            total = self.count(spec, {k: v for k, v in params.items() if k not in ("limit", "embed")})
            if total == 0:
                return
            if total > spec.offset_cap + spec.limit:
                yield from self._halves(spec, base, a, b, dates, f"{total} rows")
                return
        paginator = CappedOffsetPaginator(spec.limit, spec.offset_cap)
        if total is not None:
            paginator.maximum_value = total
        try:
            yield from self.pages(spec, params, paginator)
        except OffsetCapReached:
            yield from self._halves(spec, base, a, b, dates, "the offset cap was reached")

    def _halves(
        self, spec: Spec, base: dict, a: datetime, b: datetime, dates: Callable, why: str
    ) -> Iterator:
        if b - a <= ONE_SECOND:
            raise ExtractionError(
                f"cafe24 {spec.name}: one second [{a}] holds more rows than offset paging reaches"
            )
        mid = a + timedelta(seconds=int((b - a).total_seconds() // 2))
        log.info(
            "cafe24 %s: splitting [%s, %s) at %s (%s)",
            spec.name,
            kst_param(a),
            kst_param(b),
            kst_param(mid),
            why,
        )
        yield from self.walk(spec, base, a, mid, dates)
        yield from self.walk(spec, base, mid, b, dates)

    def walk_range(
        self, spec: Spec, base: dict, lower: datetime, upper: datetime, date_type: str | None
    ) -> Iterator:
        """Pages of ``[lower, upper)`` in windows no longer than the endpoint allows."""

        def dates(a: datetime, b: datetime) -> dict[str, Any]:
            out = {"start_date": kst_param(a), "end_date": kst_param(b - ONE_SECOND)}
            return {**out, "date_type": date_type} if date_type else out

        for a, b in windows(lower, upper, spec.window_months):
            yield from self.walk(spec, base, a, b, dates)

    # --- per resource -----------------------------------------------------------------------------------------
    def history_start(self, upper: datetime) -> datetime:
        """The shop's beginning as the API shows it: its oldest member or product, at the start of that month."""
        found = []
        for path, params in (
            (
                "customersprivacy",
                {"search_type": "created_date", "created_start_date": "2000-01-01", "limit": 1},
            ),
            ("products", {"limit": 1}),
        ):
            doc = get_json(self.client, path, params, "cafe24 history start")
            rows = doc.get(path) if isinstance(doc, dict) else None
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                # read as "no history", the whole past would be skipped for good: refuse instead
                raise MalformedResponseError(
                    f"cafe24 history start: GET {path} answered without a list of {path}"
                )
            found += [r.get("created_date") for r in rows]
        try:
            starts = [as_kst(str(v)) for v in found if v]
        except ValueError as exc:
            raise MalformedResponseError(
                f"cafe24 history start: a created_date does not parse ({exc})"
            ) from exc
        if not starts:
            return upper
        first = min(starts)
        return datetime(first.year, first.month, 1, tzinfo=KST)

    def customer_pages(self, lower: datetime, upper: datetime) -> Iterator[list[dict]]:
        spec = self.specs["customers"]
        if self.mode == "extension":
            yield from self.walk_range(spec, {}, lower, upper, "updated_date")
            return
        params = {"search_type": "created_date", "created_start_date": "2000-01-01", "limit": spec.limit}
        yield from self.pages(spec, params, KeysetPaginator("created_start_date", "created_date", spec.limit,
                                                            inclusive=True))  # fmt: skip

    def product_pages(self, lower: datetime, upper: datetime) -> Iterator[list[dict]]:
        spec = self.specs["products"]
        params = {
            "updated_start_date": kst_param(lower),
            "updated_end_date": kst_param(upper - ONE_SECOND),
            "limit": spec.limit,
        }
        yield from self.pages(spec, params, KeysetPaginator("since_product_no", "product_no", spec.limit))

    def order_pages(self, lower: datetime, upper: datetime, full: bool) -> Iterator[list[dict]]:
        spec = self.specs["orders"]
        if self.mode == "extension":
            date_types: tuple[str, ...] = ("updated_date",)
        else:
            date_types = ("order_date",) if full else LIFECYCLE_DATE_TYPES
        for date_type in date_types:
            yield from self.walk_range(spec, {"embed": "items"}, lower, upper, date_type)

    def dated_pages(self, name: str, lower: datetime, upper: datetime, scan_from: datetime) -> Iterator:
        """Reviews and subscriptions: changed ones (extension) or a full created-date scan (standard)."""
        spec = self.specs[name]
        if self.mode == "extension":
            yield from self.walk_range(spec, {}, lower, upper, "updated_date")
        else:
            yield from self.walk_range(
                spec, {}, scan_from, upper, "created_date" if name == "subscriptions" else None
            )


def split_order(order: dict) -> tuple[dict, list[dict]]:
    """An order row in contract shape and its items (Cafe24 nests amounts in ``actual_order_amount``)."""
    row = {k: v for k, v in order.items() if k != "items"}
    amounts = order.get("actual_order_amount") or {}
    for column in ("order_price_amount", "shipping_fee", "coupon_discount_price", "payment_amount"):
        if row.get(column) is None and column in amounts:
            row[column] = amounts[column]
    items = [dict(i) for i in order.get("items") or []]
    if row.get("order_status") is None and items:
        row["order_status"] = items[0].get("order_status")
    for item in items:
        item.setdefault("order_id", order.get("order_id"))
        item["updated_date"] = order.get("updated_date")
    return row, items


# nested fields the mapping walks, and the JSON shape they must have (anything else quarantines the order)
ORDER_SHAPE = {"items": "objects", "actual_order_amount": "object"}


def batch_tables(loader: PageLoader, name: str, batch: list[Any]) -> Iterator[Any]:
    """What one batch of API items of resource ``name`` becomes: contract-typed Arrow tables (``orders`` also
    yields its ``order_items``); items that do not fit are in ``loader``'s quarantine, with the reason."""
    if name == "orders":
        yield from _order_tables(loader, batch)
        return
    table = SPECS[name].table
    good = loader.to_arrow(table, loader.fresh(table, loader.objects(table, batch)))
    if good is not None:
        yield good


def _order_tables(loader: PageLoader, page: list[Any]) -> Iterator[Any]:
    orders, items = [], []
    for order in loader.fresh(CAFE24_ORDERS, loader.objects(CAFE24_ORDERS, page, ORDER_SHAPE)):
        row, its = split_order(order)
        orders.append(row)
        items.extend(its)
    good = loader.to_arrow(CAFE24_ORDERS, orders)
    ok_ids = set(good.column("order_id").to_pylist()) if good is not None else set()
    orphans = [i for i in items if as_text(i.get("order_id")) not in ok_ids]
    if orphans:
        loader.reject(
            ORDER_ITEMS,
            pa.table({
                "record_key": [str(i.get("order_item_code")) for i in orphans],
                "reason": [f"order {i.get('order_id')} was quarantined" for i in orphans],
                "payload": [payload_json(i) for i in orphans],
            }),
        )  # fmt: skip
    good_items = loader.to_arrow(
        ORDER_ITEMS, loader.fresh(ORDER_ITEMS, [i for i in items if as_text(i.get("order_id")) in ok_ids])
    )
    if good is not None:
        yield good
    if good_items is not None:
        yield dlt.mark.with_table_name(good_items, ORDER_ITEMS.name)


@dlt.source(name=SOURCE, max_table_nesting=0)
def cafe24_source(
    api: Cafe24Api,
    spans: dict[str, tuple[datetime, datetime]],
    scan_from: datetime,
    fresh: frozenset[str],
    loader: PageLoader,
) -> list[Any]:
    """The dlt source: one resource per raw table, each bounded by its ``[lower, upper)`` span; ``fresh`` ones
    are read from the start of the history (orders then by ``order_date``, not by lifecycle events)."""

    def done(upper: datetime) -> None:
        mark_covered(upper)
        if fresh:
            dlt.current.source_state()["history_start"] = scan_from.isoformat()

    def simple(name: str, pages: Callable[[], Iterator[list[dict]]], upper: datetime) -> Callable:
        def records() -> Iterator[Any]:
            for batch in batched(api.read_ahead.pages(pages())):
                yield from batch_tables(loader, name, batch)
            done(upper)

        return records

    def orders(lower: datetime, upper: datetime) -> Callable:
        def records() -> Iterator[Any]:
            for batch in batched(api.read_ahead.pages(api.order_pages(lower, upper, "orders" in fresh))):
                yield from batch_tables(loader, "orders", batch)
            done(upper)

        return records

    makers = {
        "customers": lambda lo, hi: simple("customers", lambda: api.customer_pages(lo, hi), hi),
        "products": lambda lo, hi: simple("products", lambda: api.product_pages(lo, hi), hi),
        "orders": orders,
        "reviews": lambda lo, hi: simple(
            "reviews", lambda: api.dated_pages("reviews", lo, hi, scan_from), hi
        ),
        "subscriptions": lambda lo, hi: simple(
            "subscriptions", lambda: api.dated_pages("subscriptions", lo, hi, scan_from), hi
        ),
    }
    resources = []
    for name, (lower, upper) in spans.items():
        table = SPECS[name].table
        res = dlt.resource(makers[name](lower, upper), name=name, **apply_contract(table))
        res.apply_hints(incremental=incremental(table.cursor or "updated_date", lower, upper))
        if name == "orders":
            res.apply_hints(create_table_variant=True, **apply_contract(ORDER_ITEMS))
        resources.append(res)
    return resources


def extract(
    start: datetime,
    end: datetime,
    *,
    full_from: datetime | str | None,
    destination: Any = None,
    pipelines_dir: Any = None,
    conn_id: str | None = None,
    resources: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Runs one extraction (see :func:`include.extract.storefront.extract_storefront`)."""
    started = time.monotonic()
    conn = connections.get_connection(conn_id or connections.CAFE24)
    folder = Path(pipelines_dir) if pipelines_dir else get_settings().dlt
    api = Cafe24Api(conn, folder / "secrets")
    pipeline = make_pipeline(SOURCE, destination, SCHEMA, pipelines_dir=folder)
    pipeline.sync_destination()
    source_state = pipeline.state.get("sources", {}).get(SOURCE, {})
    names = resources or RESOURCES
    spans = {
        n: None if full_from is not None else resource_window(pipeline, SOURCE, n, start, end) for n in names
    }
    fresh = {n for n, span in spans.items() if span is None}  # never loaded: read their whole history
    history: datetime | None = full_from if isinstance(full_from, datetime) else None
    if history is None and (fresh or api.mode == "standard"):  # standard mode re-scans some tables from it
        known = conn.extra.get("history_start") or source_state.get("history_start")
        history = as_kst(known) if known else api.history_start(end)
    scan_from = history or end
    spans = {n: span or (scan_from, end) for n, span in spans.items()}
    loader = PageLoader("cafe24_api")
    source = cafe24_source(api, spans, scan_from, frozenset(fresh), loader)
    try:
        summary = run_and_summarise(
            pipeline, source, loader, [t for t in TABLES if t.name in (*names, "order_items")], stats=api.stats,
            windows=spans, started=started,
        )  # fmt: skip
    finally:
        api.close()
    summary.update(mode=api.mode, full_history=sorted(fresh), scan_from=scan_from.isoformat())
    return summary
