"""The planned send list of a run, as the send-list quality gate reads it (before anything is sent).

:func:`activation.api.plan_and_send` hands a :class:`SendList` to its ``before_send`` hook after planning and before
committing or sending anything; a hook that raises stops the run with nothing sent. The Great Expectations gate
(``expectations.validate_send_list``) takes ``send_list.frame()`` and ``send_list.campaigns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from activation.intent import Intent
from activation.ledger import schema as s
from activation.planning import Plan
from include.core.contracts import SEND_LIST_COLUMNS


@dataclass
class SendList:
    """The messages a run is about to send (new planned intents of the chosen campaigns)."""

    run_id: str
    run_date: date
    reference_time: datetime
    rows: list[Intent] = field(default_factory=list)
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: Plan, campaign_ids: set[str] | None = None) -> SendList:
        out = cls(plan.run_id, plan.run_date, plan.reference_time)
        for cp in plan.campaigns:
            c = cp.campaign
            if campaign_ids is not None and c.id not in campaign_ids:
                continue
            out.campaigns[c.id] = {
                "expected_min": None,
                "expected_max": None,
                "max_recipients": c.max_recipients,
            }
            out.rows.extend(i for i in cp.intents if i.status == s.PLANNED)
        return out

    def records(self) -> list[dict[str, Any]]:
        """One dict per message with the gate's columns (``planned_send_at`` is the actual, timezone-aware send time)."""
        recs = []
        for i in self.rows:
            body = (i.payload or {}).get("body") or {}
            recs.append(
                {
                    "intent_id": i.intent_id,
                    "campaign_id": i.campaign_id,
                    "customer_id": i.customer_id,
                    "channel": i.channel,
                    "message_kind": i.message_kind,
                    "message_type": i.message_type,
                    "variant": i.variant,
                    "recipient": i.recipient,
                    "has_channel_consent": bool(i.has_channel_consent),
                    "consent_night": bool(i.night_consent),
                    "planned_send_at": i.send_at,
                    "is_opted_out": bool(i.is_opted_out),
                    "is_holdout": bool(i.is_holdout),
                    "is_control": bool(i.is_control),
                    "text": body.get("text"),
                }
            )
        return recs

    def frame(self) -> Any:
        """The send list as a pandas DataFrame (contacts included: keep it in memory, never log it)."""
        import pandas as pd

        frame = pd.DataFrame.from_records(self.records(), columns=list(SEND_LIST_COLUMNS))
        frame["planned_send_at"] = pd.to_datetime(frame["planned_send_at"], utc=True)
        return frame
