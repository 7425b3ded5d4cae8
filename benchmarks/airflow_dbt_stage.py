"""Benchmark 7: crm_nightly's dbt stage under Airflow vs one plain ``dbt build`` of the same selection.

A DAG holding only the nightly's dbt stage (``pipeline.dbt_cosmos.dbt_stage``, the task group ``crm_nightly``
renders) behind one small task runs under ``airflow dags test`` (the real Airflow task runner and execution API, a
SQLite metadata DB, in a fresh Airflow home) on a copy of the raw warehouse. *Stage* is the wall time from the start
of its first task to the end of its last one, read from the metadata DB's task instances; the DAG's first task pays
the start-up of ``dags test`` itself, as the nightly's extraction tasks do. The baseline is ``dbt build`` of the
same project, vars and warehouse copy, measured in the same run; both start without a partial parse for the night's
vars (a fresh target folder, a fresh Cosmos cache), and both must leave identical tables (row count and checksum of
every model, seed and snapshot table).

Paths — the baseline and the stage alternate, back to back, ``repetitions`` times; the others run once:
- plain ``dbt build`` — the baseline (persist_docs off, the project's default);
- the stage (Cosmos WATCHER: one ``dbt build`` of models/seeds/snapshots, a sensor per node, one ``dbt test``);
- ``dbt build`` of models/seeds/snapshots, then ``dbt test``, plainly: the split the stage makes, without Airflow;
- with ``before``: the stage as it was (Cosmos LOCAL: one dbt per model, then ``dbt test``; persist_docs on, as the
  project had it), plain ``dbt build`` with persist_docs on (and how many ``COMMENT ON`` it ran), and the stage under
  ``airflow standalone`` — the scheduler with the LocalExecutor, each task its own worker process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DBT,
    PROJECT,
    ROOT,
    Section,
    compare_checksums,
    copy_warehouse,
    dbt_env,
    load_average,
    model_tables,
    print_table,
    run_measured,
    table_checksums,
)

DAG_ID = "crm_dbt_stage_bench"
# the project the nightly builds (pipeline.dbt_cosmos reads the same variable), on both sides
PROJECT_DIR = Path(os.environ.get("CRM_DBT_PROJECT_DIR", PROJECT))
AIRFLOW = Path(sys.executable).with_name("airflow")
GROUP = "dbt_build"

# The nightly's dbt stage alone. CRM_BENCH_STAGE=local renders it as crm_nightly did before the WATCHER change
# (git 6d8accb, dags/crm_nightly.py): every dbt node its own task and dbt start, in the one-writer pool.
BENCH_DAG = '''"""crm_dbt_stage_bench: crm_nightly's dbt stage alone (written by benchmarks/airflow_dbt_stage.py)."""

import os

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, task

from include.core.timezone import TIMEZONE
from pipeline import dbt_cosmos


def local_stage():
    from cosmos import DbtTaskGroup, ExecutionConfig
    from cosmos.constants import ExecutionMode, InvocationMode

    return DbtTaskGroup(
        group_id="dbt_build",
        project_config=dbt_cosmos.project_config(),
        profile_config=dbt_cosmos.profile_config(),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=dbt_cosmos.render_config(),
        operator_args={
            "vars": {"run_date": "{{ kst_date(data_interval_start) }}"},
            "env": dbt_cosmos.dbt_env(),
            "pool": "duckdb_writer",
            "install_deps": False,
            "retries": 0,
        },
    )


with DAG(
    dag_id="crm_dbt_stage_bench",
    # under a scheduler (CRM_BENCH_SCHEDULE=none) only the triggered run
    schedule=None
    if os.environ.get("CRM_BENCH_SCHEDULE") == "none"
    else CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 8, 1, tz=TIMEZONE),
    catchup=False,
    user_defined_macros={"kst_date": lambda dt: dt.in_timezone(TIMEZONE).strftime("%Y-%m-%d")},
) as dag:

    @task
    def before_dbt() -> None:
        """Stands for the nightly's tasks before dbt (the first task of `dags test` pays its start-up)."""

    if os.environ["CRM_BENCH_STAGE"] == "local":
        stage = local_stage()
    elif os.environ.get("CRM_BENCH_RUN_DATE"):  # a triggered run's interval is not the data date's
        stage = dbt_cosmos.dbt_stage("dbt_build", run_date=os.environ["CRM_BENCH_RUN_DATE"])
    else:
        stage = dbt_cosmos.dbt_stage("dbt_build")
    before_dbt() >> stage
