"""Webhook destination: one signed JSON POST per batch, safe to repeat.

``POST {base}{path_prefix}/{channel}`` with body ``{"batch_id", "messages": [...]}``, header
``Idempotency-Key: <batch id>`` and ``X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` under the connection's
secret. The body of a batch is rebuilt byte for byte from the ledger, so a retry or a resumed batch repeats the same
key with the same body and the receiver answers with its first response instead of storing it twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from activation.destinations.base import BatchInfo, BatchJournal, MessageResult, OutboundMessage
from activation.destinations.limits import EndpointLimits, limits_for
from include.core.connections import WEBHOOK, ApiConnection, get_connection
from include.core.http import HttpPolicy, JsonClient, split_on_413


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw request body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDestination:
    """Push and e-mail messages handed to a receiver over a signed webhook."""

    name = "webhook"

    def __init__(self, conn: ApiConnection, *, limits: EndpointLimits | None = None) -> None:
        if not conn.password:
            raise ValueError(f"connection '{conn.conn_id}' needs the signing secret as password")
        self.conn = conn
        self.prefix = "/" + str(conn.extra.get("path_prefix", "/hooks")).strip("/")
        header = str(conn.extra.get("signature_header", "X-Signature"))
        secret = conn.password
        self.limits = limits or limits_for("webhook", conn.extra)
        self.http = JsonClient(
            conn.base_url,
            name="webhook",
            headers=lambda method, path, body: {header: signature(secret, body)},
            policy=HttpPolicy.from_extra(conn.extra),
            rate_per_s=float(conn.extra["rate_limit_per_s"]) if conn.extra.get("rate_limit_per_s") else None,
        )

    @classmethod
    def from_connection(cls, conn: ApiConnection | None = None) -> WebhookDestination:
        return cls(conn or get_connection(WEBHOOK))

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def item(m: OutboundMessage) -> dict[str, Any]:
        return {
            "intent_id": m.intent_id,
            "idempotency_key": m.idempotency_key,
            "channel": m.channel,
            "to": m.recipient,
            "send_at": m.send_at.astimezone(UTC).isoformat() if m.send_at else None,
            "message": m.body,
            "custom_fields": m.custom_fields,
        }

    def message_size(self, message: OutboundMessage) -> int:
        return len(json.dumps(self.item(message), ensure_ascii=False).encode()) + 1

    def _post(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        channels = {m.channel for m in messages}
        if len(channels) != 1:
            raise ValueError(f"webhook batch {batch.batch_id} mixes channels {sorted(channels)}")
        path = f"{self.prefix}/{channels.pop()}"
        ordered = sorted(messages, key=lambda m: m.intent_id)

        def post(part: Sequence[OutboundMessage], label: str) -> None:
            key = batch.batch_id + label  # a 413 split is deterministic: a resumed batch reuses the same keys
            body = {
                "batch_id": key,
                "campaign_id": batch.campaign_id,
                "scheduled": batch.scheduled,
                "messages": [self.item(m) for m in part],
            }
            doc = self.http.request(
                "POST", path, json_body=body, idempotent=True, extra_headers={"Idempotency-Key": key}
            )
            receipt = str((doc or {}).get("id", key))
            journal.results(
                [
                    MessageResult(m.intent_id, "accepted", f"{receipt}:{m.intent_id[:12]}", "accepted")
                    for m in part
                ]
            )

        split_on_413(ordered, post)
        journal.handed_over()
        journal.sent(batch.scheduled)

    def send_batch(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        self._post(batch, messages, journal)

    def resume_batch(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        self._post(batch, messages, journal)

    def poll_results(self, batch: BatchInfo) -> list[MessageResult]:
        return []  # a webhook receiver sends no delivery reports
