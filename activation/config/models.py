"""Pydantic models of the campaign YAML, the global activation settings and the AlimTalk templates.

Every rule a marketer could get wrong is checked here (or in :mod:`activation.config.loader` when it needs several
files), so that a bad campaign is rejected by ``crm validate`` before it can reach a customer.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from activation.text import placeholders, sms_bytes
from include.core.timezone import KST, TIMEZONE

Channel = Literal["alimtalk", "friendtalk", "sms", "push", "email"]
MessageKind = Literal["informational", "advertising"]
Segment = Literal["G1", "G2", "G3", "G4", "any"]
Tier = Literal["prospect", "first", "second", "repeat", "loyal", "any"]
FilterOp = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "is_null", "not_null", "starts_with", "contains"
]

IDENT = r"^[a-z_][a-z0-9_]{0,62}$"
CAMPAIGN_ID = r"^[a-z][a-z0-9_]{0,39}$"
VARIANT_ID = r"^[A-Za-z0-9_]{1,20}$"
SOLAPI_BUTTON_TYPES = ("WL", "AL", "BK", "MD", "DS", "BC", "BT", "AC")


def _fail(field: str, reason: str) -> ValueError:
    """A model-level error that names its field (the loader turns ``@field: reason`` into the issue's field)."""
    return ValueError(f"@{field}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FilterCondition(_Strict):
    """One structured audience condition: ``{column, op, value}``; compiled to a parameterised query."""

    column: str = Field(pattern=IDENT)
    op: FilterOp
    value: str | bool | int | float | date | list[str | bool | int | float | date] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> FilterCondition:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"op '{self.op}' takes no value")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op '{self.op}' needs a non-empty list as value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a single value")
        if self.op in ("starts_with", "contains") and not isinstance(self.value, str):
            raise ValueError(f"op '{self.op}' needs a text value")
        return self


class AudienceSpec(_Strict):
    """Which dbt audience model to read (``audience_<kind>``) and optional filters on its columns."""

    model: str = Field(pattern=r"^audience_[a-z0-9_]{1,60}$")
    filter: list[FilterCondition] = Field(default_factory=list)


class Variable(_Strict):
    """A personalization variable: from an audience column (with a fallback), a constant, or a date."""

    column: str | None = Field(None, pattern=IDENT)
    value: str | int | float | None = None
    days_after_send: int | None = Field(None, ge=0, le=365)
    format: str | None = Field(None, max_length=40, description="strftime format for days_after_send")
    map: dict[str, str] | None = Field(
        None, description="column value -> text; an unmapped value uses the fallback"
    )
    fallback: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> Variable:
        sources = [s for s in ("column", "value", "days_after_send") if getattr(self, s) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of column, value, days_after_send")
        if self.column is not None and (self.fallback is None or self.fallback == ""):
            raise ValueError(f"variable from column '{self.column}' needs a non-empty fallback")
        if self.map is not None and self.column is None:
            raise ValueError("map applies only to a column variable")
        if self.format is not None and self.days_after_send is None:
            raise ValueError("format applies only to days_after_send")
        if self.format is not None:
            try:
                datetime(2026, 1, 2).strftime(self.format)
            except ValueError as exc:
                raise ValueError(f"bad date format: {exc}") from None
        return self


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone '{value}'") from None
    return value


class ScheduleTrigger(_Strict):
    """Fires on a cron schedule in a timezone, e.g. ``0 9 * * MON`` Asia/Seoul (at most once per day)."""

    type: Literal["schedule"]
    cron: str = Field(min_length=9, max_length=100)
    timezone: str = TIMEZONE

    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5:
            raise ValueError(f"cron '{value}' must have 5 fields (minute hour day month weekday)")
        try:
            if not croniter.is_valid(value):
                raise ValueError
            it = croniter(value, datetime(2026, 1, 1))
            days = [it.get_next(datetime).date() for _ in range(40)]
        except Exception:
            raise ValueError(f"cron '{value}' is not a valid cron expression") from None
        if len(set(days)) != len(days):
            raise ValueError(
                f"cron '{value}' fires more than once a day; a campaign sends at most once per date"
            )
        return value

    @model_validator(mode="after")
    def _business_clock(self) -> ScheduleTrigger:
        """A cron is read on the business clock: another zone would move the send to another Korean day."""
        if _same_clock(self.timezone, TIMEZONE):
            return self
        from croniter import croniter

        zone = ZoneInfo(self.timezone)
        fire = croniter(self.cron, datetime(2026, 1, 5, tzinfo=zone)).get_next(datetime)
        fire = fire if fire.tzinfo else fire.replace(tzinfo=zone)
        local = fire.astimezone(KST)
        raise _fail(
            "timezone",
            f"'{self.timezone}' is not the business timezone {TIMEZONE}: campaigns are planned, dated and checked "
            f"against the night rule on the {TIMEZONE} calendar, so a cron in another zone silently moves the send "
            f"(here {fire:%a %H:%M} {self.timezone} is {local:%a %H:%M} in {TIMEZONE}); write the cron in "
            f"{TIMEZONE} local time and drop the timezone (or set timezone: {TIMEZONE})",
        )


def _same_clock(zone: str, business: str) -> bool:
    """True when ``zone`` shows the same local time as ``business`` all year round for the coming years."""
    if zone == business:
        return True
    a, b = ZoneInfo(zone), ZoneInfo(business)
    for year in range(2026, 2036):
        for month in range(1, 13):
            for day in (1, 15):
                at = datetime(year, month, day, 12, tzinfo=a)
                if at.utcoffset() != at.astimezone(b).utcoffset():
                    return False
    return True


class _Triggered(_Strict):
    send_time: time = Field(
        description="local time of day (settings timezone) on the day after the data date"
    )

    @field_validator("send_time", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML reads 09:00 as a sexagesimal int (540) in YAML 1.1 loaders.
            if 0 <= value < 24 * 60:
                return time(value // 60, value % 60)
            raise ValueError("send_time must be HH:MM")
        return value


class SegmentTransitionTrigger(_Triggered):
    """Fires for customers whose G1–G4 segment changed on the data date (``any`` matches every segment)."""

    type: Literal["segment_transition"]
    from_: Segment = Field(alias="from")
    to: Segment

    @model_validator(mode="after")
    def _distinct(self) -> SegmentTransitionTrigger:
        if self.from_ == self.to and self.to != "any":
            raise ValueError("from and to are the same segment: that is no transition")
        return self


class TierChangeTrigger(_Triggered):
    """Fires for customers whose purchase-frequency tier changed on the data date."""

    type: Literal["tier_change"]
    from_: Tier = Field(alias="from")
    to: Tier

    @model_validator(mode="after")
    def _distinct(self) -> TierChangeTrigger:
        if self.from_ == self.to and self.to != "any":
            raise ValueError("from and to are the same tier: that is no change")
        return self


class SignupNoPurchaseTrigger(_Triggered):
    """Fires once, ``days`` after sign-up, for members who have not purchased."""

    type: Literal["signup_no_purchase"]
    days: int = Field(ge=1, le=365)


class DeliveryFollowupTrigger(_Triggered):
    """Fires ``days`` after an order was delivered (review requests)."""

    type: Literal["delivery_followup"]
    days: int = Field(ge=0, le=90)


class SubscriptionRemainingTrigger(_Triggered):
    """Fires when a subscription has ``uses`` deliveries left (renewal reminder)."""

    type: Literal["subscription_remaining"]
    uses: int = Field(1, ge=0, le=52)


Trigger = Annotated[
    ScheduleTrigger
    | SegmentTransitionTrigger
    | TierChangeTrigger
    | SignupNoPurchaseTrigger
    | DeliveryFollowupTrigger
    | SubscriptionRemainingTrigger,
    Field(discriminator="type"),
]

# The audience model each triggered kind reads (a schedule may read any model).
TRIGGER_MODELS: dict[str, str] = {
    "segment_transition": "audience_segment_transitions",
    "tier_change": "audience_tier_changes",
    "signup_no_purchase": "audience_signup_no_purchase",
    "delivery_followup": "audience_review_requests",
    "subscription_remaining": "audience_subscription_renewals",
}


class Button(_Strict):
    """A KakaoTalk button (FriendTalk) or a link button for push; field names follow Solapi's."""

    name: str = Field(min_length=1, max_length=14)
    type: Literal["WL", "AL", "BK", "MD", "DS", "BC", "BT", "AC"] = "WL"
    link_mobile: str | None = Field(None, max_length=500)
    link_pc: str | None = Field(None, max_length=500)

    def to_solapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"buttonName": self.name, "buttonType": self.type}
        if self.link_mobile:
            out["linkMo"] = self.link_mobile
        if self.link_pc:
            out["linkPc"] = self.link_pc
        return out


class MessageSpec(_Strict):
    """Message content: free text (with ``#{변수}``) or an AlimTalk template id; subject for LMS/e-mail/push."""

    text: str | None = Field(None, min_length=1, max_length=2000)
    subject: str | None = Field(None, min_length=1, max_length=60)
    template_id: str | None = Field(None, min_length=1, max_length=100)
    buttons: list[Button] = Field(default_factory=list, max_length=5)


class Variant(MessageSpec):
    """An A/B variant; fields left out inherit the campaign's ``message``."""

    id: str = Field(pattern=VARIANT_ID)
    weight: float = Field(1.0, gt=0, le=1000)


class FrequencyCap(_Strict):
    """At most ``max`` messages in any ``days``-day window."""

    max: int = Field(ge=1, le=100)
    days: int = Field(ge=1, le=365)


class Reentry(_Strict):
    """How often a customer may enter the campaign again (an *entry*: an intent of the campaign and step that was
    sent or is on its way, failed at the provider, or was held out as holdout or control — a suppressed intent is
    no entry).

    - ``once``: one entry per customer, ever;
    - ``once_per``: one entry per value of this audience column (a subscription's plan cycle, an order id, a
      transition date); a row whose value is missing is suppressed, not sent;
    - ``cooldown_days``: no entry within this many days after the last one (combines with ``once_per``).
    """

    once: bool = False
    once_per: str | None = Field(None, pattern=IDENT)
    cooldown_days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _one_rule(self) -> Reentry:
        if self.once and (self.once_per or self.cooldown_days):
            raise ValueError("once allows one entry ever: once_per and cooldown_days would never apply")
        if not (self.once or self.once_per or self.cooldown_days):
            raise ValueError("give once: true, once_per: <audience column> and/or cooldown_days: <days>")
        return self

    def describe(self) -> str:
        """The rule in words, for suppression details and plan summaries."""
        if self.once:
            return "once per customer"
        parts = [f"once per {self.once_per}"] if self.once_per else []
        if self.cooldown_days:
            parts.append(f"not within {self.cooldown_days} days of the last entry")
        return ", ".join(parts)


# One message per trigger occurrence: the re-entry rule of a triggered campaign that sets none. The column names the
# occurrence in the trigger's audience model (a subscription's renewal falls on one plan cycle for days on end; a
# review request belongs to its order); a signup happens once.
TRIGGER_REENTRY: dict[str, Reentry] = {
    "segment_transition": Reentry(once_per="transition_date"),
    "tier_change": Reentry(once_per="transition_date"),
    "signup_no_purchase": Reentry(once=True),
    "delivery_followup": Reentry(once_per="order_id"),
    "subscription_remaining": Reentry(once_per="renewal_cycle_key"),
}


class Goal(_Strict):
    """The conversion a campaign aims at, and how long after a message it is credited to it."""

    event: str = Field(pattern=IDENT)
    attribution_days: int = Field(3, ge=1, le=90)


class AdvertisingReview(_Strict):
    """A recorded decision that an informational campaign whose content reads as advertising is information.

    The law looks at the content (정보통신망법 §50); this override names who took the decision and when, and is
    printed with every plan of the campaign (its warnings, the run summary in the ledger, the campaign's run files).
    """

    decision: Literal["informational"]
    approved_by: str = Field(min_length=2, max_length=100)
    approved_on: date
    reason: str = Field("", max_length=500)


class Campaign(_Strict):
    """One campaign, as written in ``include/campaigns/<id>.yml``."""

    id: str = Field(pattern=CAMPAIGN_ID)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    enabled: bool = True
    audience: AudienceSpec
    trigger: Trigger
    channel: Channel
    kind: MessageKind
    message: MessageSpec | None = None
    variants: list[Variant] = Field(default_factory=list, max_length=10)
    variables: dict[str, Variable] = Field(default_factory=dict)
    holdout_pct: float = Field(0, ge=0, le=50)
    frequency_cap: FrequencyCap | None = None
    priority: int = Field(100, ge=0, le=1000)
    quiet_hours: Literal["hold", "drop"] = "hold"
    goal: Goal | None = None
    max_recipients: int | None = Field(None, ge=1)
    exit_on_conversion: bool = False
    active_from: date | None = None
    active_until: date | None = None
    step: str = Field("main", pattern=r"^[a-z0-9_]{1,16}$")
    advertising_review: AdvertisingReview | None = None
    reentry: Reentry | None = None

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, Variable]) -> dict[str, Variable]:
        for name in value:
            if not re.fullmatch(r"[^\s{}#]{1,30}", name):
                raise ValueError(
                    f"variable name '{name}' must be 1-30 characters without spaces, braces or '#'"
                )
        return value

    @model_validator(mode="after")
    def _rules(self) -> Campaign:
        if self.channel == "alimtalk" and self.kind != "informational":
            raise _fail(
                "kind",
                "channel alimtalk carries only informational messages (Kakao rule); "
                "send advertising by friendtalk, sms, push or email",
            )
        if self.trigger.type != "schedule":
            needed = TRIGGER_MODELS[self.trigger.type]
            if self.audience.model != needed:
                raise _fail(
                    "audience.model",
                    f"trigger '{self.trigger.type}' reads audience model '{needed}', not '{self.audience.model}'",
                )
        if self.advertising_review is not None and self.kind != "informational":
            raise _fail(
                "advertising_review",
                "an advertising review decides that content is informational; this campaign is kind: advertising",
            )
        if self.exit_on_conversion and self.goal is None:
            raise _fail("exit_on_conversion", "exit_on_conversion needs a goal (the conversion event)")
        if self.active_from and self.active_until and self.active_from > self.active_until:
            raise _fail("active_until", "active_from is after active_until")
        ids = [v.id for v in self.variants]
        if len(ids) != len(set(ids)):
            raise _fail("variants", f"variant ids must be unique, got {ids}")
        if self.message is None and not self.variants:
            raise _fail("message", "give a message (or variants)")
        for idx, variant in enumerate(self.resolved_variants()):
            self._check_content(variant, f"variants[{idx}]" if self.variants else "message")
        return self

    def _check_content(self, v: Variant, where: str) -> None:
        label = f"variant '{v.id}'"
        if self.channel == "alimtalk":
            if not v.template_id:
                raise _fail(
                    f"{where}.template_id", f"{label}: alimtalk needs template_id (from templates.yml)"
                )
            if v.text:
                raise _fail(f"{where}.text", f"{label}: alimtalk text comes from the template; remove text")
            if v.buttons:
                raise _fail(
                    f"{where}.buttons", f"{label}: alimtalk buttons come from the template; remove buttons"
                )
            return
        if v.template_id:
            raise _fail(f"{where}.template_id", f"{label}: template_id is only for alimtalk")
        if not v.text:
            raise _fail(f"{where}.text", f"{label}: text is required for channel {self.channel}")
        if v.buttons and self.channel not in ("friendtalk", "push"):
            raise _fail(f"{where}.buttons", f"{label}: buttons are only for friendtalk and push")
        if self.channel == "friendtalk" and len(v.text) > 1000:
            raise _fail(f"{where}.text", f"{label}: friendtalk text is limited to 1000 characters")
        if self.channel == "sms" and v.subject and sms_bytes(v.subject) > 40:
            raise _fail(
                f"{where}.subject", f"{label}: LMS subject is limited to 40 bytes (20 Korean characters)"
            )

    def effective_reentry(self) -> Reentry | None:
        """The campaign's ``reentry``; for a triggered campaign without one, one entry per trigger occurrence
        (:data:`TRIGGER_REENTRY`); ``None`` (every run date may send again, caps apply) for a schedule."""
        if self.reentry is not None:
            return self.reentry
        return TRIGGER_REENTRY.get(self.trigger.type)

    def resolved_variants(self) -> list[Variant]:
        """The variants with the campaign message filled in; one variant ``A`` when none are given."""
        base = self.message or MessageSpec()
        if not self.variants:
            return [Variant(id="A", weight=1.0, **base.model_dump())]
        out = []
        for v in self.variants:
            merged = base.model_dump()
            for key in ("text", "subject", "template_id"):
                if getattr(v, key) is not None:
                    merged[key] = getattr(v, key)
            if v.buttons:
                merged["buttons"] = v.buttons
            out.append(Variant(id=v.id, weight=v.weight, **merged))
        return out

    def placeholders_used(self) -> set[str]:
        """Every ``#{변수}`` in the campaign's own texts and subjects (templates are checked by the loader)."""
        names: set[str] = set()
        for v in self.resolved_variants():
            for part in (v.text, v.subject):
                if part:
                    names |= placeholders(part)
        return names

    def is_active(self, on: date) -> bool:
        """Enabled and inside its optional active_from / active_until dates."""
        if not self.enabled:
            return False
        if self.active_from and on < self.active_from:
            return False
        return not (self.active_until and on > self.active_until)


class Template(_Strict):
    """An approved AlimTalk template (``templates.yml``; the Solapi emulator reads the same file)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    pf_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    content: str = Field(min_length=1, max_length=1000)
    buttons: list[dict[str, Any]] = Field(default_factory=list)


class TemplatesFile(_Strict):
    templates: list[Template]


class GlobalCap(_Strict):
    """Cross-campaign, cross-channel cap: at most ``max`` messages of ``applies_to`` kind per ``days``."""

    max: int = Field(2, ge=1, le=100)
    days: int = Field(7, ge=1, le=365)
    applies_to: Literal["advertising", "all"] = "advertising"


class RetryPolicy(_Strict):
    """How often and how long a retryable failure is carried to later runs."""

    max_attempts: int = Field(3, ge=1, le=20)
    max_age_days: int = Field(2, ge=0, le=30)


class ConversionSource(_Strict):
    """Where a goal event is found in the warehouse (KST local timestamps)."""

    table: str = Field(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
    customer_column: str = Field("customer_id", pattern=IDENT)
    time_column: str = Field(pattern=IDENT)
    event_column: str | None = Field(None, pattern=IDENT)


class SyncSpec(_Strict):
    """An audience kept in sync with an audience destination (Channel Talk)."""

    id: str = Field(pattern=CAMPAIGN_ID)
    destination: Literal["channeltalk"] = "channeltalk"
    audience: AudienceSpec
    profile: dict[str, str] = Field(
        default_factory=dict, description="destination profile key -> audience column"
    )
    tag_columns: list[str] = Field(default_factory=list, max_length=10)
    tag_prefix: str = Field("crm_", pattern=r"^[a-z0-9_]{1,10}$")
    delete_policy: Literal["remove_tag", "do_nothing"] = "remove_tag"

    @field_validator("profile")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        for key, column in value.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,39}", key):
                raise ValueError(f"profile key '{key}' must be a plain identifier")
            if not re.fullmatch(IDENT, column):
                raise ValueError(f"profile '{key}': '{column}' is not a column name")
        return value


class ActivationSettings(_Strict):
    """``include/campaigns/settings.yml``: sender identity, global policies, costs, syncs."""

    shop_name: str = Field(min_length=1, max_length=30)
    sender_phone: str = Field(
        pattern=r"^0\d{7,10}$", description="pre-registered Solapi sender number (digits)"
    )
    sender_contact: str = Field(min_length=7, max_length=20, description="contact printed in advertising")
    optout_080: str = Field(pattern=r"^080-?\d{3,4}-?\d{4}$")
    kakao_pf_id: str = Field(min_length=1)
    shop_url: str = Field("https://shop.example", pattern=r"^https?://")
    control_group_pct: float = Field(5, ge=0, le=50)
    assignment_salt: str = Field(min_length=8)
    frequency_cap: GlobalCap = GlobalCap()
    daily_limit: int = Field(1, ge=1, le=10, description="messages per customer per run date, all campaigns")
    max_send_delay_hours: float = Field(12, gt=0, le=72)
    retry: RetryPolicy = RetryPolicy()
    unit_costs: dict[str, float] = Field(default_factory=dict)
    variables: dict[str, Variable] = Field(default_factory=dict)
    channel_destinations: dict[Channel, Literal["solapi", "webhook"]] = Field(
        default_factory=lambda: {
            "alimtalk": "solapi",
            "friendtalk": "solapi",
            "sms": "solapi",
            "push": "webhook",
            "email": "webhook",
        }
    )
    conversions: dict[str, ConversionSource] = Field(default_factory=dict)
    syncs: list[SyncSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _one_definition(cls, data: Any) -> Any:
        moved = {
            "timezone": "the business timezone is var business_timezone in dbt_project/dbt_project.yml",
            "consent_max_age_days": "the consent age is var consent_reconfirmation_years in dbt_project/dbt_project.yml",
        }
        for key, where in moved.items():
            if isinstance(data, dict) and key in data:
                raise ValueError(
                    f"'{key}' is no longer a campaign setting: {where} (SQL and Python read it there)"
                )
        return data

    @model_validator(mode="after")
    def _destinations(self) -> ActivationSettings:
        for channel in ("alimtalk", "friendtalk", "sms"):
            if self.channel_destinations.get(channel, "solapi") != "solapi":
                raise ValueError(f"channel {channel} can only go to solapi")
        return self

    @property
    def timezone(self) -> str:
        """The business timezone (one definition: :mod:`include.core.timezone`)."""
        return TIMEZONE

    @property
    def tz(self) -> ZoneInfo:
        return KST

    def destination_for(self, channel: str) -> str:
        return self.channel_destinations.get(channel, "solapi")  # type: ignore[call-overload]

    def unit_cost(self, message_type: str) -> float:
        return float(self.unit_costs.get(message_type, 0.0))

    def cap_window(self) -> timedelta:
        return timedelta(days=self.frequency_cap.days)
