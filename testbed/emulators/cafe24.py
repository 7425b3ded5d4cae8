"""Cafe24 Admin API emulator: OAuth 2.0 tokens, the list/count endpoints the pipeline reads, limits and errors.

Serves the generated shop (:mod:`testbed.shop`) as of the simulated clock through

- ``POST /api/v2/oauth/token`` (Basic ``client_id:client_secret``; ``grant_type=authorization_code|refresh_token``;
  a refresh token is single use and rotated), ``GET /api/v2/oauth/authorize`` (auto-approves, redirects with a code);
- ``GET /api/v2/admin/customersprivacy`` (+ ``/count``), ``/products`` (+ ``/count``), ``/orders?embed=items``
  (+ ``/count``), ``/boards/{board_no}/articles`` (board 4 = product reviews), ``/subscription/shipments``;

with the documented limits: ``limit``/``offset`` caps per endpoint, ``start_date``+``end_date`` required on orders
(≤ 3 months) and subscriptions, ≤ 1 year on board articles, ``search_type=created_date`` keyset export of members,
``since_product_no`` keyset on products, KST timestamps, a leaky bucket of 40 calls per mall draining 2/s
(``X-Api-Call-Limit: n/40``, ``X-Cafe24-Call-Usage``/``-Remain``; 429 when full) and error bodies
``{"error": {"code", "message", "more_info"}}``: 400 for a broken rule (no date window, a window or offset over the
limit, limit out of range), 422 for a value that does not parse, 401 bad/expired token, 403 missing scope, 404
unknown board, 429 call limit, 503 no shop data (500/502/503/504 also come from fault injection).

Emulator extension (not in the real API, see docs/extraction.md): ``date_type=updated_date`` on customersprivacy,
orders, board articles and subscription shipments filters on the record's last change, so an increment can ask
for changed records only. Everything else is the real interface.

Options (``ctx.options``): ``cafe24_mall_id``, ``cafe24_token_ttl_s`` (7200, simulated seconds),
``cafe24_refresh_ttl_s`` (14 days), ``cafe24_token_max_calls`` (expire an access token after n calls),
``cafe24_scopes`` (the scopes tokens get; an endpoint outside them answers 403),
``cafe24_bucket_capacity`` (40), ``cafe24_bucket_drain_per_s`` (2.0), ``cafe24_offset_caps`` /
``cafe24_page_limits`` (``{"orders": 200, ...}``, also handed to clients through the connection extra),
``cafe24_increments`` (what the connection extra advertises: ``extension`` | ``standard``),
``cafe24_corrupt`` (``{"orders": ["<order_id>", ...]}``: serve those records with unparsable values).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from testbed.emulators.context import EmulatorContext
from testbed.emulators.faults import install_common
from testbed.emulators.storefront_data import (
    KST,
    LeakyBucket,
    ShopSnapshot,
    ShopUnavailable,
    add_months,
    parse_api_time,
)

API = "cafe24"
ADMIN = "/api/v2/admin"
REVIEW_BOARD = 4
BOARDS = range(1, 9)
SCOPES = [
    "mall.read_customer",
    "mall.read_privacy",
    "mall.read_product",
    "mall.read_order",
    "mall.read_community",
]
ROUTE_SCOPES = {
    "customersprivacy": "mall.read_privacy",
    "products": "mall.read_product",
    "orders": "mall.read_order",
    "shipments": "mall.read_order",
    "articles": "mall.read_community",
}


_SERVICES: dict[int, Cafe24Service] = {}


class Cafe24Error(Exception):
    """An API error answered as ``{"error": {"code", "message", "more_info"}}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Cafe24's error shape (also used for injected faults)."""
    return {
        "error": {"code": status, "message": message or f"injected fault: HTTP {status}", "more_info": {}}
    }


@dataclass(frozen=True)
class Listing:
    """One list endpoint: its snapshot table, key, limits and searchable date columns."""

    table: str
    key: str
    data_key: str
    max_limit: int
    default_limit: int
    offset_cap: int
    date_types: dict[str, str]
    default_date_type: str | None
    dates_required: bool = False
    max_window_months: int | None = None
    order: str = ""
    extension: frozenset[str] = field(default_factory=frozenset)