'''


def _airflow_env(
    home: Path, warehouse: Path, data_dir: Path, stage: str, persist_docs: bool
) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # a fresh Cosmos cache per run: no partial parse of an earlier run (the baseline has none either)
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "CRM_DATA_DIR": str(data_dir),
        "CRM_WAREHOUSE_PATH": str(warehouse.resolve()),
        "CRM_DBT_TARGET": "duckdb",
        "CRM_DBT_PERSIST_DOCS": "true" if persist_docs else "false",
        "CRM_BENCH_STAGE": stage,
        "PYTHONPATH": str(ROOT)
        + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
        "PATH": str(DBT.parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    env["CRM_DBT_PROJECT_DIR"] = str(PROJECT_DIR)
    return env


def prepare_airflow(work: Path) -> Path:
    """An Airflow home with a migrated SQLite metadata DB, the project's pools and the benchmark DAG (untimed)."""
    home = work / "airflow_template"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    (home / "dags" / f"{DAG_ID}.py").write_text(BENCH_DAG, encoding="utf-8")
    env = _airflow_env(home, work / "unused.duckdb", work / "data", "watcher", False)
    for args in (["db", "migrate"], ["pools", "import", str(ROOT / "include" / "airflow" / "pools.json")]):
        run_measured([str(AIRFLOW), *args], env=env, cwd=ROOT, timeout=600).check(f"airflow {args[0]}")
    return home


def stage_times(db: Path) -> dict[str, Any]:
    """Wall time of the dbt stage and of its parts, from the task instances of the only DAG run in ``db``."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "select task_id, state, start_date, end_date, operator from task_instance where task_id like ?",
            [f"{GROUP}.%"],
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise RuntimeError("the benchmark DAG run has no dbt task instances")
    bad = sorted(f"{t}={s}" for t, s, *_ in rows if s != "success")
    if bad:
        raise RuntimeError(f"dbt stage tasks did not all succeed: {bad[:10]}")
    ts = {t: (datetime.fromisoformat(a), datetime.fromisoformat(b), op or "") for t, _, a, b, op in rows}
    start, end = min(a for a, _, _ in ts.values()), max(b for _, b, _ in ts.values())

    def secs(kind: str) -> float:
        return round(sum((b - a).total_seconds() for a, b, op in ts.values() if _kind(op) == kind), 2)

    return {
        "stage_s": round((end - start).total_seconds(), 2),
        "tasks": len(rows),
        "producer_s": secs("producer"),
        "sensors_s": secs("sensor"),
        "model_tasks_s": secs("dbt per node"),
        "test_task_s": secs("test"),
    }


def _kind(operator: str) -> str:
    """What a task of the stage does, from its operator class name."""
    if "Producer" in operator:
        return "producer"  # Cosmos' DbtProducerWatcherOperator or pipeline.dbt_cosmos' subclass
    if operator.endswith("WatcherOperator"):
        return "sensor"
    if operator == "DbtTestLocalOperator":
        return "test"
    return "dbt per node" if operator.endswith("LocalOperator") else "other"


def dbt_invocations(log: str) -> dict[str, int]:
    """How many times dbt started in a run's log, and how many of those parsed the project fully.

    ``dags test`` runs one task at a time, so each dbt's lines follow its "Running with dbt=" line; dbt says
    "Unable to do partial parsing because ..." when it cannot reuse partial_parse.msgpack.
    """
    parts = log.split("Running with dbt=")[1:]
    return {"dbt_starts": len(parts), "full_parses": sum("Unable to do partial parsing" in p for p in parts)}


def run_stage(
    template: Path, raw: Path, work: Path, tag: str, stage: str, *, persist_docs: bool, run_date: date
) -> tuple[dict[str, Any], Path]:
    """One ``airflow dags test`` of the benchmark DAG on a copy of ``raw``; returns its timings and the warehouse."""
    home = work / f"airflow_{tag}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(template, home)
    warehouse = copy_warehouse(raw, work / f"{tag}.duckdb")
    env = _airflow_env(home, warehouse, work / f"data_{tag}", stage, persist_docs)
    # logical date D+1: the interval [D, D+1) KST gives run_date D, as for the nightly
    m = run_measured(
        [str(AIRFLOW), "dags", "test", DAG_ID, (run_date + timedelta(days=1)).isoformat()],
        env=env, cwd=ROOT, timeout=3600,
    )  # fmt: skip
    log = m.stdout + "\n" + m.stderr
    (work / f"{tag}.log").write_text(log, encoding="utf-8")
    m.check(f"airflow dags test ({tag})")
    facts = {**stage_times(home / "airflow.db"), **dbt_invocations(log)}
    facts.update(dags_test_wall_s=round(m.wall_s, 2), dags_test_max_rss_mb=round(m.max_rss_mb))
    return facts, warehouse


def run_scheduled(
    template: Path, raw: Path, work: Path, tag: str, *, run_date: date
) -> tuple[dict[str, Any], Path]:
    """The stage once under ``airflow standalone`` (scheduler, LocalExecutor, triggerer, DAG processor, API server):
    each task its own worker process, as in production. Timings as for :func:`run_stage`, from the metadata DB."""
    home = work / f"airflow_{tag}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(template, home)
    warehouse = copy_warehouse(raw, work / f"{tag}.duckdb")
    env = _airflow_env(home, warehouse, work / f"data_{tag}", "watcher", False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.update(AIRFLOW__API__PORT=str(port), AIRFLOW__CORE__EXECUTOR="LocalExecutor", CRM_BENCH_SCHEDULE="none",
               CRM_BENCH_RUN_DATE=run_date.isoformat(),
               AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/")  # fmt: skip
    db = home / "airflow.db"

    def query(sql: str, *args: Any) -> list[tuple]:
        con = sqlite3.connect(db, timeout=30)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # tables not there yet, or locked for a moment
        finally:
            con.close()

    def wait(what: str, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(
                    f"airflow standalone ({tag}): {what} did not happen; see {home / 'standalone.log'}"
                )
            time.sleep(1)

    # the standalone log holds a generated UI password: it stays in the scratch folder, which the suite deletes
    with (home / "standalone.log").open("w") as out:
        server = subprocess.Popen([str(AIRFLOW), "standalone"], env=env, cwd=ROOT, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            wait(
                "DAG parsed",
                lambda: bool(query("select 1 from serialized_dag where dag_id = ?", DAG_ID)),
                600,
            )
            for args in (["dags", "unpause", DAG_ID],
                         ["dags", "trigger", DAG_ID, "--logical-date", f"{run_date.isoformat()}T00:00:00+09:00"]):  # fmt: skip
                run_measured([str(AIRFLOW), *args], env=env, cwd=ROOT, timeout=300).check(
                    f"airflow {args[1]}"
                )
            finished = ("success", "failed")
            wait(
                "run finished",
                lambda: any(s in finished for (s,) in query("select state from dag_run")),
                3600,
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    return stage_times(db), warehouse


def _dbt(args: list[str], warehouse: Path, workdir: Path, run_date: date, persist_docs: bool) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    cmd += ["--vars", json.dumps({"run_date": run_date.isoformat()})]
    env = {**dbt_env(warehouse, workdir), "CRM_DBT_PERSIST_DOCS": "true" if persist_docs else "false"}
    return run_measured(cmd, env=env, cwd=workdir).check(f"dbt {' '.join(args)}").wall_s


def comment_statements(dbt_log: Path) -> int:
    """``COMMENT ON`` statements in a dbt debug log: what persist_docs adds to a build (one per relation and column)."""
    pattern = re.compile(r"^\s*comment on (table|view|column) ", re.IGNORECASE)
    with dbt_log.open(encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if pattern.match(line))


def run_plain(
    raw: Path, work: Path, tag: str, *, run_date: date, split: bool, persist_docs: bool
) -> tuple[float, Path]:
    """``dbt build`` (or a build of models/seeds/snapshots, then ``dbt test``) on a copy of ``raw``; wall seconds."""
    warehouse = copy_warehouse(raw, work / f"{tag}.duckdb")
    workdir = work / f"dbt_{tag}"  # a fresh target folder: no partial parse
    shutil.rmtree(workdir, ignore_errors=True)
    if split:
        models = [
            "build",
            "--resource-type",
            "model",
            "--resource-type",
            "seed",
            "--resource-type",
            "snapshot",
        ]
        wall = _dbt(models, warehouse, workdir, run_date, persist_docs)
        wall += _dbt(["test"], warehouse, workdir, run_date, persist_docs)
    else:
        wall = _dbt(["build"], warehouse, workdir, run_date, persist_docs)
    return round(wall, 2), warehouse


PATHS = {
    "plain": "plain `dbt build` (baseline)",
    "watcher": "Airflow stage, WATCHER (now)",
    "split": "plain build of models + `dbt test` (the stage's split, no Airflow)",
    "plain_docs": "plain `dbt build`, persist_docs on",
    "local": "Airflow stage, LOCAL, persist_docs on (before)",
    "scheduler": "Airflow stage, WATCHER, under the scheduler (LocalExecutor)",
}


def run(
    raw_warehouse: Path, work: Path, scale: str, run_date: date, *, before: bool = True, repetitions: int = 3
) -> Section:
    """The baseline and the stage ``repetitions`` times each, back to back in alternating order (the machine is
    shared: a pair sees the same load); the split once, and with ``before`` the old stage and the persist_docs row
    once. Ratios are of medians; the per-pair ratios are kept too.
    """
    sec = Section("airflow_dbt_stage", scale)
    work.mkdir(parents=True, exist_ok=True)
    template = prepare_airflow(work)
    extras = ["split", "local", "plain_docs", "scheduler"] if before else ["split"]
    plan = []
    for rep in range(repetitions):
        plan += [("plain", rep), ("watcher", rep)] if rep % 2 == 0 else [("watcher", rep), ("plain", rep)]
        if rep == 0:
            plan += [(path, rep) for path in extras]
    walls: dict[str, list[float]] = {}
    details: dict[str, list[dict]] = {"watcher": [], "local": [], "scheduler": []}
    loads: list[list[float]] = []
    comments: int | None = None
    reference: dict[str, tuple[int, str]] | None = None
    differing: dict[str, list[str]] = {}
    for path, rep in plan:
        tag = f"{path}_{rep}"
        loads.append(load_average())
        print(f"  [{scale}] {PATHS[path]} (repetition {rep + 1}, load {loads[-1]})", flush=True)
        if path in ("watcher", "local"):
            facts, wh = run_stage(template, raw_warehouse, work, tag, path, persist_docs=path == "local",
                                  run_date=run_date)  # fmt: skip
            walls.setdefault(path, []).append(facts["stage_s"])
            details[path].append(facts)
        elif path == "scheduler":
            facts, wh = run_scheduled(template, raw_warehouse, work, tag, run_date=run_date)
            walls.setdefault(path, []).append(facts["stage_s"])
            details[path].append(facts)
        else:
            wall, wh = run_plain(raw_warehouse, work, tag, run_date=run_date, split=path == "split",
                                 persist_docs=path == "plain_docs")  # fmt: skip
            walls.setdefault(path, []).append(wall)
            if path == "plain_docs":
                comments = comment_statements(work / f"dbt_{tag}" / "logs" / "dbt.log")
        sums = table_checksums(wh, model_tables(wh))
        if reference is None:
            reference = sums
        elif diff := compare_checksums(reference, sums):
            differing[tag] = diff
        wh.unlink()
        shutil.rmtree(work / f"airflow_{tag}", ignore_errors=True)
    base = statistics.median(walls["plain"])
    rows = {}
    for path in [p for p in PATHS if p in walls]:
        med = statistics.median(walls[path])
        row: dict[str, Any] = {"path": PATHS[path], "wall_s": round(med, 2), "ratio": round(med / base, 2),
                               "runs_s": ", ".join(f"{w:.1f}" for w in walls[path])}  # fmt: skip
        if details.get(path):
            d = details[path][0]
            row.update(tasks=d["tasks"], dbt_starts=d.get("dbt_starts"), full_parses=d.get("full_parses"))
            if "dags_test_wall_s" in d:
                row["dags_test_s"] = statistics.median(x["dags_test_wall_s"] for x in details[path])
        rows[path] = row
    sec.rows = list(rows.values())
    per_pair = [round(w / p, 2) for w, p in zip(walls["watcher"], walls["plain"], strict=True)]
    sec.facts = {
        "repetitions": repetitions,
        "tables_compared": len(reference or {}),
        "tables_identical": not differing,
        "stage_vs_plain": rows["watcher"]["ratio"],
        "stage_vs_plain_per_repetition": per_pair,
        "before_vs_plain": rows["local"]["ratio"] if "local" in rows else None,
        "scheduler_vs_plain": rows["scheduler"]["ratio"] if "scheduler" in rows else None,
        "persist_docs_comment_statements": comments,
        "target_ratio": 1.5,
        "load_averages": loads,
        "watcher_parts": details["watcher"],
        "local_parts": details["local"],
        "scheduler_parts": details["scheduler"],
    }
    if differing:
        sec.error = f"tables differ from the plain build: {json.dumps(differing)[:1500]}"
    print_table(f"[{scale}] dbt stage under Airflow vs plain dbt build (median of {repetitions}; per pair "
                f"{per_pair}; identical tables: {not differing}, {len(reference or {})} compared)", sec.rows,
                ["path", "wall_s", "ratio", "runs_s", "tasks", "dbt_starts", "full_parses"])  # fmt: skip
    return sec
