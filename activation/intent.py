"""The typed record of one planned message (an intent), as the planner builds it and the ledger stores it.

One :class:`Intent` is one row of the ledger's ``intents`` table (:mod:`activation.ledger.schema`), restricted to the
columns the planner decides. The provider bookkeeping columns (:data:`LEDGER_ONLY`: batch, group and message ids,
the provider's status, ``sent_at``/``final_at``) are not fields: the sender and the batch journal write them with
targeted updates, and nothing that consumes intents reads them, so :meth:`Intent.from_row` leaves them out and
:meth:`Intent.as_row` never writes them (a new intent has them ``NULL``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any


@dataclass(slots=True, kw_only=True)
class Intent:
    """One message of one campaign to one customer for one run date: the decision, its reason and its content.

    Fields follow the ledger's column order and nullability; those without a default are ``NOT NULL`` there.

    - **Identity** (``intent_id`` … ``customer_id``): ``idempotency_key`` is ``campaign:run_date:customer:step``,
      the natural key (one message per campaign, run date, customer and step); ``intent_id`` is its hash. ``run_id``
      is the run that planned it.
    - **Audience** (``member_id``, ``segment``, ``tier``): copied from the audience row, for reporting.
    - **Message** (``channel`` … ``variant``): the campaign's channel and the destination that sends it,
      ``message_kind`` (advertising or informational), the rendered ``message_type`` (SMS/LMS/ATA/…) and its
      ``fallback_type``, and the assigned A/B ``variant``.
    - **Assignment** (``is_control``, ``is_holdout``, ``priority``): the global control group, the campaign's
      holdout, and the campaign priority that decided between campaigns.
    - **Decision** (``status``, ``reason``, ``detail``): one of :data:`activation.ledger.schema.STATUSES`, the code of
      the first policy failed (:mod:`activation.planning.policies`) and a human-readable detail.
    - **Targeting facts when planned** (``quiet_hours`` … ``is_opted_out``): the campaign's night rule (hold or
      drop) and the customer's night consent, channel consent and opt-out as the planner saw them.
    - **Contact** (``recipient``, ``recipient_masked``, ``recipient_hash``): the raw address (kept only while the
      message may still go out, never exported), its masked form and its hash (matched against learned opt-outs).
    - **Content** (``payload``): the rendered provider body and custom fields, ``{"body": …, "custom_fields": …}``
      (stored as JSON); ``None`` when nothing was rendered.
    - **Timing** (``planned_send_at``, ``send_at``, ``held``): the campaign's send time, the actual one (moved by
      the night rule or the FriendTalk window) and which rule moved it.
    - **Cost and goal** (``cost_krw``, ``goal_event``, ``attribution_days``): the estimated price of the message
      type, and the campaign goal used for conversion exits and attribution.
    - **Re-entry** (``reentry_key``): the value of the campaign's ``reentry.once_per`` column for the customer (one
      entry per value), ``None`` without such a rule.
    - **Bookkeeping** (``attempts``, ``created_at``, ``updated_at``): send attempts so far and the run reference
      times that created and last changed the row.
    """

    intent_id: str
    idempotency_key: str
    run_id: str
    run_date: date
    campaign_id: str
    step: str
    customer_id: str
    member_id: str | None = None
    segment: str | None = None
    tier: str | None = None
    channel: str
    destination: str
    message_kind: str
    message_type: str | None = None
    fallback_type: str | None = None
    variant: str | None = None
    is_control: bool = False
    is_holdout: bool = False
    priority: int
    status: str
    reason: str | None = None
    detail: str | None = None
    quiet_hours: str | None = None
    night_consent: bool = False
    has_channel_consent: bool | None = None
    is_opted_out: bool | None = None
    recipient: str | None = None
    recipient_masked: str | None = None
    recipient_hash: str | None = None
    payload: dict[str, Any] | None = None
    planned_send_at: datetime | None = None
    send_at: datetime | None = None
    held: str | None = None
    cost_krw: float = 0.0
    goal_event: str | None = None
    attribution_days: int | None = None
    reentry_key: str | None = None
    attempts: int = 0
    created_at: datetime
    updated_at: datetime

    def as_row(self) -> dict[str, Any]:
        """Column → value for an insert into ``intents`` (the ledger encodes timestamps and the payload)."""
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Intent:
        """The intent of a ledger row (column → value, payload already decoded); :data:`LEDGER_ONLY` columns and
        any other extra key are left out."""
        return cls(**{name: row[name] for name in FIELDS if name in row})


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Intent))
# Columns of ``intents`` that are not fields: written only by the sender and the batch journal.
LEDGER_ONLY: tuple[str, ...] = (
    "batch_id",
    "group_id",
    "message_id",
    "provider_status_code",
    "provider_status_message",
    "replacement",
    "sent_at",
    "final_at",
)
