"""Hands planned intents to their destinations in crash-safe batches, and reads delivery results back.

Before each batch the send-time guard runs again over its intents (opt-outs learned minutes ago, the night rule and
the FriendTalk window at the *actual* send time, advertising marks present); whatever fails is recorded with its
reason and never handed over. Batches a crashed run left in flight are finished first, by the destination's own
reconciliation, so nothing is sent twice and nothing is lost.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import update

from activation.config.loader import ActivationConfig
from activation.destinations.base import BatchInfo, MessageDestination, OutboundMessage
from activation.destinations.limits import DELIVERY_REPORTS
from activation.destinations.solapi import ScheduleInPastError
from activation.intent import Intent
from activation.ledger import Ledger, as_utc
from activation.ledger import schema as s
from activation.planning import policies as p
from activation.schedule import in_friendtalk_window, is_night, next_friendtalk_opening, next_morning
from activation.sending.journal import LedgerJournal
from activation.text import is_marked
from include.core.http import AmbiguousRequestError, HttpError, PermanentError, TransientError

log = logging.getLogger(__name__)
SCHEDULE_MARGIN = timedelta(minutes=1)


@dataclass
class SendReport:
    """What one send pass did."""

    batches: int = 0
    resumed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    guard: dict[str, int] = field(default_factory=dict)
    delivery: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    opt_outs_learned: int = 0

    def add(self, counts: dict[str, int], target: str = "counts") -> None:
        bucket = getattr(self, target)
        for k, v in counts.items():
            bucket[k] = bucket.get(k, 0) + v


def outbound(intent: Intent) -> OutboundMessage:
    """The message a destination receives, rebuilt from the ledger's intent (identical on every attempt)."""
    payload = intent.payload or {}
    return OutboundMessage(
        intent_id=intent.intent_id,
        idempotency_key=intent.idempotency_key,
        channel=intent.channel,
        recipient=intent.recipient,
        body=payload.get("body") or {},
        custom_fields=payload.get("custom_fields") or {},
        send_at=as_utc(intent.send_at),
    )


def batch_info(row: dict) -> BatchInfo:
    return BatchInfo(
        batch_id=row["batch_id"],
        destination=row["destination"],
        campaign_id=row["campaign_id"],
        send_at=as_utc(row.get("send_at")),
        scheduled=bool(row.get("scheduled")),
        group_id=row.get("group_id"),
        status=row.get("status", s.B_OPEN),
    )


