"""Plans every campaign due for a run together: one intent per customer with its decision and reason.

Campaigns are planned highest priority first, so a customer who qualifies for several goes to the most important
one (``daily_limit``), and frequency caps count both the ledger's messages and those planned earlier in this run.
Intents that already exist for the run date are never planned again (re-running a date sends nothing new).
Planning reads the audience, the ledger and the warehouse but writes nothing: the same inputs and reference time
give the same plan, which is what makes the preview equal to the send.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from activation import assignment
from activation.audience import AudienceError, AudienceReader, trigger_conditions
from activation.config.loader import ActivationConfig
from activation.config.models import Campaign
from activation.conversions import ConversionError, ConversionLookup
from activation.intent import Intent
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.personalize import render_message, variable_columns
from activation.planning import policies as p
from activation.schedule import (
    due_campaigns,
    in_friendtalk_window,
    is_night,
    next_friendtalk_opening,
    next_morning,
)
from include.core.pii import mask_email, mask_phone

log = logging.getLogger(__name__)


def idempotency_key(campaign_id: str, run_date: date, customer_id: str, step: str) -> str:
    """The natural key of an intent: one message per campaign, run date, customer and step."""
    return f"{campaign_id}:{run_date.isoformat()}:{customer_id}:{step}"


def intent_id(key: str) -> str:
    """32 hex characters of SHA-256 of the idempotency key (stable on every engine)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def mask_recipient(channel: str, recipient: str | None) -> str | None:
    if recipient is None:
        return None
    return (
        mask_email(recipient)
        if channel == "email"
        else (mask_phone(recipient) if channel != "push" else recipient)
    )


@dataclass
class CampaignPlan:
    """The plan of one campaign: new intents, the ones the ledger already holds, or the error that stopped it."""

    campaign: Campaign
    send_at: datetime
    intents: list[Intent] = field(default_factory=list)
    existing: list[Intent] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def all_intents(self) -> list[Intent]:
        return self.existing + self.intents


@dataclass
class Plan:
    """Every due campaign of one run date."""

    run_id: str
    run_date: date
    reference_time: datetime
    campaigns: list[CampaignPlan]

    def get(self, campaign_id: str) -> CampaignPlan | None:
        return next((c for c in self.campaigns if c.campaign.id == campaign_id), None)

    def new_rows(self, campaign_ids: set[str] | None = None) -> list[Intent]:
        return [
            i
            for c in self.campaigns
            if campaign_ids is None or c.campaign.id in campaign_ids
            for i in c.intents
        ]


