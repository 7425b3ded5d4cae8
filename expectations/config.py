"""Thresholds of the quality gates, in one pydantic model.

Every number a gate compares against lives here with the reason it has that value. Gates take a
:class:`QualityConfig` (defaults below); a deployment can override any field from a YAML/JSON file
(:func:`load_config`) or in code (``QualityConfig(raw=RawGateConfig(volume_high_factor=4))``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from include.core.timezone import TIMEZONE


class RawGateConfig(BaseModel):
    """Thresholds of the raw gate (what extraction just landed)."""

    # Event drops are exported by upload time: an event may reach the drop of day D although it happened up to this
    # many hours before D 00:00 KST (app offline, SDK batch retry). Older events mean the wrong file was dropped.
    event_lateness_hours: float = Field(48, ge=0)
    # Clock skew tolerated after the interval end before a timestamp counts as "in the future" (critical).
    future_tolerance_minutes: float = Field(10, ge=0)
    # Volume band: today's rows must lie in [low × trailing mean, high × trailing mean] of the previous days.
    # Weekends and promotions swing a day by 2–3×; an empty extract or a duplicated drop (10×) must not pass.
    volume_low_factor: float = Field(0.2, gt=0)
    volume_high_factor: float = Field(4.0, gt=1)
    volume_history_days: int = Field(7, ge=1)  # trailing window for the mean
    volume_min_history_days: int = Field(3, ge=1)  # fewer days with data → a warning, the band is not checked
    # Share of malformed phone numbers (landline, too short, empty) above which the batch fails; below it the rows
    # are quarantined and the gate only warns. The shop's data has about 1 % on purpose.
    phone_invalid_max_share: float = Field(0.05, ge=0, le=1)
    # ... but fewer invalid phones than this never fail a batch: a quiet day's 30 new orders with 2 landlines is
    # 7 % by chance, not a broken source (an all-empty phone column in such a batch still fails).
    phone_invalid_min_count: int = Field(10, ge=1)
    # Row rules (key not null, amounts ≥ 0 and other numeric bounds, no timestamp after the interval end, events no
    # older than the lateness): a breaking row is moved to raw_quarantine.records with its reason and the night goes
    # on with the clean rows. Only a share of breaking rows above this (per table, ``bad_row_max_share_by_table``
    # overrides it, e.g. {"raw_events.events": 0.02}) makes the whole batch untrustworthy and fails the gate.
    bad_row_max_share: float = Field(0.01, ge=0, le=1)
    bad_row_max_share_by_table: dict[str, float] = Field(default_factory=dict)
    # ... but fewer breaking rows than this never fail a batch (a quiet day's 20 orders with one refund typo is 5 %).
    bad_row_min_count: int = Field(5, ge=1)

    def bad_row_share(self, table: str) -> float:
        """The share of quarantined rows tolerated in one batch of ``table`` (qualified name)."""
        return float(self.bad_row_max_share_by_table.get(table, self.bad_row_max_share))


class FunnelCheck(BaseModel):
    """A funnel mart whose steps must not grow: ``steps[0] ≥ steps[1] ≥ …`` per group (summed over other columns)."""

    model: str
    group_by: tuple[str, ...]
    steps: tuple[str, ...]
    date_column: str | None = None  # when set, only the recent days are checked
    where: str | None = None  # extra SQL filter on the model's rows


class MartsGateConfig(BaseModel):
    """Thresholds of the marts gate (what dbt built)."""

    # dbt writes marts and audiences here; the gate looks for each model in these schemas, in order.
    schemas: tuple[str, ...] = ("marts", "audiences", "main", "analytics")
    # A segment's share of all customers may move at most this much (absolute, 0.10 = 10 percentage points) from
    # the previous day. Real shifts are gradual; a jump means a broken join or threshold.
    segment_share_max_change: float = Field(0.10, ge=0, le=1)
    # Same for the tier shares (tiers only move on purchases, so the band is tighter).
    tier_share_max_change: float = Field(0.10, ge=0, le=1)
    segments: tuple[str, ...] = ("G1", "G2", "G3", "G4")
    tiers: tuple[str, ...] = ("prospect", "first", "second", "repeat", "loyal")
    # Model names (dbt_project/models/marts/…); the gate adapts to renames here, not in code.
    dim_customers: str = "dim_customers"
    segments_daily: str = "fct_customer_segments_daily"
    segments_date_column: str = "segment_date"
    # Audience models (audience_*) must carry the contract columns of docs/data_model.md and today's run_date.
    audience_prefix: str = "audience_"
    funnels: tuple[FunnelCheck, ...] = (
        FunnelCheck(
            model="fct_inflow_funnel_daily",
            date_column="funnel_date",
            group_by=("funnel_date", "acquisition_channel"),
            # session counts, so each step is a subset of the one before (event counts need not be monotone)
            steps=("sessions", "product_view_sessions", "cart_add_sessions", "purchase_sessions"),
        ),
        FunnelCheck(
            model="fct_message_funnel",
            group_by=("campaign_id",),
            steps=("sent", "delivered", "clicked"),
            # holdout/control arms are never sent but their clicks are measured (the baseline)
            where="arm = 'treatment'",
        ),
    )
    # Funnel days checked: the data date and this many days before it (dbt recomputes the lookback days).
    funnel_days_back: int = Field(2, ge=0)


class SendGateConfig(BaseModel):
    """Rules of the audiences-before-send gate (Korean messaging law, see docs/quality.md)."""

    night_start_hour: int = Field(21, ge=0, le=23)  # advertising needs night consent from 21:00 …
    night_end_hour: int = Field(8, ge=0, le=23)  # … until 08:00 KST
    friendtalk_start_hour: int = Field(
        8, ge=0, le=23
    )  # FriendTalk is delivered only 08:00–20:00 (Solapi 3108)
    friendtalk_end_hour: int = Field(20, ge=0, le=23)
    ad_prefix: str = "(광고)"  # advertising text must start with exactly this
    opt_out_marker: str = "수신거부"  # … and carry a free opt-out footer containing this word
    email_regex: str = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


class QualityConfig(BaseModel):
    """All gate thresholds."""

    timezone: str = TIMEZONE
    raw: RawGateConfig = RawGateConfig()
    marts: MartsGateConfig = MartsGateConfig()
    send: SendGateConfig = SendGateConfig()
    # Sample of offending values/keys kept per failed expectation (reports and gate_results; contacts are masked).
    sample_size: int = Field(10, ge=0, le=200)


def load_config(path: Path | str | None = None) -> QualityConfig:
    """Reads a YAML/JSON override file (any subset of fields); no path → the defaults."""
    if path is None:
        return QualityConfig()
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return QualityConfig.model_validate(data)
