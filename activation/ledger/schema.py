"""Tables of the send ledger (SQLAlchemy Core; SQLite locally, PostgreSQL in production).

``intents`` holds one row per (campaign, run date, customer, step) — sent, suppressed, holdout or control — with
its reason, assignment, rendered payload and provider status. ``batches`` records each provider request group
before any message is handed over, ``opt_outs`` the opt-outs learned from providers, ``sync_state`` the last
successfully synced state of each audience member, ``runs`` one row per activation run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData()

# Intent states. planned → sending → accepted → delivered | failed; retry (carried to the next run);
# decisions without a send: suppressed (with reason), holdout, control.
PLANNED = "planned"
SENDING = "sending"
ACCEPTED = "accepted"
DELIVERED = "delivered"
FAILED = "failed"
RETRY = "retry"
SUPPRESSED = "suppressed"
HOLDOUT = "holdout"
CONTROL = "control"

STATUSES = (PLANNED, SENDING, ACCEPTED, DELIVERED, FAILED, RETRY, SUPPRESSED, HOLDOUT, CONTROL)
# States that mean "this customer gets (or got) this message": counted by frequency caps.
CAP_STATUSES = (PLANNED, SENDING, ACCEPTED, DELIVERED, RETRY)
# States that take the customer's slot for the run date (priority between campaigns). A message that failed at
# the provider still took the slot: the outcome of one campaign never depends on when another one was sent.
RESERVING_STATUSES = (*CAP_STATUSES, FAILED, HOLDOUT, CONTROL)
# States that count as an entry into a campaign for its re-entry rule (``reentry``): sent or on its way, failed at the
# provider, or held out. A suppressed intent is no entry: the customer may enter on a later date.
ENTRY_STATUSES = RESERVING_STATUSES
SENDABLE_STATUSES = (PLANNED, RETRY)
OPEN_STATUSES = (PLANNED, SENDING, ACCEPTED, RETRY)

# Batch states: open (intents assigned, nothing at the provider) → group_created (provider id recorded before any
# message is added) → added (every message handed over) → sent (sent or scheduled at the provider); abandoned.
B_OPEN = "open"
B_GROUP = "group_created"
B_ADDED = "added"
B_SENT = "sent"
B_ABANDONED = "abandoned"
INFLIGHT_BATCH = (B_OPEN, B_GROUP, B_ADDED)


class UtcDateTime(TypeDecorator):
    """Timestamps stored as UTC on every engine and read back timezone-aware (SQLite keeps no offset itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()

intents = Table(
    "intents",
    metadata,
    Column("intent_id", String(32), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("run_id", String(200), nullable=False),
    Column("run_date", Date, nullable=False),
    Column("campaign_id", String(40), nullable=False),
    Column("step", String(16), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("member_id", String(100)),
    Column("segment", String(8)),
    Column("tier", String(16)),
    Column("channel", String(16), nullable=False),
    Column("destination", String(16), nullable=False),
    Column("message_kind", String(16), nullable=False),
    Column("message_type", String(8)),
    Column("fallback_type", String(8)),
    Column("variant", String(20)),
    Column("is_control", Boolean, nullable=False, default=False),
    Column("is_holdout", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    Column("detail", Text),
    Column("quiet_hours", String(8)),
    Column("night_consent", Boolean, nullable=False, default=False),
    Column("has_channel_consent", Boolean),  # the audience's consent for the channel when planned
    Column("is_opted_out", Boolean),  # opted out (audience flag or learned) when planned
    Column("recipient", Text),  # the raw address (operational; never exported to the warehouse)
    Column("recipient_masked", String(64)),
    Column("recipient_hash", String(64)),
    Column("payload", Text),  # JSON of the rendered provider body (without the recipient)
    Column("planned_send_at", TS),
    Column("send_at", TS),
    Column("held", String(32)),
    Column("cost_krw", Double, nullable=False, default=0.0),
    Column("goal_event", String(63)),
    Column("attribution_days", Integer),
    Column(
        "reentry_key", String(200)
    ),  # the value of the campaign's reentry.once_per column for this customer
    Column("batch_id", String(40)),
    Column("group_id", String(64)),
    Column("message_id", String(64)),
    Column("provider_status_code", String(16)),
    Column("provider_status_message", Text),
    Column("replacement", Boolean),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("final_at", TS),
    Index("ix_intents_run", "run_date", "campaign_id"),
    Index("ix_intents_status", "status", "destination"),
    Index("ix_intents_customer", "customer_id", "send_at"),
    Index("ix_intents_batch", "batch_id"),
    Index("ix_intents_updated", "updated_at"),
    Index("ix_intents_entries", "campaign_id", "customer_id"),
)
# Columns added after a ledger's first release: (name, DDL type). ``Ledger`` adds them to an older ledger, whose
# ``create_all`` leaves existing tables as they are.
INTENT_COLUMNS_ADDED: tuple[tuple[str, str], ...] = (("reentry_key", "VARCHAR(200)"),)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("run_id", String(200), nullable=False),
    Column("destination", String(16), nullable=False),
    Column("campaign_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("group_id", String(64)),
    Column("send_at", TS),
    Column("scheduled", Boolean, nullable=False, default=False),
    Column("message_count", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_batches_status", "destination", "status"),
)

opt_outs = Table(
    "opt_outs",
    metadata,
    Column("opt_out_id", String(64), primary_key=True),
    Column("customer_id", String(100)),
    Column("contact_hash", String(64)),
    Column("source", String(40), nullable=False),
    Column("detail", Text),
    Column("run_id", String(200)),
    Column("learned_at", TS, nullable=False),
    Index("ix_optouts_customer", "customer_id"),
    Index("ix_optouts_contact", "contact_hash"),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("sync_id", String(40), primary_key=True),
    Column("member_key", String(100), primary_key=True),
    Column("destination_user_id", String(100)),
    Column("fingerprint", String(64), nullable=False),
    Column("state", JSON, nullable=False),
    Column("present", Boolean, nullable=False),
    Column("run_date", Date, nullable=False),
    Column("synced_at", TS, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(200), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("run_date", Date, nullable=False),
    Column("reference_time", TS, nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", JSON),
    Column("attempts", Integer, nullable=False, default=1),
    Column("updated_at", TS, nullable=False),
)
