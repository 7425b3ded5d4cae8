"""The nightly's dbt stage (pipeline/dbt_cosmos.py): dbt starts twice, every dbt node keeps its task, and the order of
the tasks holds for the scheduler and for ``airflow dags test``.

The structure is read from the DAG as Airflow parses it. The behaviour is checked for real below: a dbt project with
one broken model runs under ``airflow dags test`` (SQLite metadata DB) — the failed model shows on its own task, the
models beside it build, nothing after the stage runs, and a failed raw gate stops the stage without a sensor waiting
forever.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUP = "dbt_build"
SENSORS = {"DbtRunWatcherOperator", "DbtSeedWatcherOperator", "DbtSnapshotWatcherOperator"}


@pytest.fixture(scope="module")
def nightly():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "crm_nightly.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["crm_nightly"]


def _stage(dag) -> dict[str, object]:
    return {t.task_id: t for t in dag.tasks if t.task_id.startswith(GROUP + ".")}


def _upstream_closure(dag, task_id: str) -> set[str]:
    return dag.get_task(task_id).get_flat_relative_ids(upstream=True)


def test_one_build_and_one_test_run_dbt_and_every_node_keeps_its_task(nightly) -> None:
    from pipeline.dbt_cosmos import MANIFEST

    stage = _stage(nightly)
    kinds: dict[str, list[str]] = {}
    for tid, task in stage.items():
        kinds.setdefault(type(task).__name__, []).append(tid)
    # the tasks that start dbt: the producer's `dbt build` and the `dbt test` — nothing else runs dbt on a good night
    assert kinds["ProducerOfNodeOutcomes"] == [
        f"{GROUP}.dbt_producer_watcher"
    ]  # Cosmos' producer, see dbt_cosmos
    assert kinds["DbtTestLocalOperator"] == [f"{GROUP}.dbt_project_test"]
    assert not [k for k in kinds if k.endswith("LocalOperator") and k != "DbtTestLocalOperator"], kinds
    producer = stage[f"{GROUP}.dbt_producer_watcher"]
    assert producer.base_cmd == ["build"]
    flags = producer.dbt_cmd_flags
    built = {flags[i + 1] for i, f in enumerate(flags) if f == "--resource-type"}
    assert built == {"model", "seed", "snapshot"}, flags  # the tests run in the test task, after every model

    manifest = json.loads(MANIFEST.read_text())
    nodes = {
        n["unique_id"]
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "seed", "snapshot") and n["package_name"] == "crm"
    }
    watched = {t.model_unique_id for tid in kinds.keys() & SENSORS for t in (stage[x] for x in kinds[tid])}
    assert watched == nodes


def test_sensors_wait_for_the_build_behind_the_raw_gate(nightly) -> None:
    from airflow.sdk import TriggerRule

    stage = _stage(nightly)
    start, done = f"{GROUP}.start", f"{GROUP}.dbt_producer_watcher_done"
    assert nightly.get_task(start).upstream_task_ids == {"raw_gate"}
    assert stage[f"{GROUP}.dbt_producer_watcher"].upstream_task_ids == {start}
    sensors = [t for t in stage.values() if type(t).__name__ in SENSORS]
    roots = [t for t in sensors if not t.upstream_task_ids & {s.task_id for s in sensors}]
    assert len(roots) >= 10
    for t in roots:
        # start fails only with the raw gate, done only with the build: see dbt_cosmos._wire
        assert t.upstream_task_ids == {start, done}, t.task_id
        assert t.trigger_rule == TriggerRule.ALL_DONE_MIN_ONE_SUCCESS
    for t in sensors:
        # `dags test` runs one task at a time in any order: a sensor before the build would wait forever
        assert f"{GROUP}.dbt_producer_watcher" in _upstream_closure(nightly, t.task_id), t.task_id
        assert t.pool != "duckdb_writer" and t.retries == 1, t.task_id
        # the retry re-runs the node's SQL (Cosmos' single-node run): no API back-off of minutes
        assert t.retry_delay == timedelta(seconds=30) and not t.retry_exponential_backoff, t.task_id


def test_only_dbt_itself_writes_under_the_writer_pool_and_the_marts_gate_follows_every_test(nightly) -> None:
    stage = _stage(nightly)
    producer, tests = stage[f"{GROUP}.dbt_producer_watcher"], stage[f"{GROUP}.dbt_project_test"]
    assert producer.pool == tests.pool == "duckdb_writer"
    assert producer.retries == tests.retries == 0
    sensors = {tid for tid, t in stage.items() if type(t).__name__ in SENSORS}
    assert sensors <= _upstream_closure(nightly, tests.task_id)
    assert tests.task_id in nightly.get_task("marts_gate").upstream_task_ids
    assert set(stage) <= _upstream_closure(nightly, "marts_gate") | {tests.task_id}


class _TaskInstance:
    """What Cosmos' event parser and XCom backup touch on a task instance; XComs land in a dict."""

    dag_id, run_id = "crm_nightly", "manual__check"
    task = SimpleNamespace(task_group=SimpleNamespace(group_id=GROUP))

    def __init__(self) -> None:
        self.xcoms: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids=None, key: str = "") -> object:
        return self.xcoms.get(key)


