"""Reason codes and the per-customer checks, in the fixed order the planner applies them.

The order (documented in docs/campaigns.md) is part of the contract: every suppressed intent carries the code of
the *first* rule it failed, so counts by reason are stable and comparable between runs. :func:`precheck` is the
targeting part of it (contact → opt-out → consent), the one implementation the planner and the audience exports
share, so an exported ``ready`` means what the planner would decide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from include.core import rules
from include.core.pii import hash_contact
from include.core.timezone import KST

# ---- reason codes (order = policy order) ----------------------------------------------------------------------------
INVALID_CONTACT = "invalid_contact"
OPTED_OUT = "opted_out"
NO_CONSENT = "no_consent"
CONSENT_EXPIRED = "consent_expired"
CONVERTED = "converted"
REENTRY = "reentry"
SEND_WINDOW_PASSED = "send_window_passed"
NIGHT_NO_CONSENT = "night_no_consent"
FRIENDTALK_WINDOW = "friendtalk_window"
MESSAGE_TOO_LONG = "message_too_long"
UNENCODABLE_TEXT = "unencodable_text"
CAMPAIGN_FREQUENCY_CAP = "campaign_frequency_cap"
LOWER_PRIORITY = "lower_priority"
GLOBAL_FREQUENCY_CAP = "global_frequency_cap"
MAX_RECIPIENTS = "max_recipients"
CONTROL_GROUP = "control_group"
HOLDOUT = "holdout"
# reasons set when sending (the send-time guard and provider results)
PROVIDER_OPT_OUT = "provider_opt_out"
MISSING_AD_MARKS = "missing_ad_marks"
RETRY_EXHAUSTED = "retry_exhausted"
SCHEDULE_IN_PAST = "schedule_in_past"
# a message moved, not suppressed
NIGHT_HOLD = "night_hold"
FRIENDTALK_HOLD = "friendtalk_hold"

POLICY_ORDER: tuple[tuple[str, str], ...] = (
    (
        INVALID_CONTACT,
        "no usable address for the channel (phone invalid/missing, e-mail missing, push needs a member)",
    ),
    (
        OPTED_OUT,
        "global opt-out: audience is_opted_out, or an opt-out learned from Solapi 1061/2061 or Channel Talk",
    ),
    (
        NO_CONSENT,
        "advertising without the channel's consent (consent_sms / consent_kakao / consent_email / consent_push)",
    ),
    (CONSENT_EXPIRED, "advertising consent older than consent_reconfirmation_years without re-confirmation"),
    (CONVERTED, "exit_on_conversion: the goal event happened after an earlier message of this campaign"),
    (
        REENTRY,
        "the campaign's re-entry rule (reentry: once, once_per a column, cooldown_days; triggered campaigns: one "
        "entry per trigger occurrence) — the customer already entered",
    ),
    (
        SEND_WINDOW_PASSED,
        "the planned send time is more than max_send_delay_hours before the run's reference time",
    ),
    (
        NIGHT_NO_CONSENT,
        "advertising 21:00-08:00 KST without night consent, campaign quiet_hours: drop (hold moves it to 08:00)",
    ),
    (
        FRIENDTALK_WINDOW,
        "FriendTalk outside 08:00-20:00 KST, campaign quiet_hours: drop (hold moves it to 08:00)",
    ),
    (MESSAGE_TOO_LONG, "over 2000 bytes EUC-KR for SMS/LMS, over 1000 characters for Kakao"),
    (UNENCODABLE_TEXT, "SMS/LMS text with characters EUC-KR cannot carry (emoji)"),
    (CAMPAIGN_FREQUENCY_CAP, "the campaign's own frequency_cap is reached"),
    (LOWER_PRIORITY, "daily_limit reached: a higher-priority campaign took the customer for this run date"),
    (GLOBAL_FREQUENCY_CAP, "the cross-campaign, cross-channel cap (settings frequency_cap) is reached"),
    (MAX_RECIPIENTS, "beyond the campaign's max_recipients (deterministic hash order)"),
    (CONTROL_GROUP, "global control group: recorded with status control, never sent"),
    (HOLDOUT, "campaign holdout: recorded with status holdout, never sent"),
)
SEND_TIME_REASONS: tuple[tuple[str, str], ...] = (
    (OPTED_OUT, "an opt-out learned after planning (checked again before every batch)"),
    (NIGHT_NO_CONSENT, "re-checked at the actual send time (a retried or late message)"),
    (FRIENDTALK_WINDOW, "re-checked at the actual send time"),
    (SEND_WINDOW_PASSED, "a retried or late message whose send time is too long past"),
    (
        MISSING_AD_MARKS,
        "defence in depth: advertising text without (광고), sender or opt-out line is never handed over",
    ),
    (RETRY_EXHAUSTED, "retryable failures beyond retry.max_attempts or retry.max_age_days"),
    (PROVIDER_OPT_OUT, "Solapi answered 1061/2061 (080 opt-out); the opt-out is kept in the ledger"),
    (
        SCHEDULE_IN_PAST,
        "the provider's clock is past the batch's send time; the message is retried, then expires",
    ),
)

CONSENT_COLUMN = {
    "sms": "consent_sms",
    "friendtalk": "consent_kakao",
    "email": "consent_email",
    "push": "consent_push",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Contact:
    """The address a channel uses for one customer, or why there is none."""

    recipient: str | None
    reason: str | None = None
    detail: str | None = None


def contact_for(channel: str, row: dict[str, Any]) -> Contact:
    """Phone digits for Kakao/SMS, e-mail for e-mail, member id for app push."""
    if channel in ("sms", "alimtalk", "friendtalk"):
        digits = re.sub(r"\D", "", str(row.get("phone") or ""))
        if not digits:
            return Contact(None, INVALID_CONTACT, "no phone")
        if row.get("has_valid_phone") is False or not rules.korean_mobile().match(digits):
            return Contact(None, INVALID_CONTACT, "phone is not a valid Korean mobile number")
        return Contact(digits)
    if channel == "email":
        email = str(row.get("email") or "").strip()
        if not email:
            return Contact(None, INVALID_CONTACT, "no e-mail")
        if not _EMAIL.match(email):
            return Contact(None, INVALID_CONTACT, "e-mail is malformed")
        return Contact(email)
    member = row.get("member_id")
    if not member or row.get("is_member") is False:
        return Contact(None, INVALID_CONTACT, "app push needs a member id")
    return Contact(str(member))


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def consent_state(row: dict[str, Any], column: str, on: date) -> str | None:
    """``None`` when consent is valid on ``on``; else the reason code (age rule: :func:`include.core.rules.consent_expired`)."""
    if row.get(column) is not True:
        return NO_CONSENT
    if rules.consent_expired(_as_date(row.get(f"{column}_at")), on):
        return CONSENT_EXPIRED
    return None


@dataclass(frozen=True)
class OptOuts:
    """Opt-outs the ledger learned (Solapi 080 answers, Channel Talk unsubscribes): customer ids and contact hashes."""

    customers: frozenset[str] = frozenset()
    contacts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, keys: tuple[set[str], set[str]]) -> OptOuts:
        """From :meth:`activation.ledger.Ledger.opt_out_keys`."""
        return cls(frozenset(keys[0]), frozenset(keys[1]))

    def has(self, customer_id: str, contact_hash: str | None) -> bool:
        return customer_id in self.customers or (contact_hash is not None and contact_hash in self.contacts)


@dataclass(frozen=True)
class Targeting:
    """The outcome of :func:`precheck` for one customer: the address, and the first rule failed (or ``None``)."""

    recipient: str | None
    recipient_hash: str | None
    reason: str | None
    detail: str | None
    is_opted_out: bool | None = None
    has_channel_consent: bool | None = None


def precheck(channel: str, kind: str, row: dict[str, Any], send_day: date, opt_outs: OptOuts) -> Targeting:
    """Policy steps 1-3 for one audience row: a usable contact, no global opt-out (the audience's flag or one the
    ledger learned), and for advertising the channel's consent valid on ``send_day``."""
    contact = contact_for(channel, row)
    if contact.recipient is None:
        return Targeting(None, None, contact.reason or INVALID_CONTACT, contact.detail)
    digest = hash_contact(contact.recipient)
    flagged = row.get("is_opted_out") is True
    learned = opt_outs.has(str(row.get("customer_id")), digest)
    if flagged or learned:
        detail = "audience is_opted_out" if flagged else "opt-out learned by the ledger"
        return Targeting(contact.recipient, digest, OPTED_OUT, detail, is_opted_out=True)
    column = CONSENT_COLUMN.get(channel, "consent_kakao")
    state = consent_state(row, column, send_day)
    reason = state if kind == "advertising" else None
    return Targeting(
        contact.recipient,
        digest,
        reason,
        column if reason else None,
        is_opted_out=False,
        has_channel_consent=state is None,
    )


