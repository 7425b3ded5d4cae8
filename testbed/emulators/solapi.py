"""Solapi v4 messaging emulator (AlimTalk/FriendTalk/SMS/LMS): HMAC auth, groups, one-shot sends, reports.

Implements ``POST/GET /messages/v4/groups``, ``GET|DELETE /messages/v4/groups/{id}``,
``PUT|GET /messages/v4/groups/{id}/messages``, ``POST /messages/v4/groups/{id}/send``,
``POST|DELETE /messages/v4/groups/{id}/schedule``, ``POST /messages/v4/send-many/detail`` and
``GET /messages/v4/list``, with the real limits and status codes (see docs/emulators.md). Time is the shared
simulated clock: signatures are checked against it, and a sent message shows 2000 → 3000 → final status as the
clock passes ``sent + solapi_processing_delay_s`` and ``sent + solapi_report_delay_s``; a delivered message
carrying campaign custom fields feeds :mod:`testbed.emulators.closed_loop`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from testbed.emulators.closed_loop import CustomerSimulator
from testbed.emulators.context import EmulatorContext
from testbed.emulators.faults import install_common
from testbed.emulators.solapi_rules import (
    PRICES,
    STATUS_MESSAGES,
    IntakeConfig,
    OutcomeRates,
    TemplateRegistry,
    check_message,
    digits,
    simulate_outcome,
)
from testbed.emulators.solapi_store import SolapiStore, iso, new_ids, parse_iso

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_REQUEST = 10_000
MAX_REQUEST_BYTES = 15 * 1024 * 1024
SIGNATURE_WINDOW_S = 15 * 60
MAX_LIST_LIMIT = 500
DEFAULT_SENDERS = ("0212345678",)
_REPO = Path(__file__).resolve().parents[2]
_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_COLUMNS = {
    "messageId": "message_id",
    "groupId": "group_id",
    "type": "type",
    "statusCode": "status_code",
    "dateCreated": "date_created",
    "dateUpdated": "date_updated",
    "replacement": "replacement",
    "to": "json_extract(doc, '$.to')",
    "from": "json_extract(doc, '$.from')",
}


class SolapiError(Exception):
    """An API error answered as ``{"errorCode", "errorMessage"}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(status: int) -> dict[str, str]:
    """Solapi's error shape, for injected faults."""
    codes = {429: "TooManyRequests", 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable"}
    return {"errorCode": codes.get(status, f"HTTP{status}"), "errorMessage": f"injected fault: HTTP {status}"}


def account_id(ctx: EmulatorContext) -> str:
    key = ctx.credentials.get("solapi", {}).get("key", "")
    return str(int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**8).zfill(8)


def connection_extra(ctx: EmulatorContext) -> dict:
    """Extra fields of the ``crm_solapi`` connection: the registered sender numbers."""
    senders = [digits(s) for s in ctx.options.get("solapi_senders", DEFAULT_SENDERS)]
    return {"sender": senders[0], "senders": senders}


def _add_months(dt: datetime, months: int) -> datetime:
    month = dt.month - 1 + months
    year, month = dt.year + month // 12, month % 12 + 1
    for day in (dt.day, 30, 29, 28):
        try:
            return dt.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")


class SolapiService:
    """The emulator's behaviour behind the routes."""

    def __init__(self, ctx: EmulatorContext, store: SolapiStore) -> None:
        self.ctx = ctx
        self.store = store
        path = ctx.options.get("templates_path") or _REPO / "include" / "campaigns" / "templates.yml"
        self.templates = TemplateRegistry(Path(path))
        self.simulator = CustomerSimulator(ctx, store)
        self.lock = (
            threading.RLock()
        )  # routes run on the event loop and in worker threads: one writer at a time

    def opt(self, key: str, default: Any) -> Any:
        return self.ctx.options.get(key, default)

    def now(self) -> datetime:
        return self.ctx.clock.now()

    # --- auth -------------------------------------------------------------------------------------------------
    def authenticate(self, header: str | None) -> None:
        """Checks ``Authorization: HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…`` (keys case-insensitive)."""
        match = re.match(r"^\s*(HMAC-SHA256|HMAC-MD5)\s+(.+)$", header or "", flags=re.IGNORECASE)
        if not match:
            raise SolapiError(403, "InvalidAPIKey", "Authorization header missing or not HMAC-SHA256")
        params: dict[str, str] = {}
        for part in match.group(2).split(","):
            key, sep, value = part.partition("=")
            if sep:
                params[key.strip().lower()] = value.strip()
        missing = [k for k in ("apikey", "date", "salt", "signature") if not params.get(k)]
        if missing:
            raise SolapiError(403, "InvalidAPIKey", f"Authorization header lacks {', '.join(missing)}")
        creds = self.ctx.credentials.get("solapi", {})
        if not hmac.compare_digest(params["apikey"], creds.get("key", "")):
            raise SolapiError(403, "InvalidAPIKey", "the API key is not valid")
        try:
            signed_at = parse_iso(params["date"])
        except ValueError as exc:
            raise SolapiError(403, "RequestTimeTooSkewed", "date is not an ISO 8601 timestamp") from exc
        mode = self.opt("solapi_auth_clock", "sim")  # sim | wall | either
        clocks = {"sim": [self.now()], "wall": [datetime.now().astimezone()]}
        candidates = clocks.get(mode, clocks["sim"] + clocks["wall"])
        in_window = [c for c in candidates if abs((signed_at - c).total_seconds()) <= SIGNATURE_WINDOW_S]
        if not in_window:
            raise SolapiError(
                403, "RequestTimeTooSkewed", "date differs from server time by more than 15 minutes"
            )
        reference = in_window[0]
        algo = hashlib.md5 if match.group(1).upper() == "HMAC-MD5" else hashlib.sha256
        expected = hmac.new(
            creds["secret"].encode(), (params["date"] + params["salt"]).encode(), algo
        ).hexdigest()
        if not hmac.compare_digest(expected, params["signature"].lower()):
            raise SolapiError(403, "SignatureDoesNotMatch", "signature does not match")
        if not self.store.use_signature(params["signature"].lower(), reference, SIGNATURE_WINDOW_S):
            raise SolapiError(403, "DuplicatedSignature", "signature already used within 15 minutes")

    # --- time progression -------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Fires due scheduled groups and reveals every status change due by the simulated clock."""
        with self.lock:
            self._tick()

    def _tick(self) -> None:
        now = self.now()
        for group in self.store.due_scheduled(now):
            self.dispatch(group["group_id"], parse_iso(group["scheduled_date"]))
        final = self.store.advance(now)
        for msg in final:
            code, mtype = msg["status_code"], msg["type"]
            self.ctx.stats.incr(f"solapi.messages.{'delivered' if code == '4000' else 'failed'}.{mtype}")
            if code != "4000":
                self.ctx.stats.incr(f"solapi.messages.failed_code.{code}")
            if msg["replacement"]:
                self.ctx.stats.incr(f"solapi.messages.fallback.{mtype}")
        delivered = [m for m in final if m["status_code"] == "4000"]
        if delivered:
            try:
                self.simulator.process(delivered)
            except Exception:  # never fail the API call; the decisions are stored and rewritten next time
                log.exception("closed-loop simulation failed")
                self.ctx.stats.incr("solapi.closed_loop.errors")

    def dispatch(self, group_id: str, sent_at: datetime) -> None:
        """Sends a group's registered messages at ``sent_at``: decides each fate, schedules its reveal."""
        rates = OutcomeRates(
            non_kakao=float(self.opt("solapi_non_kakao_rate", 0.10)),
            blocked=float(self.opt("solapi_blocked_rate", 0.02)),
            carrier_failure=float(self.opt("solapi_carrier_failure_rate", 0.03)),
        )
        d1 = timedelta(seconds=float(self.opt("solapi_processing_delay_s", 10)))
        d2 = max(d1, timedelta(seconds=float(self.opt("solapi_report_delay_s", 60))))
        seed = self.opt("seed", 0)
        updates = []
        times = {"sent_at": iso(sent_at), "due_processing": iso(sent_at + d1), "due_final": iso(sent_at + d2)}
        for row in self.store.registered(group_id):
            outcome = simulate_outcome(json.loads(row["doc"]), row["type"], sent_at, seed, rates)
            updates.append(
                {
                    "seq": row["seq"],
                    **times,
                    "final_code": outcome.code,
                    "final_type": outcome.type,
                    "final_replacement": int(outcome.replacement),
                }
            )
        self.store.dispatch(group_id, updates, sent_at)

    # --- intake -----------------------------------------------------------------------------------------------
    def intake(self, group_id: str, messages: list, allow_duplicates: bool) -> list[dict]:
        """Validates and stores messages in a group; returns one result per message (1xxx ones included)."""
        now = self.now()
        cfg = IntakeConfig(
            senders={digits(s) for s in self.opt("solapi_senders", DEFAULT_SENDERS)},
            templates=self.templates,
            extra_pf_ids=set(self.opt("solapi_pf_ids", ())),
            optout_numbers={digits(n) for n in self.opt("solapi_optout_numbers", ())} | self.store_optouts(),
        )
        seen = set() if allow_duplicates else self.store.dedup_keys(group_id)
        balance = self.opt("solapi_balance", None)
        spent, spend = self.store.counter("spent"), 0
        rows, results, stats = [], [], self.ctx.stats
        created, account = iso(now), account_id(self.ctx)
        for msg, message_id in zip(messages, new_ids("M4V", now, len(messages)), strict=True):
            intake = check_message(msg, cfg)
            code = intake.status_code
            if code == "2000" and not allow_duplicates:
                if intake.dedup_key in seen:
                    code = "1026"
                    stats.incr("solapi.messages.duplicates_rejected")
                seen.add(intake.dedup_key)
            price = PRICES.get(intake.type, 0)
            if code == "2000" and balance is not None and spent + spend + price > float(balance):
                code = "1030"
            accepted = code == "2000"
            spend += price if accepted else 0
            stats.incr(
                f"solapi.messages.accepted.{intake.type}" if accepted else f"solapi.messages.rejected.{code}"
            )
            rows.append(
                {
                    "message_id": message_id,
                    "group_id": group_id,
                    "doc": json.dumps(intake.doc, ensure_ascii=False),
                    "type": intake.type,
                    "status_code": code,
                    "dedup_key": intake.dedup_key if accepted else None,
                    "phase": "registered" if accepted else "rejected",
                    "price": price if accepted else 0,
                    "date_created": created,
                }
            )
            results.append(
                {
                    "to": intake.doc.get("to"),
                    "from": intake.doc.get("from"),
                    "type": intake.type,
                    "country": intake.doc.get("country", "82"),
                    "messageId": message_id,
                    "statusCode": code,
                    "statusMessage": STATUS_MESSAGES.get(code, ""),
                    "accountId": account,
                    "customFields": intake.doc.get("customFields") or {},
                }
            )
        self.store.insert_messages(rows, spend)
        return results

    def store_optouts(self) -> set[str]:
        return {
            r["name"][7:] for r in self.store.db.query("SELECT name FROM counters WHERE name LIKE 'optout:%'")
        }

    # --- views ------------------------------------------------------------------------------------------------
    def group_doc(self, group_id: str) -> dict:
        g = self.store.group(group_id)
        if g is None:
            raise SolapiError(404, "NotFound", f"group {group_id} not found")
        c = self.store.group_counts(group_id)
        return {
            "_id": group_id,
            "groupId": group_id,
            "accountId": account_id(self.ctx),
            "masterAccountId": None,
            "apiVersion": "4",
            "status": g["status"],
            "allowDuplicates": bool(g["allow_duplicates"]),
            "count": {
                "total": c["total"],
                "sentTotal": c["sent_total"],
                "sentFailed": c["sent_failed"],
                "sentSuccess": c["sent_success"],
                "sentPending": c["sent_pending"],
                "sentReplacement": c["sent_replacement"],
                "refund": c["sent_failed"],
                "registeredFailed": c["registered_failed"],
                "registeredSuccess": c["registered_success"],
            },
            "countForCharge": {
                t: ({"82": c["per_type"][t.upper()]} if t.upper() in c["per_type"] else {})
                for t in ("sms", "lms", "mms", "ata", "cta", "cti")
            },
            "balance": {
                "requested": c["requested"],
                "replacement": 0,
                "refund": c["refund"],
                "sum": c["requested"] - c["refund"],
            },
            "point": {"requested": 0, "replacement": 0, "refund": 0, "sum": 0},
            "app": {
                "profit": dict.fromkeys(("sms", "lms", "mms", "ata", "cta", "cti"), 0),
                "appId": g["app_id"],
            },
            "serviceMethod": "MT",
            "log": json.loads(g["log"]),
            "customFields": json.loads(g["custom_fields"]),
            "isRefunded": False,
            "flagUpdated": False,
            "prepaid": True,
            "strict": False,
            "price": {},
            "scheduledDate": g["scheduled_date"],
            "dateSent": g["date_sent"],
            "dateCompleted": g["date_completed"],
            "dateCreated": g["date_created"],
            "dateUpdated": g["date_updated"],
        }

    def message_doc(self, row: dict) -> dict:
        doc = json.loads(row["doc"])
        return {
            "_id": row["message_id"],
            "messageId": row["message_id"],
            "groupId": row["group_id"],
            "accountId": account_id(self.ctx),
            "type": row["type"],
            "country": doc.get("country", "82"),
            "to": doc.get("to"),
            "from": doc.get("from"),
            "text": doc.get("text"),
            "subject": doc.get("subject"),
            "imageId": None,
            "kakaoOptions": doc.get("kakaoOptions"),
            "customFields": doc.get("customFields") or {},
            "autoTypeDetect": doc.get("autoTypeDetect", True),
            "statusCode": row["status_code"],
            "statusMessage": STATUS_MESSAGES.get(row["status_code"], ""),
            "replacement": bool(row["replacement"]),
            "networkName": None,
            "networkCode": None,
            "reason": None,
            "log": [],
            "dateCreated": row["date_created"],
            "dateUpdated": row["date_updated"],
            "dateProcessed": row["date_processed"],
            "dateReported": row["date_reported"],
            "dateReceived": row["date_received"],
        }

    def list_messages(self, params: dict[str, str], group_id: str | None = None) -> dict:
        limit = _limit(params.get("limit"))
        filters: list[tuple[str, str, Any]] = []
        for name in ("messageId", "groupId", "to", "from", "type", "statusCode"):
            if params.get(name):
                value = digits(params[name]) if name in ("to", "from") else params[name]
                filters.append((_COLUMNS[name], "=", value.upper() if name == "type" else value))
        if group_id:
            filters.append(("group_id", "=", group_id))
        filters += _criteria(params)
        date_col = "date_updated" if str(params.get("dateType", "")).upper() == "UPDATED" else "date_created"
        for key, op in (("startDate", ">="), ("endDate", "<")):
            if params.get(key):
                filters.append((date_col, op, _iso_param(params[key], key)))
        start_key = params.get("startKey") or None
        if start_key and not self.store.message_exists(start_key):
            raise SolapiError(400, "ValidationError", "startKey does not name a message")
        rows, next_key = self.store.list_messages(filters, start_key, limit)
        return {
            "startKey": start_key,
            "limit": limit,
            "nextKey": next_key,
            "messageList": {r["message_id"]: self.message_doc(r) for r in rows},
        }


def _limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw not in (None, "") else 20
    except ValueError as exc:
        raise SolapiError(400, "ValidationError", "limit must be an integer") from exc
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise SolapiError(400, "ValidationError", f"limit must be between 1 and {MAX_LIST_LIMIT}")
    return limit


def _iso_param(value: str, name: str) -> str:
    try:
        return iso(parse_iso(value))
    except ValueError as exc:
        raise SolapiError(400, "ValidationError", f"{name} is not an ISO 8601 date") from exc


def _criteria(params: dict[str, str]) -> list[tuple[str, str, Any]]:
    if not params.get("criteria"):
        return []
    names = params["criteria"].split(",")
    conds = (params.get("cond") or "").split(",")
    values = (params.get("value") or "").split(",")
    if not len(names) == len(conds) == len(values):
        raise SolapiError(400, "ValidationError", "criteria, cond and value need the same number of items")
    out = []
    for name, cond, value in zip(names, conds, values, strict=True):
        if name not in _COLUMNS or cond not in _OPS:
            raise SolapiError(400, "ValidationError", f"unsupported criteria {name} {cond}")
        if name in ("dateCreated", "dateUpdated"):
            value = _iso_param(value, name)
        elif name == "replacement":
            value = int(value.lower() == "true")
        out.append((_COLUMNS[name], _OPS[cond], value))
    return out


async def _json_body(request: Request, default: Any = None) -> Any:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_REQUEST_BYTES:
        raise SolapiError(413, "RecipientsTooMany", "request body exceeds 15 MB")
    raw = await request.body()
    if len(raw) > MAX_REQUEST_BYTES:
        raise SolapiError(413, "RecipientsTooMany", "request body exceeds 15 MB")
    if not raw.strip():
        if default is not None:
            return default
        raise SolapiError(400, "ValidationError", "request body is empty")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SolapiError(400, "InvalidJSON", "request body is not valid JSON") from exc


def _messages(body: Any) -> list:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        raise SolapiError(400, "ValidationError", "messages must be a non-empty array")
    if len(messages) > MAX_MESSAGES_PER_REQUEST:
        raise SolapiError(
            413, "RecipientsTooMany", f"at most {MAX_MESSAGES_PER_REQUEST} messages per request"
        )
    return messages


def create_app(ctx: EmulatorContext) -> FastAPI:
    """The Solapi v4 emulator app."""
    app = FastAPI(title="Solapi v4 emulator")
    store = SolapiStore(ctx.state_dir / "solapi.sqlite")
    svc = SolapiService(ctx, store)
    # moving the clock reveals what became due (deliveries, then the simulated customers' clicks and orders) at
    # once: the event drops and the shop must show them before the next run reads them, not after
    app.state.on_stop = [ctx.clock.on_change(lambda _now: svc.tick()), store.close]
    app.state.service = svc
    install_common(
        app,
        ctx,
        "solapi",
        paging_paths=("/messages/v4/list", "/messages/v4/groups", "/messages/v4/groups/{id}/messages"),
        error_body=error_body,
    )

    @app.exception_handler(SolapiError)
    async def _solapi_error(request: Request, exc: SolapiError) -> JSONResponse:
        return JSONResponse({"errorCode": exc.code, "errorMessage": exc.message}, status_code=exc.status)

    def auth(request: Request) -> None:
        svc.authenticate(request.headers.get("authorization"))
        svc.tick()

    authed: list[Callable] = [Depends(auth)]

    def pending_group(group_id: str) -> dict:
        group = store.group(group_id)
        if group is None:
            raise SolapiError(404, "NotFound", f"group {group_id} not found")
        return group

    @app.post("/messages/v4/groups", name="create_group", dependencies=authed)
    async def create_group(request: Request) -> dict:
        body = await _json_body(request, default={})
        group_id = store.create_group(
            svc.now(),
            bool(body.get("allowDuplicates", False)),
            body.get("appId"),
            body.get("customFields") or {},
        )
        return svc.group_doc(group_id)

    @app.get("/messages/v4/groups", name="list_groups", dependencies=authed)
    def list_groups(request: Request) -> dict:
        params = dict(request.query_params)
        limit = _limit(params.get("limit"))
        rows, next_key = store.list_groups(params.get("startKey"), limit, params.get("status"))
        return {
            "startKey": params.get("startKey"),
            "limit": limit,
            "nextKey": next_key,
            "groupList": {r["group_id"]: svc.group_doc(r["group_id"]) for r in rows},
        }

    @app.get("/messages/v4/groups/{group_id}", name="get_group", dependencies=authed)
    def get_group(group_id: str) -> dict:
        return svc.group_doc(group_id)

    @app.delete("/messages/v4/groups/{group_id}", name="delete_group", dependencies=authed)
    def delete_group(group_id: str) -> dict:
        group = pending_group(group_id)
        if group["status"] not in ("PENDING", "FAILED"):
            raise SolapiError(400, "InvalidGroupStatus", f"a {group['status']} group cannot be deleted")
        store.update_group(group_id, svc.now(), "그룹 삭제", status="DELETED")
        return svc.group_doc(group_id)

    @app.put("/messages/v4/groups/{group_id}/messages", name="add_group_messages", dependencies=authed)
    async def add_group_messages(group_id: str, request: Request) -> dict:
        pending_group(group_id)
        messages = _messages(await _json_body(request))
        with svc.lock:
            group = pending_group(group_id)
            if group["status"] != "PENDING":
                raise SolapiError(
                    400, "InvalidGroupStatus", f"messages cannot be added to a {group['status']} group"
                )
            limit = int(svc.opt("solapi_group_limit", 1_000_000))
            if store.message_count(group_id) + len(messages) > limit:
                raise SolapiError(413, "RecipientsTooMany", f"a group holds at most {limit} messages")
            results = svc.intake(group_id, messages, bool(group["allow_duplicates"]))
        return {"errorCount": sum(r["statusCode"] != "2000" for r in results), "resultList": results}

    @app.get("/messages/v4/groups/{group_id}/messages", name="list_group_messages", dependencies=authed)
    def list_group_messages(group_id: str, request: Request) -> dict:
        pending_group(group_id)
        return svc.list_messages(dict(request.query_params), group_id=group_id)

    @app.post("/messages/v4/groups/{group_id}/send", name="send_group", dependencies=authed)
    def send_group(group_id: str) -> dict:
        with svc.lock:
            group = pending_group(group_id)
            if group["status"] != "PENDING":
                raise SolapiError(400, "InvalidGroupStatus", f"a {group['status']} group cannot be sent")
            if not store.registered(group_id):
                raise SolapiError(400, "NoMessagesToSend", "the group has no accepted message")
            svc.dispatch(group_id, svc.now())
            svc.tick()
        return svc.group_doc(group_id)

    @app.post("/messages/v4/groups/{group_id}/schedule", name="schedule_group", dependencies=authed)
    async def schedule_group(group_id: str, request: Request) -> dict:
        group = pending_group(group_id)
        when = _scheduled_date(await _json_body(request), svc.now(), required=True)
        if group["status"] != "PENDING":
            raise SolapiError(400, "InvalidGroupStatus", f"a {group['status']} group cannot be scheduled")
        if not store.registered(group_id):
            raise SolapiError(400, "NoMessagesToSend", "the group has no accepted message")
        store.update_group(
            group_id, svc.now(), "예약 발송 설정", status="SCHEDULED", scheduled_date=iso(when)
        )
        return svc.group_doc(group_id)

    @app.delete("/messages/v4/groups/{group_id}/schedule", name="cancel_schedule", dependencies=authed)
    def cancel_schedule(group_id: str) -> dict:
        group = pending_group(group_id)
        if group["status"] != "SCHEDULED":
            raise SolapiError(400, "InvalidGroupStatus", "the group is not scheduled")
        store.update_group(group_id, svc.now(), "예약 발송 취소", status="PENDING", scheduled_date=None)
        return svc.group_doc(group_id)

    @app.post("/messages/v4/send-many/detail", name="send_many_detail", dependencies=authed)
    async def send_many_detail(request: Request) -> dict:
        body = await _json_body(request)
        messages = _messages(body)
        when = _scheduled_date(body, svc.now(), required=False)
        allow = bool(body.get("allowDuplicates", False))
        with svc.lock:
            group_id = store.create_group(svc.now(), allow, body.get("appId"), {})
            results = svc.intake(group_id, messages, allow)
            if not any(r["statusCode"] == "2000" for r in results):
                store.update_group(group_id, svc.now(), "접수된 메시지 없음", status="FAILED")
            elif when is not None:
                store.update_group(
                    group_id, svc.now(), "예약 발송 설정", status="SCHEDULED", scheduled_date=iso(when)
                )
            else:
                svc.dispatch(group_id, svc.now())
                svc.tick()
        response: dict[str, Any] = {
            "groupInfo": svc.group_doc(group_id),
            "failedMessageList": [r for r in results if r["statusCode"] != "2000"],
        }
        if body.get("showMessageList"):
            response["messageList"] = [
                {k: r[k] for k in ("messageId", "statusCode", "statusMessage", "customFields")}
                for r in results
            ]
        return response

    @app.get("/messages/v4/list", name="list_messages", dependencies=authed)
    def list_messages(request: Request) -> dict:
        return svc.list_messages(dict(request.query_params))

    @app.put("/_emulator/solapi/optouts", name="admin_optouts")
    def add_optouts(body: dict) -> dict:
        """Simulates recipients calling the 080 opt-out line: ``{"numbers": ["01012345678", ...]}``."""
        with store.db.tx() as conn:
            for number in body.get("numbers", []):
                store.add_counter(conn, f"optout:{digits(number)}", 1)
        return {"optouts": sorted(svc.store_optouts())}

    return app


def _scheduled_date(body: Any, now: datetime, *, required: bool) -> datetime | None:
    raw = body.get("scheduledDate") if isinstance(body, dict) else None
    if raw in (None, ""):
        if required:
            raise SolapiError(400, "ValidationError", "scheduledDate is required")
        return None
    try:
        when = parse_iso(str(raw))
    except ValueError as exc:
        raise SolapiError(400, "ValidationError", "scheduledDate is not an ISO 8601 date") from exc
    if when > _add_months(now, 6):
        raise SolapiError(400, "InvalidScheduledDate", "scheduledDate may be at most 6 months ahead")
    if when <= now:
        if required:
            raise SolapiError(400, "InvalidScheduledDate", f"scheduledDate {when.isoformat()} is in the past")
        return None  # a past date on a one-shot send means "now"
    return when
