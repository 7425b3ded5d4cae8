"""Generic webhook sink: ``POST /hooks/{name}`` stores signed JSON payloads, read back at ``/_emulator/hooks/{name}``.

Behaviour a real receiver (a marketing tool's inbound webhook) has and clients must cope with:

- ``X-Signature: sha256=<hex>`` must be the HMAC-SHA256 of the raw body under the shared secret
  (the runner's ``credentials["webhook"]["secret"]``), else 401;
- the body must be JSON, else 400;
- ``Idempotency-Key``: a repeated key returns the first response and stores nothing; the same key with a
  different body is a client bug and gets 422.

Payloads persist in ``<state_dir>/webhook.sqlite``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from testbed.emulators.context import EmulatorContext
from testbed.emulators.faults import install_common
from testbed.emulators.state import StateDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    idempotency_key TEXT,
    body_sha256 TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS hooks_idem ON hooks(name, idempotency_key) WHERE idempotency_key IS NOT NULL;
"""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def connection_extra(ctx: EmulatorContext) -> dict:
    """Extra fields of the ``crm_webhook`` connection."""
    return {"path_prefix": "/hooks", "signature_header": "X-Signature"}


def create_app(ctx: EmulatorContext) -> FastAPI:
    """The webhook sink app."""
    app = FastAPI(title="Webhook sink emulator")
    db = StateDB(ctx.state_dir / "webhook.sqlite", _SCHEMA)
    app.state.on_stop = [db.close]
    install_common(app, ctx, "webhook", error_body=lambda s: {"error": {"code": str(s), "message": "fault"}})

    @app.post("/hooks/{name}", name="receive_hook")
    async def receive_hook(name: str, request: Request) -> JSONResponse:
        body = await request.body()
        secret = ctx.credentials.get("webhook", {}).get("secret", "")
        given = request.headers.get("x-signature", "")
        if not secret or not hmac.compare_digest(given, sign(secret, body)):
            return _error(401, "invalid_signature", "X-Signature is missing or does not match the body")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "invalid_json", "body is not JSON")
        key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(body).hexdigest()
        with db.tx() as conn:
            if key:
                row = conn.execute(
                    "SELECT body_sha256, response FROM hooks WHERE name = ? AND idempotency_key = ?",
                    (name, key),
                ).fetchone()
                if row is not None:
                    if row["body_sha256"] != digest:
                        return _error(
                            422, "idempotency_key_reused", "Idempotency-Key reused with another body"
                        )
                    ctx.stats.incr("webhook.idempotent_replays")
                    return JSONResponse(json.loads(row["response"]), status_code=200)
            cur = conn.execute(
                "INSERT INTO hooks(name, idempotency_key, body_sha256, payload, received_at, response) "
                "VALUES (?, ?, ?, ?, ?, '')",
                (name, key, digest, json.dumps(payload, ensure_ascii=False), ctx.clock.now().isoformat()),
            )
            response = {"id": cur.lastrowid, "name": name, "stored": True}
            conn.execute("UPDATE hooks SET response = ? WHERE seq = ?", (json.dumps(response), cur.lastrowid))
        ctx.stats.incr("webhook.stored")
        return JSONResponse(response, status_code=200)

    @app.get("/_emulator/hooks/{name}", name="admin_hooks")
    def list_hooks(name: str) -> dict:
        rows = db.query(
            "SELECT seq, idempotency_key, payload, received_at FROM hooks WHERE name = ? ORDER BY seq",
            (name,),
        )
        items = [
            {
                "id": r["seq"],
                "idempotency_key": r["idempotency_key"],
                "received_at": r["received_at"],
                "payload": json.loads(r["payload"]),
            }
            for r in rows
        ]
        return {"name": name, "count": len(items), "items": items}

    return app
