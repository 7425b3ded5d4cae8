"""Runs DAGs for given dates the way ``airflow dags test`` does, several in one process (one Airflow start-up).

``python -m pipeline.dagrun plan.json`` reads ``[{"dag_id", "logical_date", "conf"?, "emulator_clock"?}, …]``,
runs each with ``DAG.test`` (the scheduler-free executor behind ``airflow dags test``), optionally moving the API
emulators' simulated clock first, and prints one ``DAGRUN {json}`` line per run with its final state and task states.
Used by the demo and the end-to-end tests; engineers use ``airflow dags test`` or the scheduler directly.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("crm.dagrun")


def set_emulator_clock(urls: dict[str, str], when: datetime) -> None:
    """Moves every emulator's simulated clock (the demo's stand-in for time passing)."""
    import requests

    for url in urls.values():
        resp = requests.put(f"{url}/_emulator/clock", json={"now": when.isoformat()}, timeout=10)
        resp.raise_for_status()


def run_plan(plan: list[dict[str, Any]], dags_folder: str | None = None) -> list[dict[str, Any]]:
    """Runs every entry of ``plan`` in order; returns one result dict per run (it never raises for a failed run)."""
    from airflow.dag_processing.dagbag import DagBag

    from include.core.settings import REPO_ROOT

    bag = DagBag(dag_folder=dags_folder or str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    results = []
    for entry in plan:
        dag = bag.get_dag(entry["dag_id"])
        if dag is None:
            raise KeyError(f"no DAG {entry['dag_id']!r}; known: {sorted(bag.dag_ids)}")
        if entry.get("emulator_clock") and entry.get("emulator_urls"):
            set_emulator_clock(entry["emulator_urls"], datetime.fromisoformat(entry["emulator_clock"]))
        logical = datetime.fromisoformat(entry["logical_date"])
        started = time.perf_counter()
        dag_run = dag.test(logical_date=logical, run_conf=entry.get("conf"))
        tis = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}
        result = {
            "dag_id": dag.dag_id,
            "logical_date": logical.isoformat(),
            "run_id": dag_run.run_id,
            "state": str(getattr(dag_run.state, "value", dag_run.state)),
            "seconds": round(time.perf_counter() - started, 1),
            "failed_tasks": sorted(t for t, s in tis.items() if s in ("failed", "upstream_failed")),
            "tasks": tis,
        }
        print("DAGRUN " + json.dumps(result), flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m pipeline.dagrun PLAN.json", file=sys.stderr)
        return 2
    plan = json.loads(Path(args[0]).read_text())
    results = run_plan(plan)
    return 0 if all(r["state"] == "success" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