def _event(name: str, uid: str, status: str | None = None) -> str:
    node = {"unique_id": uid, "resource_type": "model", "node_path": "x.sql", "node_status": status}
    return json.dumps(
        {"info": {"name": name, "level": "info", "msg": f"{name} {uid}"}, "data": {"node_info": node}}
    )


def test_the_producer_writes_node_outcomes_not_progress(nightly) -> None:
    """The node tasks read each node's final status and dbt event; dbt's progress events are only logged."""
    producer = _stage(nightly)[f"{GROUP}.dbt_producer_watcher"]
    parse = producer._make_parse_callable()
    ti = _TaskInstance()
    extra = {"context": {"ti": ti}, "project_dir": "/nonexistent"}
    uid = "model.crm.dim_customers"
    for name in ("NodeStart", "NodeCompiling", "NodeExecuting"):
        parse(_event(name, uid, "started"), extra)
    parse(_event("LogModelResult", uid, "success"), extra)
    assert ti.xcoms == {}
    parse(_event("NodeFinished", uid, "success"), extra)
    assert ti.xcoms["model__crm__dim_customers_status"]["status"] == "success"
    assert ti.xcoms["model__crm__dim_customers_dbt_event"]["status"] == "success"


def test_the_xcom_backup_is_written_only_when_cosmos_is_told_to(tmp_path: Path) -> None:
    """ProducerOfNodeOutcomes turns off Cosmos' per-XCom Variable write through ``_cosmos_xcom_persist_incrementally``;
    this checks, on Cosmos itself, that the attribute still decides it (a Variable write fails on an empty DB)."""
    probe = textwrap.dedent(
        """
        from types import SimpleNamespace
        from cosmos.operators._watcher.xcom import _init_xcom_backup
        from cosmos.operators._watcher.state import safe_xcom_push

        class TI:
            dag_id = "d"
            task = SimpleNamespace(task_group=SimpleNamespace(group_id="g"))
            def xcom_push(self, key, value):
                pass

        quiet, loud = TI(), TI()
        for ti in (quiet, loud):
            _init_xcom_backup({"ti": ti, "run_id": "r"}, persist=True)
        quiet._cosmos_xcom_persist_incrementally = False
        safe_xcom_push(quiet, "k", 1)
        assert quiet._cosmos_xcom_backup_buffer == {"k": 1}
        try:
            safe_xcom_push(loud, "k", 1)
        except Exception as exc:
            print("VARIABLE_WRITE_ATTEMPTED", type(exc).__name__)
        """
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/x.db",
    }
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "VARIABLE_WRITE_ATTEMPTED" in proc.stdout, proc.stdout[-2000:]


# --- the stage for real: a broken model and a failed gate under `airflow dags test` -----------------------------

BROKEN = "stg_cafe24__reviews"  # a staging model with models downstream of it and many beside it

