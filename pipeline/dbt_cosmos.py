"""The nightly dbt stage: Cosmos renders the project from a pre-built manifest (so parsing stays fast) in WATCHER mode.

One task, ``dbt_producer_watcher``, runs a single ``dbt build`` of every model, seed and snapshot; one task per dbt
node watches it (its state, log line and compiled SQL in the UI); one ``dbt test`` task runs every data and unit test
after the last model. dbt starts twice per night instead of once per model (~1.4 s of start-up each, for ~55 tasks):
``benchmarks/airflow_dbt_stage.py`` measures the stage against one plain ``dbt build`` (docs/operations.md, "The dbt
stage").

The manifest (``dbt_project/target/manifest.json``) is produced by ``scripts/bootstrap.sh`` (``dbt parse``) and by the
Docker image build; the DAG file only reads it. Profiles come from ``dbt_project/profiles.yml`` whose targets read the
warehouse location and database credentials from the environment (Airflow connections in production).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TriggerRule
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.operators._watcher.base import _DBT_ERROR_EVENTS_TYPES
from cosmos.operators._watcher.state import DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES
from cosmos.operators.watcher import DbtProducerWatcherOperator

from include.core.settings import REPO_ROOT

DBT_PROJECT_DIR = Path(os.environ.get("CRM_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
WRITER_POOL = "duckdb_writer"  # include/airflow/pools.json: one slot, DuckDB's single writer
PRODUCER = "dbt_producer_watcher"  # Cosmos' task ids inside the group
PRODUCER_DONE = "dbt_producer_watcher_done"
TESTS = "dbt_project_test"
START = "start"

log = logging.getLogger("crm.dbt")


def project_config() -> ProjectConfig:
    config = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=MANIFEST,
        project_name="crm",
        # Cosmos runs dbt in a temporary copy of the project and keeps partial_parse.msgpack in its cache folder
        # ([cosmos] cache_dir, per DAG and group): the test task re-uses the producer's parse of the same night
        # (the first dbt of a night always parses fully: `run_date` is a --vars, part of dbt's parse state).
        partial_parse=True,
    )
    # Cosmos wraps every manifest path in an ObjectStoragePath; reading one records hook lineage, and the lineage
    # collector loads every Airflow plugin on first use — Cosmos' own FastAPI docs plugin alone costs ~0.45 s of each
    # parse of crm_nightly.py (benchmarks/dag_parse.py). The manifest is a local file: Cosmos reads it as a `Path`
    # (a type its ProjectConfig declares) with the same `exists()`/`open()` calls.
    config.manifest_path = MANIFEST
    return config


def profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name="crm",
        target_name=os.environ.get("CRM_DBT_TARGET", "duckdb"),
        profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
    )


def execution_config(pool: str = WRITER_POOL) -> ExecutionConfig:
    """WATCHER: one ``dbt build`` (the producer, in dbt's own process via dbtRunner) and sensors per node.

    The producer is the stage's only writer of the warehouse, so only it takes the single-writer pool. Cosmos refuses
    to run a second build on a producer retry, hence no retries: a failed model is re-run by its own task (below).
    """
    return ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER,
        invocation_mode=InvocationMode.DBT_RUNNER,
        setup_operator_args={"pool": pool, "retries": 0},
    )


def dbt_env() -> dict[str, str]:
    """Where dbt finds the warehouse: an absolute path (Cosmos runs dbt from a temporary copy of the project)."""
    from include.core.settings import get_settings

    st = get_settings()
    return {"CRM_WAREHOUSE_PATH": str(st.warehouse.resolve()), "CRM_DBT_TARGET": st.dbt_target}


def render_config() -> RenderConfig:
    """One task per model/seed/snapshot, then one task running every data and unit test (``dbt test``).

    Tests spanning several models (relationships, singular assertions) need all their parents built. Keeping them out
    of the producer's build also keeps its event stream small: Cosmos writes XComs for every node the producer runs,
    and with the ~350 tests in it a trial producer took 126 s where a plain `dbt build` right after took 51 s (S).
    The marts gate runs after the test task.
    """
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_ALL, emit_datasets=False
    )


def dbt_stage(
    group_id: str = "dbt_build",
    *,
    run_date: str = "{{ kst_date(data_interval_start) }}",
    node_retry_delay: timedelta = timedelta(seconds=30),
) -> DbtTaskGroup:
    """The dbt stage as a task group of the DAG being defined (``run_date``: the dbt var, templated).

    Node tasks have one retry: a node the build failed or skipped fails its task first, then Cosmos runs that node
    alone (``dbt run --select <model>``) — a transient failure heals there, a broken model fails the same way — and
    when the cause is fixed, clearing the task rebuilds the node. The retry waits ``node_retry_delay``, not the DAG's
    minutes of API back-off: it re-runs SQL, and the nodes below a failed one each go through it after a clear. Node
    tasks only read XComs otherwise and stay out of the writer pool (in a one-slot pool ~55 of them would queue one
    by one); a retry's dbt run can then meet another writer, which DuckDB refuses at once (clear it again).
    """
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project_config(),
        profile_config=profile_config(),
        execution_config=execution_config(),
        render_config=render_config(),
        operator_args={
            "vars": {"run_date": run_date},
            "env": dbt_env(),
            "install_deps": False,
            "retries": 1,
            "retry_delay": node_retry_delay,
            "retry_exponential_backoff": False,
        },
    )
    _wire(group)
    return group


# The dbt events the node tasks read: each node's outcome (NodeFinished carries its status, timings, error and leads to
# its compiled SQL), why dbt skipped a node (Cosmos turns a skip after an upstream failure into a failure), dbt's
# errors, and the version lines the node tasks log. Progress events (NodeStart, NodeCompiling, NodeExecuting) and the
# result lines that repeat NodeFinished are left out: the node tasks read the outcome after the build anyway.
FORWARDED_EVENTS = frozenset(
    {"NodeFinished", "MainReportVersion", "AdapterRegistered"}
    | DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES
    | _DBT_ERROR_EVENTS_TYPES
)


class ProducerOfNodeOutcomes(DbtProducerWatcherOperator):
    """Cosmos' WATCHER producer, writing XComs only for the dbt events the node tasks read (``FORWARDED_EVENTS``).

    Cosmos writes each node event it allows as an XCom, one call to Airflow's API each under a lock the dbt threads
    share: 422 for this project's build at S, of which 159 are read; every other event is only logged, as Cosmos
    does. Cosmos also re-writes its whole XCom backup to an Airflow Variable after every XCom (159 writes, 6–7 s under
    the lock at S on the loaded 2-core machine), for a producer retry to restore: here the backup stays in memory and is
    written once, by the failure callback Cosmos attaches — the producer has no automatic retry, and a cleared producer
    restores that copy.
    """

    def run_dbt_runner(self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:
        context = kwargs.get("context")
        if context is not None:
            # set by Cosmos' _init_xcom_backup from [cosmos] enable_watcher_reliable_retry (tests/dags/test_dbt_stage.py
            # checks the attribute still means this)
            context["ti"]._cosmos_xcom_persist_incrementally = False
        return super().run_dbt_runner(command, env, cwd, **kwargs)

    def _make_parse_callable(self) -> Callable[[str, Any], None]:
        parse = super()._make_parse_callable()

        def parse_forwarded(line: str, extra_kwargs: Any) -> None:
            try:
                event = json.loads(line)
            except ValueError:
                return parse(line, extra_kwargs)  # Cosmos shows non-JSON output as it is
            info = event.get("info") or {}
            if info.get("name") in FORWARDED_EVENTS:
                return parse(line, extra_kwargs)
            if info.get("msg"):
                level = logging.getLevelNamesMapping().get(str(info.get("level", "")).upper(), logging.INFO)
                log.log(level, "%s", info["msg"])
            return None

        return parse_forwarded


def _wire(group: DbtTaskGroup) -> None:
    """Orders the watchers after the build and puts the test task in the writer pool.

    Cosmos lets a task group's node sensors start beside the producer and wait in the triggerer. ``airflow dags test``
    (the demo, the end-to-end tests) runs tasks one at a time in an arbitrary order and runs a deferred sensor's
    trigger inline: a sensor picked before the producer would wait forever. So every root sensor waits for the build
    (``producer_done``), and also for ``start`` (the group's entry, after the raw gate), with ``all_done_min_one_success``:
    - raw gate failed: ``start`` and the build are upstream-failed, so are the sensors;
    - build failed: ``start`` succeeded, the sensors run and show which models failed (their downstream ones are
      upstream-failed), the failed ones retry as single-model runs;
    - producer cleared: Cosmos skips its second try (no second build), ``producer_done`` succeeds, and the node tasks
      cleared with it rebuild their nodes one dbt each (Cosmos' fallback).
    Under the scheduler the sensors then find their model's result at the first look: no trigger round trip per model.
    """
    prefix = f"{group.group_id}."
    producer = group.children[prefix + PRODUCER]
    # Cosmos builds the producer from a fixed class path (cosmos.airflow.graph.calculate_operator_class); the subclass
    # only narrows what its dbt callback forwards
    producer.__class__ = ProducerOfNodeOutcomes
    done = group.children[prefix + PRODUCER_DONE]
    tests = group.children[prefix + TESTS]
    roots = [
        t
        for tid, t in group.children.items()
        if tid not in {producer.task_id, done.task_id} and not t.upstream_task_ids
    ]
    start = EmptyOperator(
        task_id=START, task_group=group, doc_md="Entry of the dbt stage (after the raw gate)."
    )
    start >> producer
    for task in roots:
        [start, done] >> task
        task.trigger_rule = TriggerRule.ALL_DONE_MIN_ONE_SUCCESS
    tests.pool = producer.pool
    tests.retries = 0  # a failing test fails the same way twice