class Planner:
    """Builds a :class:`Plan` from the configuration, the audiences, the ledger and the warehouse."""

    def __init__(
        self,
        config: ActivationConfig,
        ledger: Ledger,
        reader: AudienceReader,
        conversions: ConversionLookup | None = None,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.ledger = ledger
        self.reader = reader
        self.conversions = conversions or ConversionLookup(reader.warehouse, self.settings.conversions)

    def plan(self, run_date: date, reference_time: datetime, run_id: str) -> Plan:
        """Plans every campaign due on ``run_date`` (highest priority first)."""
        if reference_time.tzinfo is None:
            raise ValueError("reference_time must be timezone-aware")
        due = due_campaigns(self.config.campaigns, run_date, self.settings.timezone)
        plan = Plan(run_id, run_date, reference_time, [CampaignPlan(c, at) for c, at in due])
        if not due:
            return plan
        existing = self.ledger.intents_for_run(run_date)
        by_campaign: dict[str, list[Intent]] = defaultdict(list)
        for known in existing:
            by_campaign[known.campaign_id].append(known)
        self._reserved: Counter[str] = Counter(r["customer_id"] for r in self.ledger.reservations(run_date))
        days = max(
            [self.settings.frequency_cap.days] + [c.frequency_cap.days for c, _ in due if c.frequency_cap]
        )
        times = [at for _, at in due]
        span = timedelta(days=days + 2)
        self._events: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
        for ev in self.ledger.cap_events(min(times) - span, max(times) + span):
            self._events[ev["customer_id"]].append((ev["send_at"], ev["message_kind"], ev["campaign_id"]))
        self._opt_outs = p.OptOuts.of(self.ledger.opt_out_keys())
        for cp in plan.campaigns:
            cp.existing = by_campaign.get(cp.campaign.id, [])
            review = self.config.reviews.get(cp.campaign.id)
            if review is not None:  # recorded with every plan: preview, run summary (ledger runs), run files
                cp.warnings.append(review.note())
            try:
                self._plan_campaign(cp, run_date, reference_time, run_id)
            except (AudienceError, ConversionError) as exc:
                cp.error = str(exc)
                cp.intents = []
                log.error("campaign %s not planned: %s", cp.campaign.id, exc)
        return plan

    # ---- one campaign ----------------------------------------------------------------------------------------------
    def _plan_campaign(self, cp: CampaignPlan, run_date: date, ref: datetime, run_id: str) -> None:
        c, st = cp.campaign, self.settings
        needed = variable_columns(c, st, self.config.templates)
        reentry = c.effective_reentry()
        if reentry is not None and reentry.once_per:
            needed = needed | {reentry.once_per}
        audience = self.reader.read(
            c.audience.model,
            list(c.audience.filter) + trigger_conditions(c),
            run_date,
            required_columns=needed,
        )
        cp.warnings.extend(audience.warnings)
        done = {i.idempotency_key for i in cp.existing}
        rows = [
            r for r in audience.rows if idempotency_key(c.id, run_date, r["customer_id"], c.step) not in done
        ]
        converted: set[str] = set()
        if c.exit_on_conversion and c.goal and rows:
            first = self.ledger.first_sent(c.id)
            candidates = {
                r["customer_id"]: first[r["customer_id"]] for r in rows if r["customer_id"] in first
            }
            converted = self.conversions.converted(c.goal.event, candidates, ref)
        entries = self.ledger.entries(c.id, c.step) if reentry is not None and rows else {}
        variants = c.resolved_variants()
        weights = [(v.id, v.weight) for v in variants]
        by_id = {v.id: v for v in variants}
        # With max_recipients and more rows than that, rows are decided in the rank order that chooses recipients,
        # and messages are rendered only until max_recipients are chosen: the rest are checked by every rule that
        # needs no rendered text and, passing them, suppressed as max_recipients (a 1M audience for 100k messages
        # rendered ~930k texts before). The chosen set is the same as ranking every renderable row.
        cap = c.max_recipients
        order = range(len(rows))
        if cap is not None and len(rows) > cap:
            salt = st.assignment_salt
            order = sorted(order, key=lambda k: assignment.rank(c.id, str(rows[k]["customer_id"]), salt))
        decided: list[Intent | None] = [None] * len(rows)
        eligible: list[Intent] = []
        for k in order:
            row = rows[k]
            intent = self._base(c, row, run_date, ref, run_id, cp.send_at, weights)
            if reentry is not None and reentry.once_per and row.get(reentry.once_per) is not None:
                intent.reentry_key = str(row[reentry.once_per])[:200]
            blocked = p.reentry_blocked(reentry, intent, entries.get(intent.customer_id, ()))
            render = cap is None or len(eligible) < cap
            self._decide(intent, row, c, by_id[intent.variant], converted, ref, blocked, render=render)
            decided[k] = intent
            if intent.status == s.PLANNED:
                if render:
                    eligible.append(intent)
                else:
                    self._suppress(intent, p.MAX_RECIPIENTS, f"over max_recipients {cap}")
        cp.intents.extend(i for i in decided if i is not None)
        for intent in eligible:
            if intent.is_control:
                self._decision(intent, s.CONTROL, p.CONTROL_GROUP)
            elif intent.is_holdout:
                self._decision(intent, s.HOLDOUT, p.HOLDOUT)
        for intent in cp.intents:
            if intent.status in s.RESERVING_STATUSES:
                self._reserved[intent.customer_id] += 1
            if intent.status in s.CAP_STATUSES:
                self._events[intent.customer_id].append((intent.send_at, c.kind, c.id))

    def _base(
        self,
        c: Campaign,
        row: dict,
        run_date: date,
        ref: datetime,
        run_id: str,
        send_at: datetime,
        weights: list,
    ) -> Intent:
        st = self.settings
        cid = str(row["customer_id"])
        key = idempotency_key(c.id, run_date, cid, c.step)
        return Intent(  # contact, message type, payload and cost are filled in by _decide
            intent_id=intent_id(key),
            idempotency_key=key,
            run_id=run_id,
            run_date=run_date,
            campaign_id=c.id,
            step=c.step,
            customer_id=cid,
            member_id=row.get("member_id"),
            segment=row.get("segment"),
            tier=row.get("tier"),
            channel=c.channel,
            destination=st.destination_for(c.channel),
            message_kind=c.kind,
            variant=assignment.pick_variant(c.id, cid, st.assignment_salt, weights),
            is_control=assignment.in_control(cid, st.assignment_salt, st.control_group_pct),
            is_holdout=assignment.in_holdout(c.id, cid, st.assignment_salt, c.holdout_pct),
            priority=c.priority,
            status=s.PLANNED,
            quiet_hours=c.quiet_hours,
            planned_send_at=send_at,
            send_at=send_at,
            goal_event=c.goal.event if c.goal else None,
            attribution_days=c.goal.attribution_days if c.goal else None,
            created_at=ref,
            updated_at=ref,
        )

    @staticmethod
    def _decision(intent: Intent, status: str, reason: str | None, detail: str | None = None) -> None:
        intent.status, intent.reason, intent.detail = status, reason, detail
        if status != s.PLANNED:
            intent.recipient = None  # only messages that go out keep the raw address
            intent.cost_krw = 0.0

    def _suppress(self, intent: Intent, reason: str, detail: str | None = None) -> None:
        self._decision(intent, s.SUPPRESSED, reason, detail)

    def _decide(
        self,
        intent: Intent,
        row: dict,
        c: Campaign,
        variant: Any,
        converted: set[str],
        ref: datetime,
        reentry_blocked: str | None = None,
        *,
        render: bool = True,
    ) -> None:
        st = self.settings
        cid = intent.customer_id
        # 1.-3. contact, global opt-out, advertising consent for the channel (shared with the audience exports)
        advertising = c.kind == "advertising"
        planned_at = intent.send_at
        send_day = planned_at.astimezone(st.tz).date()
        t = p.precheck(c.channel, c.kind, row, send_day, self._opt_outs)
        intent.recipient = t.recipient
        intent.recipient_masked = mask_recipient(c.channel, t.recipient)
        intent.recipient_hash = t.recipient_hash
        intent.is_opted_out = t.is_opted_out
        intent.has_channel_consent = t.has_channel_consent
        if t.reason:
            return self._suppress(intent, t.reason, t.detail)
        # 4. exit on conversion
        if cid in converted:
            return self._suppress(intent, p.CONVERTED, f"goal {c.goal.event if c.goal else ''} reached")
        # 4. the campaign's re-entry rule
        if reentry_blocked:
            return self._suppress(intent, p.REENTRY, reentry_blocked)
        # 5. timing: late runs, night rule, FriendTalk window
        if ref - planned_at > timedelta(hours=st.max_send_delay_hours):
            return self._suppress(intent, p.SEND_WINDOW_PASSED, f"planned {planned_at.isoformat()}")
        at = max(planned_at, ref)
        night_ok = p.consent_state(row, "consent_night", send_day) is None
        intent.night_consent = night_ok
        if advertising and c.channel != "email" and is_night(at) and not night_ok:
            if c.quiet_hours == "drop":
                return self._suppress(intent, p.NIGHT_NO_CONSENT, "advertising 21:00-08:00 KST")
            at, intent.held = next_morning(at), p.NIGHT_HOLD
        if c.channel == "friendtalk" and not in_friendtalk_window(at):
            if c.quiet_hours == "drop":
                return self._suppress(intent, p.FRIENDTALK_WINDOW, "FriendTalk outside 08:00-20:00 KST")
            at, intent.held = next_friendtalk_opening(at), intent.held or p.FRIENDTALK_HOLD
        intent.send_at = at
        # 6. render and length (not for a row already beyond max_recipients: it gets no message either way)
        if render:
            self._render(intent, row, c, variant, at, send_day)
            if intent.status != s.PLANNED:
                return None
        # 7. the campaign's own cap, 8. one campaign per customer per run date, 9. the global cap
        self._caps(intent, c, at, advertising)
        return None

    def _render(
        self, intent: Intent, row: dict, c: Campaign, variant: Any, at: datetime, send_day: date
    ) -> None:
        st = self.settings
        cid = intent.customer_id
        fallback_ok = c.channel == "alimtalk" or (
            c.channel == "friendtalk" and p.consent_state(row, "consent_sms", send_day) is None
        )
        rendered = render_message(
            c, variant, st, self.config.templates, row, at, sms_fallback_allowed=fallback_ok
        )
        if rendered.reason:
            return self._suppress(intent, rendered.reason, rendered.detail)
        fields = {
            "intent_id": intent.intent_id,
            "campaign_id": c.id,
            "variant": intent.variant,
            "customer_id": cid[:100],
            "run_date": intent.run_date.isoformat(),
        }
        if len(intent.idempotency_key) <= 100:
            fields["idempotency_key"] = intent.idempotency_key
        intent.payload = {"body": rendered.body, "custom_fields": fields}
        intent.message_type = rendered.message_type
        intent.fallback_type = rendered.fallback_type
        intent.cost_krw = st.unit_cost(rendered.message_type or "")

    def _caps(self, intent: Intent, c: Campaign, at: datetime, advertising: bool) -> None:
        st = self.settings
        cid = intent.customer_id
        events = self._events.get(cid, [])
        if (
            c.frequency_cap
            and p.count_within(events, at, c.frequency_cap.days, kind=None, campaign=c.id)
            >= c.frequency_cap.max
        ):
            return self._suppress(
                intent, p.CAMPAIGN_FREQUENCY_CAP, f"{c.frequency_cap.max} per {c.frequency_cap.days} days"
            )
        if self._reserved[cid] >= st.daily_limit:
            return self._suppress(intent, p.LOWER_PRIORITY, f"daily_limit {st.daily_limit}")
        cap = st.frequency_cap
        if cap.applies_to == "all" or advertising:
            kind = None if cap.applies_to == "all" else "advertising"
            if p.count_within(events, at, cap.days, kind=kind, campaign=None) >= cap.max:
                return self._suppress(intent, p.GLOBAL_FREQUENCY_CAP, f"{cap.max} per {cap.days} days")
        return None
