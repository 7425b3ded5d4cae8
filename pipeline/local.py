"""The nightly cycle without a scheduler: the same task functions as the DAGs, in the DAGs' order, dbt in one build.

For the reliability suite, backfill checks and benchmarks, where an Airflow run per date would cost minutes of
scheduling overhead: ``run_nightly(D)`` calls exactly what ``crm_nightly``'s tasks call (extraction, the raw gate, dbt,
the marts gate, publishing, audience sync, the report), except that dbt runs as one ``dbt build`` instead of one task
per model; ``run_campaigns(D)`` does what the due ``crm_campaign__*`` DAGs do. ``run_backfill(D0, D1)`` extracts up to
``D1`` and rebuilds every date from ``D0`` in one dbt build (``backfill_start_date``).

    python -m pipeline.local nightly --date 2026-11-22 [--campaigns] [--through 2026-11-24]
    python -m pipeline.local backfill --from 2026-11-16 --to 2026-11-22
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from include.core.settings import get_settings
from pipeline import campaign_runs, nightly
from pipeline.runctx import RunContext, for_date

log = logging.getLogger("crm.local")


def dbt(args: list[str], run_date: date, extra_vars: dict | None = None) -> None:
    """Runs dbt in a child process against the configured warehouse; raises with dbt's output on failure."""
    st = get_settings()
    exe = str(Path(sys.executable).with_name("dbt"))
    variables = {"run_date": run_date.isoformat(), **(extra_vars or {})}
    cmd = [exe, *args, "--project-dir", str(st.dbt_project_dir), "--profiles-dir", str(st.dbt_project_dir)]
    cmd += ["--target", st.dbt_target, "--vars", json.dumps(variables)]
    env = {**os.environ, "CRM_WAREHOUSE_PATH": str(st.warehouse.resolve())}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(
            f"dbt {' '.join(args)} failed for {run_date}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        )


def run_nightly(
    data_date: date,
    *,
    run_id: str | None = None,
    is_backfill: bool = False,
    with_report: bool = True,
    extra_vars: dict | None = None,
) -> dict[str, Any]:
    """One nightly cycle for ``data_date``; raises at the first failing step, like the DAG's gates do."""
    rc: RunContext = for_date(data_date, run_id or f"local__{data_date.isoformat()}", is_backfill=is_backfill)
    context = {
        "data_interval_start": rc.interval_start,
        "data_interval_end": rc.interval_end,
        "run_id": rc.run_id,
        "dag_run": None,
    }
    rcd = nightly.prepare(context)
    if is_backfill:
        rcd["is_backfill"] = True
    results = {
        "storefront": nightly.extract_storefront(rcd),
        "events": nightly.extract_events(rcd),
        "messaging": nightly.extract_messaging(rcd),
    }
    nightly.raw_gate(rcd, list(results.values()))
    dbt(["build"], data_date, extra_vars)
    nightly.marts_gate(rcd)
    nightly.publish_audiences(rcd)
    nightly.sync_audiences(rcd)
    if with_report:
        from pipeline.summary import write_run_outputs

        write_run_outputs(rc, with_dbt_docs=False)
    return {"run": rcd, "extract": results}


def run_campaigns(data_date: date, *, run_id: str | None = None) -> dict[str, Any]:
    """Runs every campaign due for ``data_date`` the way its DAG does (preview → gate → send → record)."""
    from activation.api import campaigns_due

    out: dict[str, Any] = {}
    base = for_date(data_date, run_id or f"local__{data_date.isoformat()}").to_dict()
    for due in campaigns_due(data_date):
        cid = due["campaign_id"]
        campaign = _campaign(cid)
        ref = due["send_at"] if campaign.trigger.type == "schedule" else base["interval_end"]
        rcd = {**base, "reference_time": ref}
        campaign_runs.preview(cid, rcd)
        campaign_runs.send_list_gate(cid, rcd)
        out[cid] = campaign_runs.send(cid, rcd)
        campaign_runs.record(cid, rcd)
    return out


def _campaign(campaign_id: str) -> Any:
    from activation.config import load_config

    return load_config(get_settings().campaigns_dir).campaign(campaign_id)


def run_backfill(start: date, end: date) -> dict[str, Any]:
    """Extracts up to ``end`` and rebuilds every date from ``start`` in one dbt build; no customer-facing step."""
    return run_nightly(end, is_backfill=True, extra_vars={"backfill_start_date": start.isoformat()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    n = sub.add_parser("nightly")
    n.add_argument("--date", type=date.fromisoformat, required=True)
    n.add_argument("--campaigns", action="store_true")
    n.add_argument(
        "--through",
        type=date.fromisoformat,
        help="also re-run every later date up to this one, in order (replaying a bad night and the nights after it)",
    )
    b = sub.add_parser("backfill")
    b.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    b.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = datetime.now()
    if args.cmd == "nightly":
        if args.through is not None and args.through < args.date:
            parser.error("--through must not be before --date")
        for day in dates(args.date, args.through or args.date):
            result = run_nightly(day)
            if args.campaigns:
                result["campaigns"] = run_campaigns(day)
    else:
        result = run_backfill(args.start, args.end)
    print(json.dumps({"ok": True, "seconds": (datetime.now() - started).total_seconds()}, default=str))
    return 0


def dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


if __name__ == "__main__":
    raise SystemExit(main())
