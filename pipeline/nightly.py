"""Task logic of ``crm_nightly``: one function per task, each taking and returning JSON-serialisable dicts (XCom).

Every function derives its time from the run context (:mod:`pipeline.runctx`), never from the wall clock.
Heavy libraries are imported here, inside the functions' modules, never in the DAG file.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from include.core.settings import get_settings
from pipeline.runctx import RunContext, from_airflow

log = logging.getLogger("crm.nightly")


def _rc(rc: dict | RunContext) -> RunContext:
    from include.core.warehouse import release_dbt_handle

    release_dbt_handle()  # same-process runs (dags test): dbt's open handle would block read-only connections
    return rc if isinstance(rc, RunContext) else RunContext.from_dict(rc)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def step_file(rc: RunContext, step: str) -> Path:
    """Where a step of the run records its result (read by the report and the run summary)."""
    return get_settings().run_dir(rc.ds) / "steps" / f"{step}.json"


def record(rc: RunContext, step: str, result: dict) -> dict:
    _write_json(step_file(rc, step), result)
    return result


def prepare(context: dict) -> dict:
    """Resolves the run context and makes sure every raw table of the contract exists (dbt reads them all)."""
    from include.extract.bootstrap import ensure_raw_tables_duckdb

    rc = from_airflow(context)
    st = get_settings()
    ensure_raw_tables_duckdb(st.warehouse)
    st.run_dir(rc.ds).mkdir(parents=True, exist_ok=True)
    # a (re)run of the date forgets the previous attempt's step records: its audiences are un-published until this
    # run has gated and published them again (campaign runs never send from tables a failed rerun left
    # half-rebuilt), and the run summary shows only this run's results
    from pipeline.summary import forget_steps

    forget_steps(st.run_dir(rc.ds))
    log.info("run %s: data date %s, interval [%s, %s)", rc.run_id, rc.ds, rc.interval_start, rc.interval_end)
    return rc.to_dict()


def extract_storefront(rc_d: dict) -> dict:
    """Incremental storefront extraction through the API up to the end of the data interval."""
    from include.extract.storefront import extract_storefront as run

    rc = _rc(rc_d)
    st = get_settings()
    result = run(rc.interval_start, rc.interval_end, source=st.storefront)
    return record(rc, "extract_storefront", result)


def _events_lookback(warehouse: Path, drops_url: str, data_date: date, default: int) -> int:
    """Late-event lookback, widened on the first run so the whole history of drops up to the date is loaded."""
    import duckdb
    import fsspec

    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute(
            "select max(drop_date) from raw_events.events where drop_date <= ?", [data_date]
        ).fetchone()[0]
    if loaded is not None:
        return max(default, (data_date - loaded).days)
    fs, root = fsspec.core.url_to_fs(drops_url)
    days = []
    for path in fs.ls(root, detail=False) if fs.exists(root) else []:
        name = Path(str(path)).name
        if name.startswith("dt="):
            try:
                days.append(date.fromisoformat(name[3:]))
            except ValueError:
                log.warning("ignoring drop folder with a bad name: %s", name)
    earlier = [d for d in days if d <= data_date]
    return max(default, (data_date - min(earlier)).days) if earlier else default


def extract_events(rc_d: dict) -> dict:
    """Loads the day's event drop (and the days before it that are not loaded yet, plus late events)."""
    from include.extract.events import load_event_drops

    rc = _rc(rc_d)
    st = get_settings()
    lookback = _events_lookback(st.warehouse, st.event_drops, rc.data_date, st.event_lookback_days)
    result = load_event_drops(st.event_drops, rc.data_date, lookback_days=lookback)
    return record(rc, "extract_events", result)


def extract_messaging(rc_d: dict) -> dict:
    """Delivery reports from the messaging provider and the activation ledger's send log."""
    from activation.ledger import Ledger
    from include.extract.messaging import extract_message_reports
    from include.extract.send_log import load_send_log

    rc = _rc(rc_d)
    reports = extract_message_reports(rc.interval_start, rc.interval_end)
    Ledger(
        get_settings().ledger
    ).close()  # a new ledger gets its tables: its send log loads empty, not missing
    send_log = load_send_log(rc.interval_end)
    return record(rc, "extract_messaging", {"reports": reports, "send_log": send_log})


def _load_ids(results: list[dict]) -> dict[str, list[str]]:
    """Collects the dlt load ids of this run's extraction steps, per raw schema."""
    ids: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            lid, schema = node.get("load_id"), node.get("dataset") or node.get("schema")
            if lid:
                ids.setdefault(schema or "*", []).append(lid)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(results)
    return ids


def raw_gate(rc_d: dict, extraction_results: list[dict]) -> dict:
    """Runs the raw-batch gate on this run's loads; raises (stopping the run) on a critical failure.

    Rows breaking a row rule (future timestamp, negative amount, null key, …) are moved into
    ``raw_quarantine.records`` by the gate and the night goes on with the clean rows; only an untrustworthy batch
    (schema drift, empty or spiked volume, too many bad rows) raises.
    """
    from expectations import run_raw_gate

    rc = _rc(rc_d)
    st = get_settings()
    result = run_raw_gate(
        st.warehouse, rc.data_date, rc.run_id, _load_ids(extraction_results), reference_time=rc.reference_time
    )
    record(rc, "raw_gate", result.to_dict())
    for table, by_rule in (result.counts.get("quarantined_by_rule") or {}).items():
        log.warning("raw gate quarantined rows of %s: %s", table, by_rule)
    result.raise_if_failed()
    return result.to_dict()


def marts_gate(rc_d: dict) -> dict:
    """Runs the marts gate on the dbt outputs of the date; raises on a critical failure."""
    from expectations import run_marts_gate

    rc = _rc(rc_d)
    result = run_marts_gate(
        get_settings().warehouse, rc.data_date, rc.run_id, reference_time=rc.reference_time
    )
    record(rc, "marts_gate", result.to_dict())
    result.raise_if_failed()
    return result.to_dict()


def publish_audiences(rc_d: dict) -> dict:
    """Exports the audiences of the date (CSV + Parquet, contacts masked) into the run's folder."""
    from outputs.exports import export_audiences

    rc = _rc(rc_d)
    st = get_settings()
    result = export_audiences(st.warehouse, rc.data_date, st.runs, contact_mode=st.export_contact_mode)
    return record(rc, "publish_audiences", result)


def sync_audiences(rc_d: dict) -> dict:
    """Diff-based audience sync (Channel Talk); skipped for backfill runs, which never touch customers."""
    from activation.api import sync_audiences as run

    rc = _rc(rc_d)
    if rc.is_backfill:
        return record(rc, "sync_audiences", {"skipped": "backfill run: no customer-facing action"})
    reports = run(rc.data_date, reference_time=rc.reference_time, run_id=rc.run_id)
    result = {"syncs": [r.__dict__ for r in reports]}
    errors = [e for r in reports for e in r.errors]
    record(rc, "sync_audiences", result)
    if errors:
        raise RuntimeError(f"audience sync failed for {rc.ds}: " + "; ".join(errors[:5]))
    return result


def report(rc_d: dict) -> dict:
    """Builds the marketing-cycle report, dbt docs and the run summary (also after a failed upstream task)."""
    from pipeline.summary import write_run_outputs

    rc = _rc(rc_d)
    return write_run_outputs(rc)


def previous_date(d: date) -> date:
    return d - timedelta(days=1)