LISTINGS: dict[str, Listing] = {
    "customersprivacy": Listing(
        "customers", "member_id", "customersprivacy", 1000, 30, 8000,
        {"join": "created_date", "login": "last_login_date", "updated_date": "updated_date"}, "join",
        extension=frozenset({"updated_date"}),
    ),
    "products": Listing("products", "product_no", "products", 100, 10, 5000, {}, None, order="product_no"),
    "orders": Listing(
        "orders", "order_id", "orders", 1000, 10, 15000,
        {
            "order_date": "order_date", "pay_date": "payment_date", "shipbegin_date": "shipbegin_date",
            "shipend_date": "shipend_date", "cancel_date": "cancel_date", "cancel_complete_date": "cancel_date",
            "return_complete_date": "refund_date", "purchaseconfirmation_date": "purchaseconfirmation_date",
            "updated_date": "updated_date",
        },
        "order_date", dates_required=True, max_window_months=3, extension=frozenset({"updated_date"}),
    ),
    "articles": Listing(
        "reviews", "article_no", "articles", 100, 10, 8000,
        {"created_date": "created_date", "updated_date": "updated_date"}, "created_date",
        max_window_months=12, extension=frozenset({"updated_date"}),
    ),
    "shipments": Listing(
        "subscriptions", "subscription_id", "shipments", 100, 20, 5000,
        {
            "created_date": "created_date",
            "terminated_date": "CASE WHEN subscription_state <> 'active' THEN updated_date END",
            "updated_date": "updated_date",
        },
        "created_date", dates_required=True, extension=frozenset({"updated_date"}),
    ),
}  # fmt: skip

_CORRUPT_FIELDS = {
    "customers": {"created_date": "2026-13-45 25:61:00"},
    "products": {"price": "가격문의"},
    "orders": {"payment_amount": "12,000원", "order_date": "not a date"},
    "reviews": {"rating": "five"},
    "subscriptions": {"total_delivery_count": "twelve"},
}


def _opt(ctx: EmulatorContext, key: str, default: Any) -> Any:
    value = ctx.options.get(f"cafe24_{key}")
    return default if value is None else value


def connection_extra(ctx: EmulatorContext) -> dict[str, Any]:
    """Extra of the ``crm_cafe24`` connection: mall id, the initial refresh token and this emulator's settings."""
    svc = _SERVICES[id(ctx)]
    extra: dict[str, Any] = {
        "mall_id": svc.mall_id,
        "refresh_token": svc.initial_refresh_token,
        "api_version": "2025-12-01",
        "increments": _opt(ctx, "increments", "extension"),
        "rate_limit": {"capacity": svc.bucket.capacity, "drain_per_s": svc.bucket.drain_per_s},
    }
    for key in ("offset_caps", "page_limits"):
        if ctx.options.get(f"cafe24_{key}"):
            extra[key] = dict(ctx.options[f"cafe24_{key}"])
    return extra


@dataclass
class _Token:
    expires_at: datetime
    calls: int = 0
    revoked: bool = False
    scopes: tuple[str, ...] = ()


