"""Endpoint limits of every destination, declared in one place.

Batching, pacing and validation read these numbers; the vendors' documentation is the source
(``/work/shared/docs/EXTERNAL_APIS.md`` summarises it). A connection's ``extra`` may lower a limit (tests do, to
force many small batches) but never raise it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class EndpointLimits:
    """How much one request may carry and how fast requests may go."""

    max_batch_messages: int
    max_batch_bytes: int
    requests_per_second: float | None = None
    max_per_group: int | None = None


SOLAPI = EndpointLimits(
    max_batch_messages=10_000,  # PUT /messages/v4/groups/{id}/messages: ≤ 10,000 recipients per request
    max_batch_bytes=15 * 1024 * 1024 - 64 * 1024,  # ≤ 15 MB per request (64 KB margin for the envelope)
    requests_per_second=None,  # not published; 429 + Retry-After are honoured
    max_per_group=1_000_000,  # ≤ 1,000,000 messages per group
)
CHANNELTALK = EndpointLimits(
    max_batch_messages=1,  # one user per upsert; no bulk endpoint
    max_batch_bytes=1024 * 1024,
    requests_per_second=10.0,  # limits not published; the connection extra `rate_limit_per_s` overrides
)
WEBHOOK = EndpointLimits(max_batch_messages=500, max_batch_bytes=4 * 1024 * 1024, requests_per_second=None)
CHANNELTALK_MAX_TAGS = 20  # tags per user, unique
# Destinations whose per-message delivery status can be read back (Solapi group message lists); a webhook
# receiver sends no reports, so its messages stay "accepted".
DELIVERY_REPORTS = frozenset({"solapi"})

LIMITS: dict[str, EndpointLimits] = {"solapi": SOLAPI, "channeltalk": CHANNELTALK, "webhook": WEBHOOK}


def limits_for(destination: str, extra: dict[str, Any] | None = None) -> EndpointLimits:
    """The limits of a destination, lowered by ``max_batch_messages`` / ``rate_limit_per_s`` in ``extra``."""
    base = LIMITS[destination]
    extra = extra or {}
    messages = min(base.max_batch_messages, int(extra.get("max_batch_messages", base.max_batch_messages)))
    rate = extra.get("rate_limit_per_s")
    rps = float(rate) if rate is not None else base.requests_per_second
    return replace(base, max_batch_messages=max(1, messages), requests_per_second=rps)