def reentry_blocked(rule: Any, intent: Any, entries: Sequence[tuple[str | None, datetime]]) -> str | None:
    """Why the customer may not enter the campaign again (the detail of a ``reentry`` suppression), or ``None``.

    ``rule`` is the campaign's effective :class:`activation.config.models.Reentry` (``None``: no rule);
    ``entries`` the customer's earlier entries of the campaign step as (re-entry key, planned send time)."""
    if rule is None:
        return None
    if rule.once_per and intent.reentry_key is None:
        return f"{rule.describe()}: the audience row has no {rule.once_per}"
    if rule.once and entries:
        return f"{rule.describe()}: entered on {_kst_day(entries[0][1])}"
    if rule.once_per:
        same = [at for key, at in entries if key == intent.reentry_key]
        if same:
            return f"{rule.describe()}: {rule.once_per} {intent.reentry_key} entered on {_kst_day(same[0])}"
    if rule.cooldown_days and entries:
        last = max(at for _, at in entries)
        if intent.planned_send_at - last < timedelta(days=rule.cooldown_days):
            return f"{rule.describe()}: last entry on {_kst_day(last)}"
    return None


def _kst_day(at: datetime) -> str:
    return at.astimezone(KST).date().isoformat()


def count_within(
    events: list[tuple[datetime, str, str]],
    at: datetime,
    days: int,
    *,
    kind: str | None,
    campaign: str | None,
) -> int:
    """Events within ``days`` before or after ``at`` (any window of that length containing ``at``)."""
    span = timedelta(days=days)
    n = 0
    for when, ev_kind, ev_campaign in events:
        if kind is not None and ev_kind != kind:
            continue
        if campaign is not None and ev_campaign != campaign:
            continue
        if at - span < when < at + span:
            n += 1
    return n
