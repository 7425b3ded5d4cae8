"""Task logic of the ``crm_campaign__<id>`` DAGs: wait for the night's audiences → preview → send-list gate → send → record.

A campaign run belongs to one *data date* ``D`` (the nightly run whose audiences it sends to) and sends on ``D+1``:
- triggered campaigns run on the ``crm_audiences`` Asset event of ``D`` (its extra names the date); their reference time is
  the end of ``D``'s data interval and their messages are handed to the provider with the campaign's send time;
- scheduled campaigns run at their cron time ``T``; ``D`` is the KST day before ``T`` and the reference time is ``T``.
Re-running a campaign date plans the same intents; the ledger's idempotency keys make the send a no-op the second time.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from include.core.settings import get_settings
from include.core.timezone import KST
from pipeline.runctx import RunContext, for_date

log = logging.getLogger("crm.campaigns")


def configured_campaigns() -> list[Any]:
    """The valid campaigns of the configured folder (``CRM_CAMPAIGNS_DIR``): one DAG each."""
    return campaign_files()[0]


def campaign_files() -> tuple[list[Any], dict[str, str]]:
    """The valid campaigns, and each broken campaign file with its problems (one per line).

    A broken campaign file disables that campaign only: it gets a DAG whose one task fails with these problems
    (``dags/crm_campaign.py``); a broken ``settings.yml``/``templates.yml`` concerns every campaign and raises.
    """
    from activation.config import load_config

    config = load_config(get_settings().campaigns_dir, isolate_campaigns=True)
    broken = {file: "\n".join(str(i) for i in issues) for file, issues in config.broken.items()}
    return list(config.campaigns), broken


def config_error(file: str) -> None:
    """The task of a broken campaign file's DAG: fails with the file's problems (re-read, so a fixed file says so)."""
    from activation.config import ConfigError, load_config

    try:
        config = load_config(get_settings().campaigns_dir, isolate_campaigns=True)
    except ConfigError as exc:
        raise RuntimeError(f"campaign file {file}: the campaigns folder is invalid:\n{exc}") from None
    now = config.broken.get(file)
    if now is None:
        log.warning(
            "campaign file %s is valid now; its campaign DAG replaces this one at the next parse", file
        )
        return
    raise RuntimeError(
        f"campaign file {file} is invalid; this campaign is disabled until it is fixed "
        f"(`crm validate` lists the same):\n" + "\n".join(f"  - {i}" for i in now)
    )


def campaign_run_context(context: dict[str, Any], scheduled: bool) -> dict:
    """The run context of a campaign DAG run (see the module doc for how the data date is chosen)."""
    from pipeline.runctx import from_airflow

    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    run_id = context.get("run_id") or getattr(dag_run, "run_id", "unknown")
    if scheduled and not conf.get("data_date"):
        fire = (context.get("logical_date") or context["data_interval_end"]).astimezone(KST)
        rc = for_date(fire.date() - timedelta(days=1), run_id)
        return {**rc.to_dict(), "reference_time": fire.isoformat()}
    rc = from_airflow(context)
    ref = conf.get("reference_time") or rc.reference_time.isoformat()
    return {**rc.to_dict(), "reference_time": ref}


def _split(rcd: dict) -> tuple[RunContext, datetime]:
    from include.core.warehouse import release_dbt_handle

    release_dbt_handle()  # same-process runs (dags test): dbt's open handle would block read-only connections
    return RunContext.from_dict(rcd), datetime.fromisoformat(rcd["reference_time"])


def _out_dir(rc: RunContext, campaign_id: str) -> Path:
    path = get_settings().run_dir(rc.ds) / "campaigns" / campaign_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def audiences_published(data_date: date) -> bool:
    """True once the nightly run of ``data_date`` has published its audiences."""
    return (get_settings().run_dir(data_date.isoformat()) / "steps" / "publish_audiences.json").is_file()


def preview(campaign_id: str, rcd: dict) -> dict:
    """Dry run: recipients per variant, holdout/control, suppressed by reason, samples (masked), cost estimate."""
    from activation.api import preview as run_preview

    rc, ref = _split(rcd)
    result = run_preview(campaign_id, rc.data_date, reference_time=ref)
    _write(_out_dir(rc, campaign_id) / "preview.json", result)
    log.info(
        "campaign %s for %s: due=%s, to send %s", campaign_id, rc.ds, result.get("due"), result.get("to_send")
    )
    return {k: result.get(k) for k in ("campaign_id", "run_date", "due", "to_send", "error")}


def _gate(send_list: Any, rc: RunContext, ref: datetime, campaign_id: str, *, store: bool) -> Any:
    from expectations import validate_send_list

    return validate_send_list(
        send_list.frame(),
        send_list.campaigns,
        rc.data_date,
        rc.run_id,
        warehouse=get_settings().warehouse if store else None,
        reference_time=ref,
        gate_name=f"send_list__{campaign_id}",
    )


def planned_send_list(campaign_id: str, rc: RunContext, ref: datetime) -> Any:
    """The send list the campaign would send for ``rc`` right now (nothing is written)."""
    from activation.api import build_plan
    from activation.config import load_config
    from activation.ledger import Ledger
    from activation.send_list import SendList

    st = get_settings()
    config = load_config(st.campaigns_dir, isolate_campaigns=True)  # a broken file never stops this campaign
    ledger = Ledger(st.ledger)
    try:
        plan = build_plan(
            rc.data_date,
            reference_time=ref,
            run_id=rc.run_id,
            config=config,
            ledger=ledger,
            warehouse=st.warehouse,
        )
    finally:
        ledger.close()
    return SendList.from_plan(plan, {campaign_id})


def send_list_gate(campaign_id: str, rcd: dict) -> dict:
    """Runs the send-list quality gate on the planned list (results stored); raises on a critical failure."""
    rc, ref = _split(rcd)
    send_list = planned_send_list(campaign_id, rc, ref)
    result = _gate(send_list, rc, ref, campaign_id, store=True)
    _write(_out_dir(rc, campaign_id) / "gate.json", result.to_dict())
    result.raise_if_failed()
    return {"passed": result.passed, "rows": len(send_list.rows)}


def send(campaign_id: str, rcd: dict) -> dict:
    """Plans and sends; the same gate re-checks the exact list being sent before anything is committed."""
    from activation.api import plan_and_send

    rc, ref = _split(rcd)
    if rc.is_backfill:
        return {"skipped": "backfill run: no customer-facing action"}
    if not audiences_published(rc.data_date):
        # the DAG's sensor waits for this too; the send step refuses on its own so no path sends from unchecked tables
        raise RuntimeError(
            f"campaign {campaign_id}: the audiences of {rc.ds} are not published "
            "(the nightly run failed a quality gate or has not finished); nothing was sent"
        )

    def gate(send_list: Any) -> None:
        _gate(send_list, rc, ref, campaign_id, store=False).raise_if_failed()

    result = plan_and_send(
        rc.data_date, campaign_ids=[campaign_id], reference_time=ref, run_id=rc.run_id, before_send=gate
    )
    out = result.to_dict()
    _write(_out_dir(rc, campaign_id) / "send.json", out)
    if result.errors:
        raise RuntimeError(f"campaign {campaign_id} for {rc.ds}: " + "; ".join(result.errors[:5]))
    return {"campaign_id": campaign_id, "sent": out.get("sent"), "errors": out.get("errors")}


def record(campaign_id: str, rcd: dict) -> dict:
    """Refreshes delivery statuses from the provider and writes the campaign's run summary."""
    from activation.api import run_status

    rc, ref = _split(rcd)
    status = run_status(rc.data_date, refresh=True, reference_time=ref)
    mine = status["campaigns"].get(campaign_id, {})
    _write(_out_dir(rc, campaign_id) / "status.json", mine)
    return {"campaign_id": campaign_id, "status": mine, "errors": status.get("errors")}
