"""Channel Talk Open API v5 emulator: users keyed by ``memberId``, tags, unsubscribe flags, events, rate limits.

Routes: ``PUT|GET|DELETE /open/v5/users/@{memberId}``, ``GET|PATCH|DELETE /open/v5/users/{userId}``,
``POST /open/v5/users/{userId}/events``; headers ``x-access-key``/``x-access-secret`` (401 otherwise); a token
bucket (``channeltalk_rate_limit`` requests/s, burst ``channeltalk_rate_burst``, default 10/10) answers 429 when
empty and sets ``x-ratelimit-limit/remaining/reset`` on every API response. Writes (PUT/PATCH/DELETE/POST) and
reads are counted apart (``channeltalk.writes``/``channeltalk.reads``), and upserts that changed nothing are
counted as ``channeltalk.users.unchanged``. ``GET /_emulator/users`` lists what is stored.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import secrets
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from testbed.emulators.context import EmulatorContext
from testbed.emulators.faults import install_common
from testbed.emulators.state import StateDB, TokenBucket

MAX_TAGS = 20
_TOP_KEYS = {"profile", "profileOnce", "tags", "unsubscribeEmail", "unsubscribeTexting"}
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    member_id TEXT UNIQUE,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    property TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
"""


class ChannelError(Exception):
    """An API error answered in Channel's ``{"type", "status", "errors": [{"message"}]}`` shape."""

    def __init__(self, status: int, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.field = status, kind, message, field

    def response(self) -> JSONResponse:
        error = {"message": self.message} | ({"field": self.field} if self.field else {})
        return JSONResponse(
            {"type": self.kind, "status": self.status, "errors": [error]}, status_code=self.status
        )


def error_body(status: int) -> dict:
    """Channel's error shape, for injected faults."""
    kinds = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}
    return {"type": kinds.get(status, "Error"), "status": status, "errors": [{"message": "injected fault"}]}


def connection_extra(ctx: EmulatorContext) -> dict:
    """Extra fields of the ``crm_channeltalk`` connection."""
    return {"rate_limit_per_s": float(ctx.options.get("channeltalk_rate_limit", 10))}


def _validate(body: Any) -> dict:
    """Checks an upsert/patch body; raises 422 with the offending field."""
    if not isinstance(body, dict):
        raise ChannelError(422, "UnprocessableEntity", "body must be a JSON object")
    unknown = sorted(set(body) - _TOP_KEYS)
    if unknown:
        raise ChannelError(422, "UnprocessableEntity", f"unknown field(s): {', '.join(unknown)}", unknown[0])
    for key in ("profile", "profileOnce"):
        profile = body.get(key)
        if profile is None:
            continue
        if not isinstance(profile, dict):
            raise ChannelError(422, "UnprocessableEntity", f"{key} must be an object", key)
        for name, value in profile.items():
            if not name or not isinstance(value, str | int | float | bool | type(None)):
                raise ChannelError(
                    422, "UnprocessableEntity", f"{key}.{name} must be a scalar value", f"{key}.{name}"
                )
        mobile = profile.get("mobileNumber")
        if mobile is not None and not (isinstance(mobile, str) and _E164.match(mobile)):
            raise ChannelError(
                422, "UnprocessableEntity", "mobileNumber must be E.164 (+8210…)", f"{key}.mobileNumber"
            )
        email = profile.get("email")
        if email is not None and not (isinstance(email, str) and "@" in email):
            raise ChannelError(422, "UnprocessableEntity", "email is not an e-mail address", f"{key}.email")
    tags = body.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise ChannelError(
                422, "UnprocessableEntity", "tags must be an array of non-empty strings", "tags"
            )
        if len(tags) > MAX_TAGS:
            raise ChannelError(422, "UnprocessableEntity", f"at most {MAX_TAGS} tags", "tags")
        if len(set(tags)) != len(tags):
            raise ChannelError(422, "UnprocessableEntity", "tags must be unique", "tags")
    for key in ("unsubscribeEmail", "unsubscribeTexting"):
        if key in body and not isinstance(body[key], bool):
            raise ChannelError(422, "UnprocessableEntity", f"{key} must be a boolean", key)
    return body


