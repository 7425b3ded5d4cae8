"""Entry points for Airflow tasks and the CLI: plan and send, preview, status, audience sync.

Every function takes the run date (the data date ``D``) and a timezone-aware ``reference_time``: the moment the run
acts (for a nightly Airflow run, the task's start time; the CLI defaults to ``D+1 00:00`` KST, the end of the data
interval). Planning is deterministic given both; nothing reads the clock. Paths default to
:mod:`include.core.settings` (``CRM_CAMPAIGNS_DIR``, ``CRM_LEDGER_URL``, ``CRM_WAREHOUSE_PATH``); credentials come from the
Airflow connections ``crm_solapi``, ``crm_webhook``, ``crm_channeltalk``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from activation.audience import AudienceError, AudienceReader
from activation.config import Campaign, load_config
from activation.config.loader import ActivationConfig
from activation.destinations import audience_destination, message_destination
from activation.destinations.base import AudienceDestination, MessageDestination
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.planning import Plan, Planner
from activation.report import TO_SEND, RunResult, samples, summarize
from activation.schedule import due_campaigns
from activation.send_list import SendList
from activation.sending import Sender, SendReport
from activation.sync import AudienceSync, SyncReport
from include.core.pii import install_log_masking, mask_text
from include.core.timezone import TIMEZONE

log = logging.getLogger(__name__)


def _config(campaigns_dir: str | Path | None) -> ActivationConfig:
    """The configuration without its broken campaign files (each logged): one bad file never stops the others
    (``crm validate`` and the CLI's own load stay strict)."""
    config = load_config(campaigns_dir, isolate_campaigns=True)
    for file, issues in config.broken.items():
        log.error("campaign file %s left out: %s", file, "; ".join(str(i) for i in issues))
    return config


def _paths(ledger_url: str | None, warehouse: str | Path | None) -> tuple[str, Path]:
    from include.core.settings import get_settings

    st = get_settings()
    return ledger_url or st.ledger, Path(warehouse or st.warehouse)


def default_reference_time(run_date: date, timezone: str = TIMEZONE) -> datetime:
    """``D+1 00:00`` in the shop's timezone: the end of the data interval of ``run_date``."""
    from zoneinfo import ZoneInfo

    return datetime.combine(run_date + timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(timezone))


def load_campaigns(path: str | Path | None = None) -> list[Campaign]:
    """The validated campaigns of the campaigns folder; raises ``ConfigError`` naming file, field and reason."""
    return _config(path).campaigns


def campaigns_due(run_date: date, *, campaigns_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Campaigns due in the run of ``run_date``, highest priority first (JSON-serialisable, for task mapping)."""
    config = _config(campaigns_dir)
    return [
        {
            "campaign_id": c.id,
            "send_at": at.isoformat(),
            "channel": c.channel,
            "kind": c.kind,
            "priority": c.priority,
        }
        for c, at in due_campaigns(config.campaigns, run_date, config.settings.timezone)
    ]


def _check_ids(config: ActivationConfig, campaign_ids: Iterable[str] | None) -> set[str] | None:
    if campaign_ids is None:
        return None
    ids = set(campaign_ids)
    for cid in ids:
        config.campaign(cid)  # KeyError naming the known ids
    return ids


def _destination_factory(config: ActivationConfig) -> Callable[[str], MessageDestination]:
    return lambda name: message_destination(name, sender=config.settings.sender_phone)


def build_plan(
    run_date: date,
    *,
    reference_time: datetime,
    run_id: str,
    config: ActivationConfig,
    ledger: Ledger,
    warehouse: Path,
) -> Plan:
    """Plans every campaign due on ``run_date`` without writing anything."""
    return Planner(config, ledger, AudienceReader(warehouse)).plan(run_date, reference_time, run_id)


def plan_and_send(
    run_date: date,
    *,
    campaign_ids: Iterable[str] | None = None,
    reference_time: datetime,
    run_id: str,
    dry_run: bool = False,
    campaigns_dir: str | Path | None = None,
    ledger_url: str | None = None,
    warehouse: str | Path | None = None,
    destination_factory: Callable[[str], MessageDestination] | None = None,
    before_send: Callable[[SendList], None] | None = None,
) -> RunResult:
    """Plans every due campaign of ``run_date`` together (priority and caps need all of them), then sends.

    ``campaign_ids`` limits what is committed and sent (the others are still planned, so the chosen ones get the
    customers priority gives them). With ``dry_run`` nothing is written or sent. Finishing batches of a crashed
    earlier attempt, reading delivery reports and retrying carried-over failures happen first. ``before_send``
    gets the planned :class:`~activation.send_list.SendList` before anything is committed or sent (the
    send-list quality gate); if it raises, nothing of this plan is written or sent and the error propagates.
    """
    install_log_masking()
    config = _config(campaigns_dir)
    selected = _check_ids(config, campaign_ids)
    url, wh = _paths(ledger_url, warehouse)
    ledger = Ledger(url)
    result = RunResult(run_id, run_date, reference_time, dry_run)
    sender = Sender(
        config,
        ledger,
        destination_factory or _destination_factory(config),
        reference_time=reference_time,
        run_id=run_id,
    )
    report = SendReport()
    try:
        with nullcontext() if dry_run else ledger.exclusive("send"):
            return _plan_and_send(
                run_date,
                selected,
                reference_time,
                run_id,
                dry_run,
                config,
                ledger,
                wh,
                sender,
                report,
                result,
                before_send,
            )
    finally:
        sender.close()
        ledger.close()


def _plan_and_send(
    run_date: date,
    selected: set[str] | None,
    reference_time: datetime,
    run_id: str,
    dry_run: bool,
    config: ActivationConfig,
    ledger: Ledger,
    wh: Path,
    sender: Sender,
    report: SendReport,
    result: RunResult,
    before_send: Callable[[SendList], None] | None,
) -> RunResult:
    lap = _Stopwatch(result.timings)
    if not dry_run:
        ledger.record_run(run_id, "send", run_date, reference_time, "started", {})
        sender.resume_in_flight(report)
        sender.reconcile(report)
        sender.expire_retries(report)
        lap("earlier_batches_s")
    plan = build_plan(
        run_date, reference_time=reference_time, run_id=run_id, config=config, ledger=ledger, warehouse=wh
    )
    lap("plan_s")
    due_ids = {cp.campaign.id for cp in plan.campaigns}
    for cid in sorted((selected or set()) - due_ids):
        result.errors.append(
            f"{cid}: not due in the run of {run_date} (its schedule does not fire on the next day)"
        )
    for cp in plan.campaigns:
        if selected is not None and cp.campaign.id not in selected:
            continue
        if cp.error:
            result.errors.append(f"{cp.campaign.id}: {cp.error}")
        summary = summarize(cp.campaign.id, cp.all_intents, cp.send_at)
        summary.error, summary.warnings = cp.error, cp.warnings
        result.campaigns[cp.campaign.id] = summary
    if dry_run:
        return result
    if before_send is not None:
        before_send(SendList.from_plan(plan, selected))
        lap("send_list_gate_s")
    ledger.insert_intents(plan.new_rows(selected))
    lap("ledger_write_s")
    sender.send(selected, report)
    lap("send_s")
    decided = ledger.decisions_for_run(run_date, list(result.campaigns))
    for cid, summary in result.campaigns.items():
        fresh = summarize(cid, [i for i in decided if i.campaign_id == cid], None)
        fresh.send_at, fresh.error, fresh.warnings = summary.send_at, summary.error, summary.warnings
        result.campaigns[cid] = fresh
    result.sent = dict(sorted(report.counts.items()))
    result.guard = dict(sorted(report.guard.items()))
    result.delivery = dict(sorted(report.delivery.items()))
    result.batches, result.resumed_batches = report.batches, report.resumed
    result.opt_outs_learned = report.opt_outs_learned
    result.errors = [mask_text(e) for e in [*result.errors, *report.errors]]
    status = "failed" if result.errors else "success"
    ledger.record_run(run_id, "send", run_date, reference_time, status, result.to_dict())
    lap("summary_s")
    log.info("campaign run %s took %s", run_id, ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    return result


class _Stopwatch:
    """``lap(name)`` records the seconds since the previous lap under ``name`` (run phases, for the logs)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.last = into, perf_counter()

    def __call__(self, name: str) -> None:
        now = perf_counter()
        self.into[name] = round(self.into.get(name, 0.0) + now - self.last, 3)
        self.last = now


def preview(
    campaign_id: str,
    run_date: date,
    *,
    reference_time: datetime | None = None,
    sample_size: int = 5,
    campaigns_dir: str | Path | None = None,
    ledger_url: str | None = None,
    warehouse: str | Path | None = None,
) -> dict[str, Any]:
    """Dry run of one campaign for one date: recipients per variant, holdout/control, suppressed by reason,
    sample rendered messages (contacts masked), estimated cost. ``to_send`` equals what ``send`` then sends."""
    config = _config(campaigns_dir)
    config.campaign(campaign_id)
    ref = reference_time or default_reference_time(run_date, config.settings.timezone)
    url, wh = _paths(ledger_url, warehouse)
    ledger = Ledger(url)
    try:
        plan = build_plan(
            run_date,
            reference_time=ref,
            run_id=f"preview:{run_date}",
            config=config,
            ledger=ledger,
            warehouse=wh,
        )
    finally:
        ledger.close()
    cp = plan.get(campaign_id)
    if cp is None:
        return {"campaign_id": campaign_id, "run_date": run_date.isoformat(), "due": False, "to_send": 0}
    summary = summarize(campaign_id, cp.all_intents, cp.send_at)
    to_send = sum(1 for i in cp.intents if i.status == s.PLANNED) + sum(
        1 for i in cp.existing if i.status in (s.PLANNED, s.RETRY)
    )
    return {
        "campaign_id": campaign_id,
        "run_date": run_date.isoformat(),
        "reference_time": ref.isoformat(),
        "due": True,
        "error": cp.error,
        "warnings": cp.warnings,
        "to_send": to_send,
        "already_handed_over": sum(
            1 for i in cp.existing if i.status in TO_SEND and i.status not in (s.PLANNED, s.RETRY)
        ),
        "summary": summary.to_dict(),
        "samples": samples(cp.all_intents, sample_size),
    }


def run_status(
    run_date: date,
    *,
    refresh: bool = False,
    reference_time: datetime | None = None,
    campaigns_dir: str | Path | None = None,
    ledger_url: str | None = None,
    destination_factory: Callable[[str], MessageDestination] | None = None,
) -> dict[str, Any]:
    """Per-campaign counts of a run date from the ledger; ``refresh`` first reads delivery reports."""
    config = _config(campaigns_dir)
    url, _ = _paths(ledger_url, None)
    ledger = Ledger(url)
    ref = reference_time or default_reference_time(run_date, config.settings.timezone)
    try:
        errors: list[str] = []
        if refresh:
            sender = Sender(
                config,
                ledger,
                destination_factory or _destination_factory(config),
                reference_time=ref,
                run_id=f"status:{run_date}",
            )
            report = SendReport()
            try:
                sender.reconcile(report)
            finally:
                sender.close()
            errors = report.errors
        intents = ledger.intents_for_run(run_date)
    finally:
        ledger.close()
    ids = sorted({i.campaign_id for i in intents})
    return {
        "run_date": run_date.isoformat(),
        "campaigns": {
            cid: summarize(cid, [i for i in intents if i.campaign_id == cid]).to_dict() for cid in ids
        },
        "errors": errors,
    }


def sync_audiences(
    run_date: date,
    *,
    reference_time: datetime,
    run_id: str,
    sync_ids: Iterable[str] | None = None,
    campaigns_dir: str | Path | None = None,
    ledger_url: str | None = None,
    warehouse: str | Path | None = None,
    destination_factory: Callable[[str], AudienceDestination] | None = None,
) -> list[SyncReport]:
    """Runs the audience syncs of ``settings.yml`` (all, or ``sync_ids``), sending only what changed."""
    install_log_masking()
    config = _config(campaigns_dir)
    specs = [sp for sp in config.settings.syncs if sync_ids is None or sp.id in set(sync_ids)]
    url, wh = _paths(ledger_url, warehouse)
    ledger = Ledger(url)
    reader = AudienceReader(wh)
    factory = destination_factory or audience_destination
    reports: list[SyncReport] = []
    try:
        with ledger.exclusive("sync"):
            _run_syncs(specs, reader, ledger, factory, reports, run_date, reference_time, run_id)
        ledger.record_run(
            run_id,
            "sync",
            run_date,
            reference_time,
            "failed" if any(r.errors for r in reports) else "success",
            [r.__dict__ for r in reports],
        )
    finally:
        ledger.close()
    return reports


def _run_syncs(
    specs: list,
    reader: AudienceReader,
    ledger: Ledger,
    factory: Callable[[str], AudienceDestination],
    reports: list[SyncReport],
    run_date: date,
    reference_time: datetime,
    run_id: str,
) -> None:
    for spec in specs:
        dest = factory(spec.destination)
        try:
            reports.append(AudienceSync(spec, reader, ledger, dest).run(run_date, reference_time, run_id))
        except AudienceError as exc:
            reports.append(SyncReport(spec.id, errors=[str(exc)]))
        finally:
            dest.close()
        reports[-1].errors = [mask_text(e) for e in reports[-1].errors]
