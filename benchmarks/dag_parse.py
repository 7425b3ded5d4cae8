"""Benchmark 6: parse time of each DAG file, in a fresh interpreter per parse, with and without Airflow pre-imported.

Airflow's DAG processor imports every DAG file periodically, with Airflow itself already imported. Each
repetition starts a new ``python`` (a cold module cache), then either times the import of ``airflow.sdk`` +
the DAG file together ("cold") or imports Airflow first and times only the DAG file ("Airflow pre-imported", what
the processor pays per file). The median of N repetitions is reported; the baseline row is a file defining one
empty DAG, parsed the same way.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, Section, print_table

CHILD = r"""
import importlib.util, json, sys, time
path, preimport = sys.argv[1], sys.argv[2] == "1"
sys.path.insert(0, sys.argv[3])
t0 = time.perf_counter()
if preimport:
    import airflow.sdk  # noqa: F401
    t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("dagfile", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
from airflow.sdk import DAG
dags = [v for v in vars(mod).values() if isinstance(v, DAG)]
print(json.dumps({"seconds": time.perf_counter() - t0, "dags": len(dags),
                  "tasks": sum(len(d.tasks) for d in dags)}))
"""

EMPTY_DAG = """from airflow.sdk import DAG
import pendulum
with DAG(dag_id="empty", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
    pass
"""


def _parse_once(path: Path, preimport: bool, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "1" if preimport else "0", str(ROOT)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"parsing {path.name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(repetitions: int, scale: str = "-") -> Section:
    """Parses every file of ``dags/`` (and an empty DAG) ``repetitions`` times per mode."""
    sec = Section("dag_parse", scale)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "AIRFLOW_HOME": tmp, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "DO_NOT_TRACK": "1",
               "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "SCARF_ANALYTICS": "false"}  # fmt: skip
        empty = Path(tmp) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        files = [empty, *sorted((ROOT / "dags").glob("*.py"))]
        for path in files:
            row: dict = {"file": "baseline: one empty DAG" if path == empty else f"dags/{path.name}"}
            for preimport in (False, True):
                runs = [_parse_once(path, preimport, env) for _ in range(repetitions)]
                key = "airflow_preimported_s" if preimport else "cold_s"
                row[key] = round(statistics.median(r["seconds"] for r in runs), 3)
                row["dags"], row["tasks"] = runs[0]["dags"], runs[0]["tasks"]
            sec.rows.append(row)
    base = sec.rows[0]["airflow_preimported_s"]
    for row in sec.rows:
        row["vs_empty_dag"] = round(row["airflow_preimported_s"] / base, 1) if base else None
    sec.facts = {"repetitions": repetitions}
    print_table(f"DAG parse time (median of {repetitions}, fresh interpreter each)", sec.rows,
                ["file", "dags", "tasks", "cold_s", "airflow_preimported_s", "vs_empty_dag"])  # fmt: skip
    return sec