STAGE_DAG = """
import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from pipeline import dbt_cosmos

with DAG(dag_id="dbt_stage_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False) as dag:

    @task
    def raw_gate():
        if os.environ.get("FAIL_GATE") == "1":
            raise RuntimeError("the raw gate failed")

    @task
    def marts_gate():
        pass

    stage = dbt_cosmos.dbt_stage("dbt_build", run_date="2026-11-22", node_retry_delay=timedelta(seconds=1))
    raw_gate() >> stage >> marts_gate()
"""


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the dbt project with one model that fails at run time, its manifest, an empty raw warehouse and an
    Airflow home with a migrated metadata DB."""
    from include.extract.bootstrap import ensure_raw_tables_duckdb

    root = tmp_path_factory.mktemp("dbt_stage")
    project = root / "dbt_project"
    shutil.copytree(
        ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    (model,) = list((project / "models").rglob(f"{BROKEN}.sql"))
    model.write_text("select * from raw_cafe24.no_such_table\n", encoding="utf-8")
    warehouse = root / "warehouse.duckdb"
    ensure_raw_tables_duckdb(str(warehouse))
    home = root / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "dbt_stage_check.py").write_text(STAGE_DAG, encoding="utf-8")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(root / "cosmos"),
        "CRM_DBT_PROJECT_DIR": str(project),
        "CRM_WAREHOUSE_PATH": str(warehouse),
        "CRM_DATA_DIR": str(root / "data"),
        "PYTHONPATH": str(ROOT),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    bin_dir = Path(sys.executable).parent
    dbt = [str(bin_dir / "dbt"), "parse", "--project-dir", str(project), "--profiles-dir", str(project)]
    for cmd in (dbt + ["--vars", "{run_date: '2026-11-22'}"], [str(bin_dir / "airflow"), "db", "migrate"]):
        proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"env": env, "home": home, "airflow": str(bin_dir / "airflow")}


def _dags_test(project: dict, logical_date: str, **extra_env: str) -> dict[str, tuple[str, int]]:
    """Runs the DAG once (``airflow dags test``); returns ``{task_id: (state, try_number)}`` of that run."""
    env = {**project["env"], **extra_env}
    cmd = [project["airflow"], "dags", "test", "dbt_stage_check", logical_date]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    (project["home"] / f"dags_test_{logical_date}.log").write_text(proc.stdout + proc.stderr)
    con = sqlite3.connect(project["home"] / "airflow.db")
    try:
        (run_id,) = con.execute(
            "select run_id from dag_run order by id desc limit 1"
        ).fetchone()  # this run's
        rows = con.execute(
            "select task_id, state, try_number from task_instance where run_id = ?", [run_id]
        ).fetchall()
    finally:
        con.close()
    assert rows, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {t: (s, n) for t, s, n in rows}


@pytest.mark.integration
def test_a_failed_model_fails_its_own_task_and_stops_what_follows(broken_project) -> None:
    states = _dags_test(broken_project, "2026-11-23")
    manifest = json.loads(
        (Path(broken_project["env"]["CRM_DBT_PROJECT_DIR"]) / "target/manifest.json").read_text()
    )
    children: dict[str, set[str]] = {}
    for n in manifest["nodes"].values():
        for parent in n.get("depends_on", {}).get("nodes", []):
            children.setdefault(parent, set()).add(n["unique_id"])
    below, todo = set(), [f"model.crm.{BROKEN}"]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in below:
                below.add(c)
                todo.append(c)
    below_tasks = {f"{GROUP}.{uid.split('.')[-1]}_run" for uid in below if uid.startswith("model.")}
    assert below_tasks

    assert states[f"{GROUP}.dbt_producer_watcher"][0] == "failed"
    # the broken model's own task fails, after its retry ran the model alone (and failed the same way)
    assert states[f"{GROUP}.{BROKEN}_run"] == ("failed", 2)
    for tid in below_tasks & states.keys():
        assert states[tid][0] == "upstream_failed", (tid, states[tid])
    beside = {
        tid
        for tid in states
        if tid.endswith(("_run", "_seed", "_snapshot")) and tid not in below_tasks | {f"{GROUP}.{BROKEN}_run"}
    }
    assert len(beside) >= 10
    assert {tid: states[tid][0] for tid in beside if states[tid][0] != "success"} == {}
    assert states[f"{GROUP}.dbt_project_test"][0] == "upstream_failed"
    assert states["marts_gate"][0] == "upstream_failed"


@pytest.mark.integration
def test_a_failed_raw_gate_stops_the_stage_without_a_waiting_sensor(broken_project) -> None:
    states = _dags_test(broken_project, "2026-11-24", FAIL_GATE="1")
    assert states["raw_gate"][0] == "failed"
    stage = {t: s for t, (s, _) in states.items() if t.startswith(GROUP + ".")}
    assert len(stage) >= 20
    assert set(stage.values()) == {"upstream_failed"}, stage
    assert states["marts_gate"][0] == "upstream_failed"