class Cafe24Service:
    """OAuth state, the rate bucket and query building behind the routes."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.mall_id = str(_opt(ctx, "mall_id", "crmdemo"))
        self.snapshot = ShopSnapshot(ctx.shop_dir, ctx.clock.now)
        self.bucket = LeakyBucket(
            int(_opt(ctx, "bucket_capacity", 40)), float(_opt(ctx, "bucket_drain_per_s", 2.0))
        )
        self._lock = threading.Lock()
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._codes: dict[str, datetime] = {}
        self.initial_refresh_token = self._new_refresh()

    # --- OAuth ------------------------------------------------------------------------------------------------
    def _new_refresh(self) -> str:
        token = secrets.token_urlsafe(16)
        ttl = float(_opt(self.ctx, "refresh_ttl_s", 14 * 86400))
        self._refresh[token] = _Token(self.ctx.clock.now() + timedelta(seconds=ttl))
        return token

    def issue(self) -> dict[str, Any]:
        """A new access + refresh token pair (caller holds the lock)."""
        now = self.ctx.clock.now()
        access = secrets.token_urlsafe(16)
        ttl = float(_opt(self.ctx, "token_ttl_s", 7200))
        scopes = tuple(_opt(self.ctx, "scopes", SCOPES))
        self._access[access] = _Token(now + timedelta(seconds=ttl), scopes=scopes)
        refresh = self._new_refresh()
        self.ctx.stats.incr("cafe24.oauth.issued")
        return {
            "access_token": access,
            "expires_at": _oauth_time(self._access[access].expires_at),
            "refresh_token": refresh,
            "refresh_token_expires_at": _oauth_time(self._refresh[refresh].expires_at),
            "client_id": self.ctx.credentials[API]["key"],
            "mall_id": self.mall_id,
            "user_id": self.mall_id,
            "scopes": list(self._access[access].scopes),
            "issued_at": _oauth_time(now),
            "shop_no": "1",
            "token_type": "Bearer",
        }

    def token(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        creds = self.ctx.credentials[API]
        expected = "Basic " + base64.b64encode(f"{creds['key']}:{creds['secret']}".encode()).decode()
        if not authorization or not hmac.compare_digest(authorization.strip(), expected):
            raise _OAuthError(401, "invalid_client", "client authentication failed")
        grant = form.get("grant_type")
        now = self.ctx.clock.now()
        with self._lock:
            if grant == "refresh_token":
                tok = self._refresh.get(form.get("refresh_token", ""))
                if tok is None or tok.revoked or tok.expires_at <= now:
                    raise _OAuthError(
                        400, "invalid_grant", "refresh_token is invalid, expired or already used"
                    )
                tok.revoked = True  # single use: the answer carries the next one
                self.ctx.stats.incr("cafe24.oauth.refreshed")
                return self.issue()
            if grant == "authorization_code":
                issued = self._codes.pop(form.get("code", ""), None)
                if issued is None or now - issued > timedelta(minutes=1):
                    raise _OAuthError(400, "invalid_grant", "authorization code is invalid or expired")
                return self.issue()
        raise _OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def new_code(self) -> str:
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = self.ctx.clock.now()
        return code

    def expire_tokens(self) -> int:
        with self._lock:
            for tok in self._access.values():
                tok.revoked = True
            return len(self._access)

    def authenticate(self, authorization: str | None, scope: str | None = None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Cafe24Error(401, "Access token is missing. (invalid_token)")
        max_calls = _opt(self.ctx, "token_max_calls", None)
        with self._lock:
            tok = self._access.get(token.strip())
            if tok is None:
                raise Cafe24Error(401, "Invalid access_token. (invalid_token)")
            tok.calls += 1
            if (
                tok.revoked
                or tok.expires_at <= self.ctx.clock.now()
                or (max_calls and tok.calls > int(max_calls))
            ):
                self.ctx.stats.incr("cafe24.oauth.expired_rejections")
                raise Cafe24Error(401, "access_token time expired. (invalid_token)")
            if scope and scope not in tok.scopes:
                raise Cafe24Error(403, f"Access token does not include the required scope ({scope})")

    # --- limits -----------------------------------------------------------------------------------------------
    def call(self, response: Response) -> None:
        ok, level, wait = self.bucket.take()
        cap = self.bucket.capacity
        headers = {
            "X-Api-Call-Limit": f"{level}/{cap}",
            "X-Cafe24-Call-Usage": str(level),
            "X-Cafe24-Call-Remain": str(max(0, cap - level)),
        }
        if not ok:
            self.ctx.stats.incr("cafe24.rate_limited")
            headers["Retry-After"] = str(max(1, round(wait + 0.5)))
            raise Cafe24Error(429, "Too Many Requests: the call limit of the mall is exceeded", headers)
        response.headers.update(headers)

    def offset_cap(self, name: str) -> int:
        caps = self.ctx.options.get("cafe24_offset_caps") or {}
        return int(caps.get(LISTINGS[name].table, caps.get(name, LISTINGS[name].offset_cap)))


class _OAuthError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _oauth_time(value: datetime) -> str:
    return value.astimezone(KST).strftime("%Y-%m-%dT%H:%M:%S.000")


def _int(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Cafe24Error(422, f"{name} must be an integer, got {raw!r}") from exc
    if not lo <= value <= hi:
        raise Cafe24Error(400, f"{name} must be between {lo} and {hi} (got {value})")
    return value


def _time(params: dict[str, str], name: str, *, end: bool = False) -> datetime:
    try:
        return parse_api_time(params[name], end=end)
    except (ValueError, TypeError) as exc:
        raise Cafe24Error(422, f"{name} is not a valid date: {params[name]!r}") from exc


def build_filter(
    name: str, params: dict[str, str], *, counting: bool, cap: int
) -> tuple[str, dict, str, int, int]:
    """WHERE clause, parameters, ORDER BY, limit and offset for a list or count request (400 on bad input)."""
    spec = LISTINGS[name]
    where, args = ["TRUE"], {}
    date_expr = None
    if params.get("search_type") == "created_date" and name == "customersprivacy":
        if params.get("created_start_date"):
            where.append("created_date >= $created_start")
            args["created_start"] = _time(params, "created_start_date")
        if _int(params, "offset", 0, 0, 10**9):
            raise Cafe24Error(400, "offset cannot be used with search_type=created_date")
        date_expr = "created_date"
    elif spec.date_types:
        date_type = params.get("date_type") or spec.default_date_type
        if date_type not in spec.date_types:
            raise Cafe24Error(400, f"date_type {date_type!r} is not supported on {name}")
        has_start, has_end = bool(params.get("start_date")), bool(params.get("end_date"))
        if spec.dates_required and not (has_start and has_end):
            raise Cafe24Error(400, "start_date and end_date are required")
        if has_start != has_end:
            raise Cafe24Error(400, "start_date and end_date must be used together")
        date_expr = spec.date_types[date_type]
        if has_start:
            start, end = _time(params, "start_date"), _time(params, "end_date", end=True)
            if end < start:
                raise Cafe24Error(400, "end_date is before start_date")
            if spec.max_window_months and end > add_months(start, spec.max_window_months):
                raise Cafe24Error(400, f"the search period may not exceed {spec.max_window_months} months")
            where.append(f"({date_expr}) BETWEEN $start AND $end")
            args.update(start=start, end=end)
    for prefix in ("created", "updated") if name == "products" else ():
        for bound, op, is_end in (("start", ">=", False), ("end", "<=", True)):
            key = f"{prefix}_{bound}_date"
            if params.get(key):
                where.append(f"{prefix}_date {op} ${key}")
                args[key] = _time(params, key, end=is_end)
    if name == "products" and params.get("since_product_no"):
        where.append("product_no > $since")
        args["since"] = _int(params, "since_product_no", 0, 0, 2**31)
    for column in ("member_id", "order_status", "product_no", "subscription_state"):
        if params.get(column) and column in _COLUMNS[spec.table]:
            values = [v.strip() for v in params[column].split(",") if v.strip()]
            where.append(
                f"CAST({column} AS VARCHAR) IN ({', '.join(f'$f_{column}_{i}' for i in range(len(values)))})"
            )
            args.update({f"f_{column}_{i}": v for i, v in enumerate(values)})
    order = spec.order or (f"({date_expr}), {spec.key}" if date_expr else spec.key)
    if counting:
        return " AND ".join(where), args, order, 0, 0
    limit = _int(params, "limit", spec.default_limit, 1, spec.max_limit)
    offset = _int(params, "offset", 0, 0, cap)
    return " AND ".join(where), args, order, limit, offset


_COLUMNS = {
    "customers": {"member_id"},
    "products": {"product_no"},
    "orders": {"member_id", "order_status"},
    "reviews": {"member_id", "product_no"},
    "subscriptions": {"member_id", "product_no", "subscription_state"},
}


def _corrupt(ctx: EmulatorContext, table: str, key: str, rows: list[dict]) -> None:
    bad = {str(k) for k in (ctx.options.get("cafe24_corrupt") or {}).get(table, [])}
    for row in rows:
        if str(row[key]) in bad:
            row.update(_CORRUPT_FIELDS[table])


def _shape_order(row: dict) -> dict:
    """Adds the parts of Cafe24's order shape the flat contract columns leave out."""
    row["shop_no"] = 1
    row["paid"] = "T" if row.get("payment_date") else "F"
    row["actual_order_amount"] = {
        k: row.get(k)
        for k in ("order_price_amount", "shipping_fee", "coupon_discount_price", "payment_amount")
    }
    return row


