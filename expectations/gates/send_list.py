"""The send-list gate: the planned messages of a campaign run, checked before activation sends anything."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from expectations.config import QualityConfig
from expectations.gates.common import check_reference_time, finish, flat_thresholds
from expectations.result import CRITICAL, GateResult, Outcome
from expectations.runner import GxValidator
from expectations.suites.send_list import rows_suite, size_suite

GATE = "send_list"
TABLE = "send_list"


def validate_send_list(
    df: Any,
    campaigns: dict[str, dict],
    data_date: date,
    run_id: str,
    *,
    warehouse: Path | str | None = None,
    reference_time: datetime,
    config: QualityConfig | None = None,
    report_dir: Path | None = None,
    gate_name: str = GATE,
) -> GateResult:
    """Checks a planned send list before it is sent (the audiences-before-send gate).

    Rules: contact present and valid for the channel; advertising only with the channel's consent; no advertising
    21:00–08:00 KST without night-time consent (e-mail exempt); advertising text starts with ``(광고)`` and carries
    an opt-out footer (``수신거부``); no opted-out, holdout or control customer; no duplicate
    ``(campaign_id, customer_id)``; AlimTalk informational only; each campaign's size within its expected band and
    at most ``max_recipients`` (FriendTalk outside 08–20 h is a warning).

    Args:
        df: the planned send list, one row per message (columns in docs/quality.md, "Send-list adapter").
        campaigns: ``{campaign_id: {"expected_min": int|None, "expected_max": int|None, "max_recipients": int|None}}``
            for every campaign of this run (a campaign without rows counts as size 0).
        data_date: the run's data date.
        run_id: the run id (with ``data_date`` and ``gate_name`` the key of the stored results).
        warehouse: DuckDB file to store results in ``quality.gate_results`` (None: report and log only).
        reference_time: the run's evaluation instant; stored as ``evaluated_at``.
        config: rules and thresholds.
        report_dir: where the HTML report goes (default ``settings.run_dir(D)/quality``).
        gate_name: stored gate name and report file stem; give each call of one run its own (``send_list_g3``)
            when a run validates several lists separately.
    """
    import pandas as pd

    started = time.perf_counter()
    check_reference_time(reference_time)
    cfg = config or QualityConfig()
    frame = df.copy()
    extra: list[Outcome] = []
    suite_name = f"{GATE}.v1.rows"
    if "planned_send_at" in frame.columns:
        at = _aware(frame["planned_send_at"])
        if at is None:
            extra.append(
                Outcome(
                    suite_name,
                    TABLE,
                    "planned_send_at",
                    "expect_column_values_to_be_timezone_aware",
                    CRITICAL,
                    False,
                    str(frame["planned_send_at"].dtype),
                    "send_list.planned_send_at has no timezone: the night-time rule cannot be checked",
                    {"rule": "planned send times are timezone-aware"},
                )
            )
        else:
            hour = at.dt.tz_convert(cfg.timezone).dt.hour
            frame["send_hour_kst"] = hour
            frame["is_night_kst"] = (hour >= cfg.send.night_start_hour) | (hour < cfg.send.night_end_hour)
    campaign_ids = sorted(set(campaigns))
    validator = GxValidator(gate_name, cfg.sample_size)
    outcomes = extra + validator.validate(
        rows_suite(cfg.send, campaign_ids),
        frame,
        table_name=TABLE,
        index_columns=["campaign_id", "customer_id"],
    )
    if "campaign_id" in frame.columns:
        sizes = frame.groupby("campaign_id", dropna=False).size()
    else:
        sizes = pd.Series(dtype="int64")
    counts_frame = pd.DataFrame(
        {"campaign_id": campaign_ids, "n_recipients": [int(sizes.get(c, 0)) for c in campaign_ids]}
    )
    size_outcomes = validator.validate(size_suite(campaigns), counts_frame, table_name=TABLE)
    for o in size_outcomes:
        cid = o.details.get("campaign_id")
        n = int(sizes.get(cid, 0))
        o.observed_value = f"{n:,} recipients"
        if not o.success:
            o.reason = f"campaign {cid} has {n:,} recipients, breaking the rule '{o.details['rule']}'"
    outcomes += size_outcomes
    counts = {
        "rows": {TABLE: len(frame)},
        "campaigns": {c: int(sizes.get(c, 0)) for c in campaign_ids},
    }
    con = None
    if warehouse is not None:
        import duckdb

        con = duckdb.connect(str(warehouse))
    try:
        return finish(
            gate=gate_name,
            data_date=data_date,
            run_id=run_id,
            outcomes=outcomes,
            counts=counts,
            reference_time=reference_time,
            config=cfg,
            con=con,
            report_dir=report_dir,
            started=started,
            gx_seconds=validator.seconds,
            thresholds=flat_thresholds(cfg.send, "send."),
        )
    finally:
        if con is not None:
            con.close()


def _aware(at: Any) -> Any | None:
    """``planned_send_at`` as a timezone-aware series, or None when its values carry no timezone."""
    import pandas as pd

    if isinstance(at.dtype, pd.DatetimeTZDtype):
        return at
    values = at.dropna()
    if not len(values):
        return pd.Series(pd.NaT, index=at.index, dtype="datetime64[us, UTC]")
    if at.dtype == object and all(getattr(v, "tzinfo", None) is not None for v in values.head(1000)):
        return pd.to_datetime(at, utc=True)
    return None
