"""The run's outputs for people: a summary (JSON + text), the marketing-cycle report and dbt docs.

The summary gathers what each step recorded under ``data/runs/<D>/steps/`` plus a few counts read from the warehouse
(read-only): rows extracted, quality results, segment and tier counts, audience sizes, and — once campaign runs have
happened — messages by status from the send ledger.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from include.core.settings import get_settings
from pipeline.runctx import RunContext

log = logging.getLogger("crm.summary")

STEPS = (
    "extract_storefront",
    "extract_events",
    "extract_messaging",
    "raw_gate",
    "marts_gate",
    "publish_audiences",
    "sync_audiences",
)


def forget_steps(run_dir: Path) -> None:
    """Deletes the step records of a previous attempt of the date (called when a run of it starts), so the
    summary of a rerun that stops early shows its own results ("not run"), never the previous attempt's."""
    for step in STEPS:
        (run_dir / "steps" / f"{step}.json").unlink(missing_ok=True)


def _read_steps(run_dir: Path) -> dict[str, Any]:
    out = {}
    for step in STEPS:
        path = run_dir / "steps" / f"{step}.json"
        if path.is_file():
            out[step] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _rows_extracted(steps: dict[str, Any]) -> dict[str, int]:
    rows: dict[str, int] = {}
    sf = steps.get("extract_storefront") or {}
    for table, n in (sf.get("rows") or {}).items():
        rows[f"storefront.{table}"] = int(n)
    ev = steps.get("extract_events") or {}
    if "loaded_total" in ev:
        rows["events"] = int(ev["loaded_total"])
    msg = steps.get("extract_messaging") or {}
    rep = msg.get("reports") or {}
    for table, n in (rep.get("rows") or rep.get("loaded") or {}).items():
        rows[f"messaging.{table}"] = int(n)
    sl = msg.get("send_log") or {}
    if isinstance(sl, dict) and "loaded_total" in sl:
        rows["messaging.send_log"] = int(sl["loaded_total"])
    return rows


def _gate_status(step: dict | None) -> str:
    if not step:
        return "not run"
    if step.get("status"):
        return step["status"]
    if not step.get("passed", False):
        return "FAIL"
    return "WARN" if step.get("warnings") or step.get("counts", {}).get("warning") else "PASS"


def warehouse_counts(warehouse: Path, data_date: str) -> dict[str, Any]:
    """Segment/tier counts of the date and audience sizes, or an explanation when the tables are not there."""
    import duckdb

    out: dict[str, Any] = {"segments": {}, "tiers": {}, "audiences": {}}
    if not Path(warehouse).exists():
        return {**out, "error": "no warehouse yet"}
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def q(sql: str, params: list | None = None) -> list[tuple]:
            try:
                return con.execute(sql, params or []).fetchall()
            except duckdb.Error as exc:
                log.warning("summary query failed: %s", str(exc).splitlines()[0])
                return []

        out["segments"] = dict(
            q(
                "select segment, count(*) from marts.fct_customer_segments_daily "
                "where segment_date = ? group by 1 order by 1",
                [data_date],
            )
        )
        out["tiers"] = dict(
            q(
                "select tier, count(*) from marts.fct_customer_tiers_daily "
                "where tier_date = ? group by 1 order by 1",
                [data_date],
            )
        )
        for (name,) in q(
            "select table_name from information_schema.tables where table_schema = 'audiences' order by 1"
        ):
            rows = q(f'select count(*) from audiences."{name}"')
            out["audiences"][name] = rows[0][0] if rows else None
    return out


def ledger_counts(data_date: str) -> dict[str, dict[str, int]]:
    """Messages of the date's campaign runs by campaign and status, from the send ledger."""
    from datetime import date

    from activation.ledger import Ledger

    ledger = Ledger(get_settings().ledger)
    try:
        intents = ledger.intents_for_run(date.fromisoformat(data_date))
    finally:
        ledger.close()
    out: dict[str, dict[str, int]] = {}
    for i in intents:
        by = out.setdefault(i.campaign_id, {})
        by[i.status] = by.get(i.status, 0) + 1
    return out


def build_dbt_docs(run_dir: Path, data_date: str) -> Path | None:
    """``dbt docs generate --static`` into the run folder (a single self-contained page)."""
    st = get_settings()
    target = run_dir / "dbt_docs"
    cmd = [
        str(Path(sys.executable).with_name("dbt")),
        "docs",
        "generate",
        "--static",
        "--quiet",
        "--project-dir",
        str(st.dbt_project_dir),
        "--profiles-dir",
        str(st.dbt_project_dir),
        "--target",
        st.dbt_target,
        "--target-path",
        str(target),
        "--vars",
        json.dumps({"run_date": data_date}),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        log.warning("dbt docs generate failed: %s", (proc.stdout + proc.stderr)[-2000:])
        return None
    page = target / "static_index.html"
    return page if page.is_file() else None


def write_run_outputs(rc: RunContext, *, with_dbt_docs: bool = True) -> dict[str, Any]:
    """Writes ``summary.json``/``summary.txt``, the HTML report and dbt docs for the run; returns the summary."""
    from outputs.report import build_report

    st = get_settings()
    run_dir = st.run_dir(rc.ds)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = _read_steps(run_dir)
    summary: dict[str, Any] = {
        "data_date": rc.ds,
        "run_id": rc.run_id,
        "rows_extracted": _rows_extracted(steps),
        "quality": {
            "raw_gate": _gate_status(steps.get("raw_gate")),
            "marts_gate": _gate_status(steps.get("marts_gate")),
        },
        **warehouse_counts(st.warehouse, rc.ds),
        "audience_sync": steps.get("sync_audiences"),
        "exports": (steps.get("publish_audiences") or {}).get("out_dir"),
    }
    report_path = run_dir / "report.html"
    try:
        build_report(
            st.warehouse,
            rc.data_date,
            rc.run_id,
            report_path,
            quality_dir=run_dir / "quality",
            extras=summary,
        )
        summary["report"] = str(report_path)
    except Exception as exc:  # the report must not hide the run's own outcome
        log.error("report failed: %s", exc)
        summary["report_error"] = str(exc)
    if with_dbt_docs:
        docs = build_dbt_docs(run_dir, rc.ds)
        summary["dbt_docs"] = str(docs) if docs else None
    (run_dir / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    return summary