def create_app(ctx: EmulatorContext) -> FastAPI:
    """The Cafe24 Admin API emulator app."""
    app = FastAPI(title="Cafe24 Admin API emulator")
    svc = Cafe24Service(ctx)
    _SERVICES[id(ctx)] = svc  # read by connection_extra
    app.state.service = svc
    app.state.on_stop = [svc.snapshot.close, lambda: _SERVICES.pop(id(ctx), None)]
    install_common(
        app,
        ctx,
        API,
        paging_paths=tuple(
            f"{ADMIN}/{p}"
            for p in (
                "customersprivacy",
                "products",
                "orders",
                "boards/{board_no}/articles",
                "subscription/shipments",
            )
        ),
        error_body=error_body,
    )

    @app.exception_handler(Cafe24Error)
    async def _cafe24_error(request: Request, exc: Cafe24Error) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(_OAuthError)
    async def _oauth_error(request: Request, exc: _OAuthError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "error_description": exc.description}, status_code=exc.status)

    @app.exception_handler(ShopUnavailable)
    async def _no_shop(request: Request, exc: ShopUnavailable) -> JSONResponse:
        return JSONResponse(error_body(503, f"shop data unavailable: {exc}"), status_code=503)

    def guard(request: Request, response: Response) -> None:
        route = getattr(request.scope.get("route"), "name", "") or ""
        svc.authenticate(request.headers.get("authorization"), ROUTE_SCOPES.get(route.removesuffix("_count")))
        svc.call(response)

    authed = [Depends(guard)]

    @app.post("/api/v2/oauth/token", name="oauth_token")
    async def oauth_token(request: Request) -> dict:
        form = {k: str(v) for k, v in (await request.form()).items()}
        return svc.token(request.headers.get("authorization"), form)

    @app.get("/api/v2/oauth/authorize", name="oauth_authorize")
    def oauth_authorize(request: Request) -> RedirectResponse:
        params = dict(request.query_params)
        if params.get("client_id") != ctx.credentials[API]["key"] or not params.get("redirect_uri"):
            raise Cafe24Error(400, "client_id or redirect_uri is invalid")
        query = urlencode({"code": svc.new_code(), "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    @app.post("/_emulator/cafe24/expire_tokens", name="admin_expire_tokens")
    def expire_tokens() -> dict:
        return {"expired": svc.expire_tokens()}

    def listing(name: str, params: dict[str, str]) -> dict:
        spec = LISTINGS[name]
        where, args, order, limit, offset = build_filter(
            name, params, counting=False, cap=svc.offset_cap(name)
        )
        rows = svc.snapshot.query(
            f"SELECT * FROM snap_{spec.table} WHERE {where} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            args,
            tables=(spec.table,),
        )
        _corrupt(ctx, spec.table, spec.key, rows)
        ctx.stats.incr(f"cafe24.records.{spec.table}", len(rows))
        if name == "orders":
            embed = {e.strip() for e in params.get("embed", "").split(",")}
            if "items" in embed and rows:
                ids = {r["order_id"] for r in rows}
                items = svc.snapshot.query(
                    "SELECT * FROM snap_order_items WHERE list_contains($ids, order_id) ORDER BY order_item_code",
                    {"ids": sorted(ids)},
                    tables=("order_items",),
                )
                by_order: dict[str, list] = {}
                for item in items:
                    by_order.setdefault(item["order_id"], []).append(item)
                for row in rows:
                    row["items"] = by_order.get(row["order_id"], [])
                ctx.stats.incr("cafe24.records.order_items", len(items))
            rows = [_shape_order(r) for r in rows]
        return {spec.data_key: rows}

    def count(name: str, params: dict[str, str]) -> dict:
        spec = LISTINGS[name]
        where, args, _, _, _ = build_filter(name, params, counting=True, cap=svc.offset_cap(name))
        n = svc.snapshot.scalar(
            f"SELECT count(*) FROM snap_{spec.table} WHERE {where}", args, tables=(spec.table,)
        )
        return {"count": int(n or 0)}

    @app.get(f"{ADMIN}/customersprivacy", name="customersprivacy", dependencies=authed)
    def customers(request: Request) -> dict:
        return listing("customersprivacy", dict(request.query_params))

    @app.get(f"{ADMIN}/customersprivacy/count", name="customersprivacy_count", dependencies=authed)
    def customers_count(request: Request) -> dict:
        return count("customersprivacy", dict(request.query_params))

    @app.get(f"{ADMIN}/products", name="products", dependencies=authed)
    def products(request: Request) -> dict:
        return listing("products", dict(request.query_params))

    @app.get(f"{ADMIN}/products/count", name="products_count", dependencies=authed)
    def products_count(request: Request) -> dict:
        return count("products", dict(request.query_params))

    @app.get(f"{ADMIN}/orders", name="orders", dependencies=authed)
    def orders(request: Request) -> dict:
        return listing("orders", dict(request.query_params))

    @app.get(f"{ADMIN}/orders/count", name="orders_count", dependencies=authed)
    def orders_count(request: Request) -> dict:
        return count("orders", dict(request.query_params))

    @app.get(f"{ADMIN}/boards/{{board_no}}/articles", name="articles", dependencies=authed)
    def articles(board_no: int, request: Request) -> dict:
        if board_no not in BOARDS:
            raise Cafe24Error(404, f"board {board_no} does not exist")
        if board_no != REVIEW_BOARD:
            return {"articles": []}
        return listing("articles", dict(request.query_params))

    @app.get(f"{ADMIN}/subscription/shipments", name="shipments", dependencies=authed)
    def shipments(request: Request) -> dict:
        return listing("shipments", dict(request.query_params))

    return app
