"""Shopify Admin REST emulator: the same generated shop in Shopify's shapes, with cursor pagination and call limits.

``GET /admin/api/{version}/customers.json``, ``products.json``, ``orders.json`` (and ``…/count.json``) with
``X-Shopify-Access-Token`` auth, the filters an extractor uses (``updated_at_min``/``updated_at_max``,
``created_at_min``/``created_at_max``, ``since_id``, ``ids``, ``status`` on orders — default ``open``, ``any``
for all — and ``fields``), ``limit`` ≤ 250 (default 50), and cursor pagination: a ``Link`` header
``<…?limit=N&page_info=X>; rel="next"`` (and ``rel="previous"``), none on the last page; a request carrying
``page_info`` may add only ``limit`` and ``fields`` (anything else is a 400). Call limit: a leaky bucket of 40
draining 2/s, ``X-Shopify-Shop-Api-Call-Limit: n/40``, 429 with ``Retry-After: 2.0``.

Options: ``shopify_bucket_capacity``, ``shopify_bucket_drain_per_s``, ``shopify_page_limits`` (client page sizes,
handed over in the connection extra). The mapping from the shop's records to Shopify objects is in
:mod:`testbed.emulators.storefront_shopify`.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from testbed.emulators.context import EmulatorContext
from testbed.emulators.faults import install_common
from testbed.emulators.storefront_data import LeakyBucket, ShopSnapshot, ShopUnavailable, parse_api_time
from testbed.emulators.storefront_shopify import ITEMS_SQL, RESOURCES, shape

API = "shopify"
VERSION_RE = re.compile(r"^20\d\d-(01|04|07|10)$")
PAGE_INFO_ALLOWED = {"page_info", "limit", "fields"}
_SERVICES: dict[int, ShopifyService] = {}


class ShopifyError(Exception):
    """An API error answered as ``{"errors": ...}``."""

    def __init__(self, status: int, errors: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(errors))
        self.status, self.errors, self.headers = status, errors, headers or {}


def error_body(status: int) -> dict[str, Any]:
    """Shopify's error shape (also for injected faults)."""
    return {"errors": f"injected fault: HTTP {status}"}


def connection_extra(ctx: EmulatorContext) -> dict[str, Any]:
    """Extra of the ``crm_shopify`` connection: shop domain, API version and this emulator's call limit."""
    svc = _SERVICES[id(ctx)]
    extra: dict[str, Any] = {
        "shop": "crmdemo.myshopify.com",
        "api_version": "2025-10",
        "rate_limit": {"capacity": svc.bucket.capacity, "drain_per_s": svc.bucket.drain_per_s},
    }
    if ctx.options.get("shopify_page_limits"):
        extra["page_limits"] = dict(ctx.options["shopify_page_limits"])
    return extra