class Sender:
    """Sends what the ledger holds as sendable, through destinations made by ``destination_factory``."""

    def __init__(
        self,
        config: ActivationConfig,
        ledger: Ledger,
        destination_factory: Callable[[str], MessageDestination],
        *,
        reference_time: datetime,
        run_id: str,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.ledger = ledger
        self.factory = destination_factory
        self.at = reference_time
        self.run_id = run_id
        self._destinations: dict[str, MessageDestination] = {}
        self._down: set[str] = set()

    def destination(self, name: str) -> MessageDestination:
        if name not in self._destinations:
            self._destinations[name] = self.factory(name)
        return self._destinations[name]

    def close(self) -> None:
        for d in self._destinations.values():
            d.close()

    # ---- recovery ---------------------------------------------------------------------------------------------------
    def resume_in_flight(self, report: SendReport) -> None:
        """Finishes batches a previous (crashed) process left between ``open`` and ``sent``."""
        for row in self.ledger.batches_in_flight():
            info = batch_info(row)
            intents = [i for i in self.ledger.batch_intents(info.batch_id) if i.status == s.SENDING]
            journal = LedgerJournal(self.ledger, info.batch_id, self.at, self.run_id)
            if not intents:
                self.ledger.set_batch(
                    info.batch_id, self.at, status=s.B_SENT if info.group_id else s.B_ABANDONED
                )
                continue
            log.info(
                "resuming batch %s (%s, %d messages, state %s)",
                info.batch_id,
                info.destination,
                len(intents),
                info.status,
            )
            try:
                self.destination(info.destination).resume_batch(info, [outbound(i) for i in intents], journal)
                if info.group_id is None:
                    self.ledger.set_batch(info.batch_id, self.at, status=s.B_ABANDONED)
                report.resumed += 1
            except HttpError as exc:
                report.errors.append(f"resume of batch {info.batch_id} ({info.destination}) failed: {exc}")
                self._down.add(info.destination)
            report.add(journal.counts)
            report.opt_outs_learned += journal.opt_outs_learned

    def expire_retries(self, report: SendReport) -> None:
        """Retryable failures past their attempts or age become final (``retry_exhausted``)."""
        c = s.intents.c
        cutoff = self.at - timedelta(days=self.settings.retry.max_age_days)
        with self.ledger.tx() as conn:
            res = conn.execute(
                update(s.intents)
                .where(c.status == s.RETRY, c.batch_id.is_(None))
                .where((c.attempts >= self.settings.retry.max_attempts) | (c.planned_send_at < cutoff))
                .values(status=s.FAILED, reason=p.RETRY_EXHAUSTED, final_at=self.at, updated_at=self.at)
            )
        if res.rowcount:
            report.add({p.RETRY_EXHAUSTED: res.rowcount}, "guard")

    # ---- the guard ----------------------------------------------------------------------------------------------
    def guard(self, intents: list[Intent], report: SendReport) -> list[Intent]:
        """Re-checks every rule that can change between planning and sending; returns the intents that may go
        (with the send time and hold the check moved them to)."""
        opt_outs = p.OptOuts.of(self.ledger.opt_out_keys())
        ok: list[Intent] = []
        with self.ledger.tx() as conn:
            for intent in intents:
                reason, detail, changes = self._check(intent, opt_outs)
                if reason:
                    self.ledger.update_intent(
                        conn,
                        intent.intent_id,
                        self.at,
                        status=s.SUPPRESSED,
                        reason=reason,
                        detail=detail,
                        recipient=None,
                    )
                    report.add({reason: 1}, "guard")
                    continue
                if changes:
                    self.ledger.update_intent(conn, intent.intent_id, self.at, **changes)
                ok.append(replace(intent, **changes) if changes else intent)
        return ok

    def _check(self, intent: Intent, opt_outs: p.OptOuts) -> tuple[str | None, str | None, dict]:
        st = self.settings
        if not intent.recipient:
            return p.INVALID_CONTACT, "no recipient on the intent", {}
        if opt_outs.has(intent.customer_id, intent.recipient_hash):
            return p.OPTED_OUT, "opt-out learned before sending", {}
        advertising = intent.message_kind == "advertising"
        if intent.channel == "alimtalk" and advertising:
            return p.MISSING_AD_MARKS, "alimtalk may carry only informational messages", {}
        send_at = as_utc(intent.send_at)
        if intent.status == s.PLANNED and self.at - send_at > timedelta(hours=st.max_send_delay_hours):
            return p.SEND_WINDOW_PASSED, f"planned {send_at.isoformat()}", {}
        at = max(send_at, self.at)
        changes: dict = {}
        if advertising and intent.channel != "email" and is_night(at) and not intent.night_consent:
            if intent.quiet_hours == "drop":
                return p.NIGHT_NO_CONSENT, "advertising 21:00-08:00 KST at send time", {}
            at = next_morning(at)
            changes["held"] = p.NIGHT_HOLD
        if intent.channel == "friendtalk" and not in_friendtalk_window(at):
            if intent.quiet_hours == "drop":
                return p.FRIENDTALK_WINDOW, "FriendTalk outside 08:00-20:00 KST at send time", {}
            at = next_friendtalk_opening(at)
            changes["held"] = changes.get("held") or p.FRIENDTALK_HOLD
        if at != send_at:
            changes["send_at"] = at
        body = (intent.payload or {}).get("body") or {}
        if advertising and not is_marked(
            str(body.get("text", "")),
            sender_name=st.shop_name,
            sender_contact=st.sender_contact,
            optout_080=st.optout_080,
        ):
            return p.MISSING_AD_MARKS, "advertising text lacks (광고), sender or opt-out line", {}
        return None, None, changes

    # ---- sending ------------------------------------------------------------------------------------------------
    def _group_size(self, dest: MessageDestination) -> int:
        lim = dest.limits
        if dest.name == "solapi":
            conn = getattr(getattr(dest, "client", None), "conn", None)
            extra = getattr(conn, "extra", {}) or {}
            return int(min(lim.max_per_group or 1_000_000, int(extra.get("max_group_messages", 100_000))))
        return lim.max_batch_messages

    def send(self, campaign_ids: set[str] | None, report: SendReport) -> None:
        """Guards and sends every sendable intent (of the given campaigns), batch by batch."""
        intents = self.ledger.sendable(
            campaign_ids=campaign_ids, max_attempts=self.settings.retry.max_attempts
        )
        groups: dict[tuple, list[Intent]] = defaultdict(list)
        for intent in intents:
            groups[(intent.destination, intent.campaign_id, intent.channel)].append(intent)
        for (dest_name, campaign_id, _channel), members in sorted(groups.items()):
            if dest_name in self._down:
                continue
            try:
                dest = self.destination(dest_name)
            except (LookupError, ValueError, PermanentError) as exc:
                report.errors.append(f"destination {dest_name} unavailable: {exc}")
                self._down.add(dest_name)
                continue
            size = self._group_size(dest)
            for start in range(0, len(members), size):
                if dest_name in self._down:
                    break
                chunk = self.guard(members[start : start + size], report)
                by_time: dict[tuple, list[Intent]] = defaultdict(list)
                for intent in chunk:
                    at = as_utc(intent.send_at)
                    scheduled = at > self.at + SCHEDULE_MARGIN
                    by_time[(scheduled, at if scheduled else None)].append(intent)
                for (scheduled, at), batch_rows in sorted(
                    by_time.items(), key=lambda kv: (kv[0][0], kv[0][1] or self.at)
                ):
                    self._send_batch(dest, campaign_id, batch_rows, scheduled, at, report)

    def _send_batch(
        self,
        dest: MessageDestination,
        campaign_id: str,
        rows: list[Intent],
        scheduled: bool,
        at: datetime | None,
        report: SendReport,
    ) -> None:
        batch_id = "b" + uuid.uuid4().hex[:24]
        batch = {
            "batch_id": batch_id,
            "run_id": self.run_id,
            "destination": dest.name,
            "campaign_id": campaign_id,
            "status": s.B_OPEN,
            "send_at": at,
            "scheduled": scheduled,
            "message_count": len(rows),
        }
        taken = set(self.ledger.open_batch(batch, [r.intent_id for r in rows], self.at))
        messages = [outbound(r) for r in rows if r.intent_id in taken]
        if not messages:
            self.ledger.set_batch(batch_id, self.at, status=s.B_ABANDONED)
            return
        info = BatchInfo(batch_id, dest.name, campaign_id, at, scheduled)
        journal = LedgerJournal(self.ledger, batch_id, self.at, self.run_id)
        report.batches += 1
        try:
            dest.send_batch(info, messages, journal)
        except ScheduleInPastError as exc:
            self._release(batch_id, messages, p.SCHEDULE_IN_PAST, report)
            report.errors.append(str(exc))
        except AmbiguousRequestError as exc:
            report.errors.append(f"batch {batch_id}: left in flight, resumed next run: {exc}")
            self._down.add(dest.name)
        except (TransientError, PermanentError, ValueError) as exc:
            if info.group_id is None:
                self._release(batch_id, messages, None, report)
            report.errors.append(f"{dest.name} batch {batch_id} ({campaign_id}) stopped: {exc}")
            self._down.add(dest.name)
        report.add(journal.counts)
        report.opt_outs_learned += journal.opt_outs_learned

    def _release(
        self, batch_id: str, messages: list[OutboundMessage], reason: str | None, report: SendReport
    ) -> None:
        """Nothing of the batch reached a provider: its intents become retryable (carried to the next run)."""
        c = s.intents.c
        with self.ledger.tx() as conn:
            for m in messages:
                conn.execute(
                    update(s.intents)
                    .where(c.intent_id == m.intent_id, c.status == s.SENDING)
                    .values(
                        status=s.RETRY,
                        batch_id=None,
                        group_id=None,
                        reason=reason,
                        updated_at=self.at,
                    )
                )
            conn.execute(
                update(s.batches)
                .where(s.batches.c.batch_id == batch_id)
                .values(status=s.B_ABANDONED, updated_at=self.at)
            )
        report.add({"released": len(messages)})

    # ---- delivery reports ------------------------------------------------------------------------------------------
    def reconcile(self, report: SendReport, *, days: int = 7) -> None:
        """Reads the provider's latest status for recent batches (delivered, failed, opt-outs)."""
        since = self.at - timedelta(days=days)
        for name in sorted(set(self.settings.channel_destinations.values()) & DELIVERY_REPORTS):
            if name in self._down:
                continue
            rows = self.ledger.batches_to_reconcile(name, since)
            if not rows:
                continue
            try:
                dest = self.destination(name)
                for row in rows:
                    info = batch_info(row)
                    journal = LedgerJournal(self.ledger, info.batch_id, self.at, self.run_id)
                    journal.results(dest.poll_results(info))
                    report.add(journal.counts, "delivery")
                    report.opt_outs_learned += journal.opt_outs_learned
            except (HttpError, LookupError, ValueError) as exc:
                report.errors.append(f"reading {name} results failed: {exc}")
