"""Failure callbacks: one clear, PII-free alert line per failed task, also appended to the run's alert file."""

from __future__ import annotations

import json
import logging
from typing import Any

from include.core.pii import mask_text
from include.core.settings import get_settings
from include.core.timezone import KST

log = logging.getLogger("crm.alerts")


def task_failure_alert(context: dict[str, Any]) -> None:
    """Airflow ``on_failure_callback``: logs ``CRM ALERT dag=… task=… run=… date=…: <reason>`` and records it."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = context.get("run_id") or getattr(ti, "run_id", "?")
    exc = context.get("exception")
    reason = mask_text(str(exc).splitlines()[0] if exc else "unknown error")[:500]
    start = context.get("data_interval_start")
    # the data date is the business-time-zone day the interval starts on, whatever the host's zone
    data_date = start.astimezone(KST).date().isoformat() if start is not None else "?"
    line = f"CRM ALERT dag={dag_id} task={task_id} run={run_id} date={data_date}: {reason}"
    log.error(line)
    try:
        folder = get_settings().run_dir(data_date)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "alerts.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(
                json.dumps(
                    {
                        "dag_id": dag_id,
                        "task_id": task_id,
                        "run_id": run_id,
                        "data_date": data_date,
                        "reason": reason,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    except OSError as err:  # alerting must never raise
        log.error("could not record alert: %s", err)
