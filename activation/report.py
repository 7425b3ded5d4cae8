"""Summaries of intents (per campaign) for previews, run results and ``crm status``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from activation.intent import Intent
from activation.ledger import schema as s
from include.core.pii import mask_text

# What counts as "will be / was sent" in a summary (retry = carried to the next run).
TO_SEND = (s.PLANNED, s.SENDING, s.ACCEPTED, s.DELIVERED, s.FAILED, s.RETRY)


@dataclass
class CampaignSummary:
    """Counts for one campaign and run date."""

    campaign_id: str
    send_at: str | None = None
    total: int = 0
    recipients: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_variant: dict[str, int] = field(default_factory=dict)
    by_message_type: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    holdout: int = 0
    control: int = 0
    suppressed: int = 0
    estimated_cost_krw: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(campaign_id: str, intents: Sequence[Any], send_at: datetime | None = None) -> CampaignSummary:
    """Counts by status, reason, variant (of recipients), message type; cost estimate by message type.

    ``intents``: :class:`~activation.intent.Intent` records or any rows with those attributes (the ledger's
    :meth:`~activation.ledger.Ledger.decisions_for_run`)."""
    out = CampaignSummary(campaign_id, send_at.isoformat() if send_at else None, total=len(intents))
    status = Counter(i.status for i in intents)
    out.by_status = dict(sorted(status.items()))
    out.by_reason = dict(sorted(Counter(i.reason for i in intents if i.status == s.SUPPRESSED).items()))
    sendable = [i for i in intents if i.status in TO_SEND]
    out.recipients = len(sendable)
    out.by_variant = dict(sorted(Counter(i.variant for i in sendable).items()))
    out.by_message_type = dict(sorted(Counter(i.message_type for i in sendable).items()))
    out.held = dict(sorted(Counter(i.held for i in sendable if i.held).items()))
    out.holdout = status.get(s.HOLDOUT, 0)
    out.control = status.get(s.CONTROL, 0)
    out.suppressed = status.get(s.SUPPRESSED, 0)
    cost: Counter[str] = Counter()
    for i in sendable:
        cost[i.message_type or "?"] += float(i.cost_krw or 0.0)
    out.estimated_cost_krw = {k: round(v, 2) for k, v in sorted(cost.items())}
    out.estimated_cost_krw["total"] = round(sum(cost.values()), 2)
    return out


def samples(intents: list[Intent], n: int = 5) -> list[dict[str, Any]]:
    """The first ``n`` recipients' rendered messages (by intent id), with contacts masked."""
    chosen = sorted((i for i in intents if i.status in TO_SEND and i.payload), key=lambda i: i.intent_id)
    out = []
    for i in chosen[:n]:
        body = (i.payload or {}).get("body") or {}
        out.append(
            {
                "customer_id": i.customer_id,
                "to": i.recipient_masked,
                "variant": i.variant,
                "type": i.message_type,
                "fallback": i.fallback_type,
                "send_at": i.send_at.isoformat() if isinstance(i.send_at, datetime) else i.send_at,
                "held": i.held,
                "subject": mask_text(str(body.get("subject") or body.get("title") or "")) or None,
                "text": mask_text(str(body.get("text", ""))),
            }
        )
    return out


@dataclass
class RunResult:
    """What :func:`activation.api.plan_and_send` did for one run date."""

    run_id: str
    run_date: date
    reference_time: datetime
    dry_run: bool
    campaigns: dict[str, CampaignSummary] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    guard: dict[str, int] = field(default_factory=dict)
    delivery: dict[str, int] = field(default_factory=dict)
    resumed_batches: int = 0
    batches: int = 0
    opt_outs_learned: int = 0
    errors: list[str] = field(default_factory=list)
    # seconds per phase (finish earlier batches, plan, ledger write, send, summary): logged, kept out of the ledger's
    # run summary (to_dict), which must not change when a date is run again
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raises ``RuntimeError`` listing every error (for an Airflow task that must fail visibly)."""
        if self.errors:
            raise RuntimeError("activation run had errors:\n" + "\n".join(f"  - {e}" for e in self.errors))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("timings")
        d["run_date"] = self.run_date.isoformat()
        d["reference_time"] = self.reference_time.isoformat()
        return d