class ShopifyService:
    """Auth, call limit and the queries behind the routes."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.snapshot = ShopSnapshot(ctx.shop_dir, ctx.clock.now)
        self.bucket = LeakyBucket(
            int(ctx.options.get("shopify_bucket_capacity") or 40),
            float(ctx.options.get("shopify_bucket_drain_per_s") or 2.0),
        )

    def guard(self, request: Request, response: Response) -> None:
        token = request.headers.get("x-shopify-access-token") or ""
        if not hmac.compare_digest(token, self.ctx.credentials[API]["secret"]):
            raise ShopifyError(
                401, "[API] Invalid API key or access token (unrecognized login or wrong password)"
            )
        version = request.path_params.get("version", "")
        if not VERSION_RE.match(version):
            raise ShopifyError(404, "Not Found")
        ok, level, _ = self.bucket.take()
        header = {"X-Shopify-Shop-Api-Call-Limit": f"{level}/{self.bucket.capacity}"}
        if not ok:
            self.ctx.stats.incr("shopify.rate_limited")
            raise ShopifyError(
                429, "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
                {**header, "Retry-After": "2.0"},
            )  # fmt: skip
        response.headers.update(header)

    def where(self, resource: str, filters: dict[str, str]) -> tuple[str, dict]:
        spec = RESOURCES[resource]
        clauses, args = ["TRUE"], {}
        for param, column, op in (
            ("updated_at_min", spec.updated, ">="), ("updated_at_max", spec.updated, "<="),
            ("created_at_min", spec.created, ">="), ("created_at_max", spec.created, "<="),
        ):  # fmt: skip
            if filters.get(param):
                try:
                    args[param] = parse_api_time(filters[param])
                except ValueError as exc:
                    raise ShopifyError(400, {param: [f"invalid date {filters[param]!r}"]}) from exc
                clauses.append(f"{column} {op} ${param}")
        if filters.get("since_id"):
            clauses.append("sid > $since_id")
            args["since_id"] = _int(filters, "since_id", 0, 0, 2**62)
        if filters.get("ids"):
            ids = [int(i) for i in filters["ids"].split(",") if i.strip().isdigit()]
            clauses.append("list_contains($ids, sid)")
            args["ids"] = ids
        if resource == "orders":
            status = filters.get("status") or "open"
            cond = {"open": "cancel_date IS NULL AND closed IS NULL", "closed": "closed IS NOT NULL",
                    "cancelled": "cancel_date IS NOT NULL", "any": "TRUE"}.get(status)  # fmt: skip
            if cond is None:
                raise ShopifyError(400, {"status": [f"invalid value {status!r}"]})
            clauses.append(f"({cond})")
        return " AND ".join(clauses), args

    def rows(self, resource: str, where: str, args: dict, order: str, limit: int) -> list[dict]:
        spec = RESOURCES[resource]
        return self.snapshot.query(
            f"SELECT * FROM ({spec.select}) WHERE {where} ORDER BY sid {order} LIMIT {limit}",
            args,
            tables=spec.tables,
        )


def _int(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ShopifyError(400, {name: ["must be an integer"]}) from exc
    if not lo <= value <= hi:
        raise ShopifyError(400, {name: [f"must be between {lo} and {hi}"]})
    return value


def _encode(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str) -> dict:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(doc, dict) or "f" not in doc:
            raise ValueError
        return doc
    except ValueError as exc:
        raise ShopifyError(400, {"page_info": ["Invalid value."]}) from exc


def create_app(ctx: EmulatorContext) -> FastAPI:
    """The Shopify Admin REST emulator app."""
    app = FastAPI(title="Shopify Admin REST emulator")
    svc = ShopifyService(ctx)
    _SERVICES[id(ctx)] = svc
    app.state.service = svc
    app.state.on_stop = [svc.snapshot.close, lambda: _SERVICES.pop(id(ctx), None)]
    install_common(
        app,
        ctx,
        API,
        paging_paths=tuple(f"/admin/api/{{version}}/{r}.json" for r in RESOURCES),
        error_body=error_body,
    )

    @app.exception_handler(ShopifyError)
    async def _shopify_error(request: Request, exc: ShopifyError) -> JSONResponse:
        return JSONResponse({"errors": exc.errors}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ShopUnavailable)
    async def _no_shop(request: Request, exc: ShopUnavailable) -> JSONResponse:
        return JSONResponse({"errors": f"shop data unavailable: {exc}"}, status_code=503)

    authed = [Depends(svc.guard)]

    def listing(resource: str, request: Request, response: Response) -> dict:
        params = dict(request.query_params)
        limit = _int(params, "limit", 50, 1, 250)
        if "page_info" in params:
            extra = set(params) - PAGE_INFO_ALLOWED
            if extra:
                raise ShopifyError(
                    400, {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}"]}
                )
            cursor = _decode(params["page_info"])
            filters, direction, anchor = cursor["f"], cursor.get("d", "next"), int(cursor.get("a", 0))
        else:
            filters, direction, anchor = (
                {k: v for k, v in params.items() if k not in ("limit", "fields")},
                None,
                0,
            )
        where, args = svc.where(resource, filters)
        if direction == "next":
            where, args = f"{where} AND sid > $anchor", {**args, "anchor": anchor}
        elif direction == "prev":
            where, args = f"{where} AND sid < $anchor", {**args, "anchor": anchor}
        rows = svc.rows(resource, where, args, "DESC" if direction == "prev" else "ASC", limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        if direction == "prev":
            rows.reverse()
        base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
        has_prev = bool(rows) and (direction == "next" or (direction == "prev" and more))
        has_next = bool(rows) and (direction == "prev" or more)
        links = [
            f'<{base}?{urlencode({"limit": limit, "page_info": _encode({"f": filters, "d": d, "a": a})})}>; rel="{rel}"'
            for rel, d, a, wanted in (
                ("previous", "prev", rows[0]["sid"] if rows else 0, has_prev),
                ("next", "next", rows[-1]["sid"] if rows else 0, has_next),
            )
            if wanted
        ]
        if links:
            response.headers["Link"] = ", ".join(links)
        if resource == "orders" and rows:
            items: dict[str, list] = {}
            for item in svc.snapshot.query(
                ITEMS_SQL, {"ids": [r["order_id"] for r in rows]}, tables=("order_items",)
            ):
                items.setdefault(item["order_id"], []).append(item)
            for row in rows:
                row["line_items"] = items.get(row["order_id"], [])
        objects = [shape(resource, r) for r in rows]
        if params.get("fields"):
            keep = {f.strip() for f in params["fields"].split(",")}
            objects = [{k: v for k, v in o.items() if k in keep} for o in objects]
        ctx.stats.incr(f"shopify.records.{resource}", len(objects))
        return {resource: objects}

    def count(resource: str, request: Request) -> dict:
        where, args = svc.where(resource, dict(request.query_params))
        spec = RESOURCES[resource]
        n = svc.snapshot.scalar(
            f"SELECT count(*) FROM ({spec.select}) WHERE {where}", args, tables=spec.tables
        )
        return {"count": int(n or 0)}

    def list_route(resource: str) -> Any:
        def endpoint(request: Request, response: Response, version: str) -> dict:
            return listing(resource, request, response)

        return endpoint

    def count_route(resource: str) -> Any:
        def endpoint(request: Request, version: str) -> dict:
            return count(resource, request)

        return endpoint

    for resource in RESOURCES:
        app.add_api_route(f"/admin/api/{{version}}/{resource}/count.json", count_route(resource), methods=["GET"],
                          name=f"{resource}_count", dependencies=authed)  # fmt: skip
        app.add_api_route(f"/admin/api/{{version}}/{resource}.json", list_route(resource), methods=["GET"],
                          name=resource, dependencies=authed)  # fmt: skip

    return app