def _apply(doc: dict, body: dict) -> dict:
    """The user document after applying an upsert/patch body (profile merge, profileOnce, tags replace)."""
    new = json.loads(json.dumps(doc))
    for name, value in (body.get("profile") or {}).items():
        if value is None:
            new["profile"].pop(name, None)
        else:
            new["profile"][name] = value
    for name, value in (body.get("profileOnce") or {}).items():
        if name not in new["profile"] and value is not None:
            new["profile"][name] = value
    if "tags" in body:
        new["tags"] = list(body["tags"])
    for key in ("unsubscribeEmail", "unsubscribeTexting"):
        if key in body:
            new[key] = body[key]
    return new


def _public(row: dict, channel_id: str) -> dict:
    doc = json.loads(row["doc"])
    profile = doc["profile"]
    mobile, email = profile.get("mobileNumber"), profile.get("email")
    return {
        "id": row["user_id"],
        "channelId": channel_id,
        "memberId": row["member_id"],
        "veilId": None,
        "unifiedId": None,
        "type": "member" if row["member_id"] else "lead",
        "name": profile.get("name"),
        "mobileNumberQualified": bool(mobile and _E164.match(str(mobile))),
        "emailQualified": bool(email and "@" in str(email)),
        "profile": profile,
        "tags": doc["tags"],
        "unsubscribeEmail": doc["unsubscribeEmail"],
        "unsubscribeTexting": doc["unsubscribeTexting"],
        "hasChat": False,
        "alert": 0,
        "unread": 0,
        "version": row["version"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def create_app(ctx: EmulatorContext) -> FastAPI:
    """The Channel Talk Open API v5 emulator app."""
    app = FastAPI(title="Channel Talk Open API v5 emulator")
    db = StateDB(ctx.state_dir / "channeltalk.sqlite", _SCHEMA)
    app.state.on_stop = [db.close]
    rate = float(ctx.options.get("channeltalk_rate_limit", 10))
    bucket = TokenBucket(capacity=float(ctx.options.get("channeltalk_rate_burst", rate)), rate=rate)
    channel_id = str(ctx.options.get("channeltalk_channel_id", "100001"))
    stats = ctx.stats

    def now_ms() -> int:
        return int(ctx.clock.now().timestamp() * 1000)

    @app.exception_handler(ChannelError)
    async def _channel_error(request: Request, exc: ChannelError) -> JSONResponse:
        return exc.response()

    @app.middleware("http")
    async def auth_and_rate_limit(request: Request, call_next: Any) -> Any:
        if not request.url.path.startswith("/open/"):
            return await call_next(request)
        creds = ctx.credentials.get("channeltalk", {})
        key, secret = request.headers.get("x-access-key", ""), request.headers.get("x-access-secret", "")
        if not (
            creds
            and hmac.compare_digest(key, creds.get("key", ""))
            and hmac.compare_digest(secret, creds.get("secret", ""))
        ):
            return ChannelError(
                401, "Unauthorized", "x-access-key / x-access-secret are missing or wrong"
            ).response()
        allowed, remaining, until_full = bucket.take()
        headers = {
            "x-ratelimit-limit": str(int(bucket.capacity)),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(math.ceil(time.time() + until_full)),
        }
        if not allowed:
            stats.incr("channeltalk.rate_limited")
            response = ChannelError(429, "TooManyRequests", "rate limit exceeded").response()
            response.headers.update(headers | {"retry-after": str(max(1, math.ceil(bucket.wait_time())))})
            return response
        is_write = request.method in ("PUT", "PATCH", "DELETE", "POST")
        stats.incr("channeltalk.writes" if is_write else "channeltalk.reads")
        stats.incr(f"channeltalk.{'write' if is_write else 'read'}.{request.method}")
        response = await call_next(request)
        response.headers.update(headers)
        return response

    install_common(app, ctx, "channeltalk", error_body=error_body)

    def by_member(member_id: str) -> dict | None:
        rows = db.query("SELECT * FROM users WHERE member_id = ?", (member_id,))
        return dict(rows[0]) if rows else None

    def by_id(user_id: str) -> dict:
        rows = db.query("SELECT * FROM users WHERE user_id = ?", (user_id,))
        if not rows:
            raise ChannelError(404, "NotFound", f"user {user_id} not found")
        return dict(rows[0])

    async def body_of(request: Request) -> dict:
        try:
            return _validate(json.loads(await request.body() or b"{}"))
        except json.JSONDecodeError as exc:
            raise ChannelError(400, "BadRequest", "body is not JSON") from exc

    def save(existing: dict | None, member_id: str | None, body: dict) -> dict:
        blank = {"profile": {}, "tags": [], "unsubscribeEmail": False, "unsubscribeTexting": False}
        old = json.loads(existing["doc"]) if existing else blank
        new = _apply(old, body)
        stamp = now_ms()
        with db.tx() as conn:
            if existing is None:
                user_id = secrets.token_hex(10)
                conn.execute(
                    "INSERT INTO users VALUES (?, ?, ?, 1, ?, ?)",
                    (user_id, member_id, json.dumps(new), stamp, stamp),
                )
                stats.incr("channeltalk.users.created")
            elif new != old:
                user_id = existing["user_id"]
                conn.execute(
                    "UPDATE users SET doc = ?, version = version + 1, updated_at = ? WHERE user_id = ?",
                    (json.dumps(new), stamp, user_id),
                )
                stats.incr("channeltalk.users.changed")
            else:
                user_id = existing["user_id"]
                stats.incr("channeltalk.users.unchanged")
        return by_id(user_id)

    @app.put("/open/v5/users/@{member_id}", name="upsert_user")
    async def upsert_user(member_id: str, request: Request) -> dict:
        body = await body_of(request)
        return {"user": _public(save(by_member(member_id), member_id, body), channel_id)}

    @app.get("/open/v5/users/@{member_id}", name="get_user_by_member")
    def get_user_by_member(member_id: str) -> dict:
        row = by_member(member_id)
        if row is None:
            raise ChannelError(404, "NotFound", f"user with memberId {member_id} not found")
        return {"user": _public(row, channel_id)}

    @app.delete("/open/v5/users/@{member_id}", name="delete_user_by_member")
    def delete_user_by_member(member_id: str) -> dict:
        row = by_member(member_id)
        if row is None:
            raise ChannelError(404, "NotFound", f"user with memberId {member_id} not found")
        return delete_user(row["user_id"])

    @app.get("/open/v5/users/{user_id}", name="get_user")
    def get_user(user_id: str) -> dict:
        return {"user": _public(by_id(user_id), channel_id)}

    @app.patch("/open/v5/users/{user_id}", name="patch_user")
    async def patch_user(user_id: str, request: Request) -> dict:
        existing = by_id(user_id)
        body = await body_of(request)
        return {"user": _public(save(existing, existing["member_id"], body), channel_id)}

    @app.delete("/open/v5/users/{user_id}", name="delete_user")
    def delete_user(user_id: str) -> dict:
        by_id(user_id)
        with db.tx() as conn:
            conn.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM events WHERE user_id = ?", (user_id,))
        stats.incr("channeltalk.users.deleted")
        return {}

    @app.post("/open/v5/users/{user_id}/events", name="create_event")
    async def create_event(user_id: str, request: Request) -> dict:
        by_id(user_id)
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            raise ChannelError(400, "BadRequest", "body is not JSON") from exc
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name) > 30:
            raise ChannelError(422, "UnprocessableEntity", "name must be a string of 1-30 characters", "name")
        prop = body.get("property", {})
        if not isinstance(prop, dict):
            raise ChannelError(422, "UnprocessableEntity", "property must be an object", "property")
        event = {
            "id": secrets.token_hex(10),
            "channelId": channel_id,
            "userId": user_id,
            "name": name,
            "property": prop,
            "createdAt": now_ms(),
        }
        with db.tx() as conn:
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                (event["id"], user_id, name, json.dumps(prop, ensure_ascii=False), event["createdAt"]),
            )
        return {"event": event}

    @app.get("/_emulator/users", name="admin_users")
    def list_users() -> dict:
        counts = {
            r["user_id"]: r["n"] for r in db.query("SELECT user_id, COUNT(*) AS n FROM events GROUP BY 1")
        }
        users = [
            {**_public(dict(r), channel_id), "eventCount": counts.get(r["user_id"], 0)}
            for r in db.query("SELECT * FROM users ORDER BY member_id, user_id")
        ]
        return {"count": len(users), "users": users}

    return app
