"""Every DAG imports cleanly, follows the house rules, and does no work at import time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors
    assert "crm_nightly" in dagbag.dags


def test_every_dag_has_owner_tags_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.default_args.get("owner") not in (None, "airflow"), f"{dag_id} has no owner"
        assert dag.default_args.get("retries", 0) >= 1, f"{dag_id} has no retries"
        assert dag.default_args.get("on_failure_callback"), f"{dag_id} has no failure alert"
        assert dag.max_active_runs == 1 or dag_id != "crm_nightly"


def test_one_dag_per_file_named_after_it(dagbag):
    for dag_id, dag in dagbag.dags.items():
        stem = Path(dag.fileloc).stem
        assert dag_id == stem or dag_id.startswith(stem + "__"), f"{dag_id} is defined in {stem}.py"


def test_nightly_task_structure(dagbag):
    dag = dagbag.dags["crm_nightly"]
    ids = set(dag.task_ids)
    for tid in [
        "prepare",
        "extract_storefront",
        "extract_events",
        "extract_messaging",
        "raw_gate",
        "marts_gate",
        "publish_audiences",
        "sync_audiences",
        "report",
    ]:
        assert tid in ids, tid
    dbt_tasks = [t for t in ids if t.startswith("dbt_build.")]
    assert len(dbt_tasks) >= 10, "the dbt project should render one task per model"

    def upstream_closure(task_id):
        return dag.get_task(task_id).get_flat_relative_ids(upstream=True)

    # the gates sit between extraction, dbt and activation
    for t in dbt_tasks:
        assert "raw_gate" in upstream_closure(t), t
    assert set(dbt_tasks) <= upstream_closure("marts_gate")
    assert "marts_gate" in upstream_closure("publish_audiences")
    assert "publish_audiences" in upstream_closure("sync_audiences")
    # every task that writes the warehouse shares the single-writer pool (in the dbt stage: the build and the tests;
    # its per-model tasks only read XComs — tests/dags/test_dbt_stage.py)
    dbt_writers = ["dbt_build.dbt_producer_watcher", "dbt_build.dbt_project_test"]
    for tid in ["prepare", "extract_events", "raw_gate", "marts_gate", "publish_audiences", *dbt_writers]:
        assert dag.get_task(tid).pool == "duckdb_writer", tid
    assert dag.get_task("publish_audiences").outlets, "audiences must be published as an Asset"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_does_no_io_at_import(dag_file):
    """Imports a DAG file in a fresh interpreter that refuses sockets and database files, and bans heavy libraries."""
    probe = textwrap.dedent(
        f"""
        import sys, importlib.util, time
        import airflow.sdk  # the framework itself may do what it likes
        import cosmos
        # fastapi: Airflow plugins (Cosmos' docs plugin) loaded during parsing — see dbt_cosmos.project_config
        banned = ("pandas", "duckdb", "dlt", "great_expectations", "requests", "plotly", "pyarrow", "fastapi")
        before = set(sys.modules)
        def audit(event, args):
            if event == "socket.connect":
                raise RuntimeError(f"network at import: {{args}}")
            if event == "sqlite3.connect":
                raise RuntimeError(f"database at import: {{args}}")
        sys.addaudithook(audit)
        t0 = time.perf_counter()
        spec = importlib.util.spec_from_file_location("dagmod", {str(dag_file)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        elapsed = time.perf_counter() - t0
        new = set(sys.modules) - before
        heavy = sorted(m for m in new if m.split(".")[0] in banned)
        print(f"IMPORT_SECONDS={{elapsed:.3f}}")
        if heavy:
            raise SystemExit(f"heavy modules imported at parse time: {{heavy[:5]}}")
        """
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "IMPORT_SECONDS=" in proc.stdout


def test_one_campaign_dag_per_campaign_file_with_its_own_schedule(dagbag):
    from activation.config import load_config
    from pipeline.assets import AUDIENCES

    campaigns = load_config().campaigns
    assert len(campaigns) >= 10
    for c in campaigns:
        dag = dagbag.dags[f"crm_campaign__{c.id}"]
        chain = ["context", "wait_for_audiences", "preview", "send_list_gate", "send", "record"]
        assert set(chain) <= set(dag.task_ids)
        for up, down in zip(chain[1:], chain[2:], strict=False):
            assert down in dag.get_task(up).downstream_task_ids, (c.id, up, down)
        assert dag.get_task("send_list_gate").pool == "duckdb_writer"
        if c.trigger.type == "schedule":
            assert dag.timetable.expression == c.trigger.cron, c.id
            assert str(dag.timetable.timezone) == c.trigger.timezone, c.id
        else:
            assert AUDIENCES in dag.timetable.asset_condition.objects, c.id
        assert dag.is_paused_upon_creation is (not c.enabled)


def test_messaging_reports_dag_runs_hourly_during_the_sending_day(dagbag):
    dag = dagbag.dags["crm_messaging_reports"]
    assert dag.timetable.expression == "0 8-22 * * *"
    assert str(dag.timetable.timezone) == "Asia/Seoul"
    assert dag.get_task("pull_reports").pool == "duckdb_writer"


def test_a_broken_campaign_file_disables_only_that_campaign(tmp_path, monkeypatch):
    """One bad campaign file: the good campaign's DAG still imports and runs; the bad one gets a DAG whose task
    fails with the file's problems (before: the whole DAG file failed to import, taking every campaign with it)."""
    from datetime import date, datetime, timedelta, timezone

    from airflow.dag_processing.dagbag import DagBag

    sys.path.insert(0, str(ROOT / "tests" / "activation"))
    from act_helpers import build_warehouse, campaigns_dir, customer, sms_campaign

    from include.core.settings import get_settings
    from pipeline.runctx import for_date

    folder = campaigns_dir(tmp_path, {"good_one": sms_campaign()})
    (folder / "bad_one.yml").write_text("id: bad_one\nname: [unclosed\n", encoding="utf-8")
    (folder / "labelled_info.yml").write_text(  # valid YAML, but promotional content labelled informational
        "id: labelled_info\nname: x\naudience: {model: audience_customers}\n"
        "trigger: {type: schedule, cron: '0 23 * * MON'}\nchannel: sms\nkind: informational\n"
        "message: {text: '[광고] 50% 할인 쿠폰 #{링크}'}\n",
        encoding="utf-8",
    )
    warehouse = build_warehouse(tmp_path / "wh.duckdb", {"audience_customers": [customer(1), customer(2)]})
    monkeypatch.setenv("CRM_CAMPAIGNS_DIR", str(folder))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("CRM_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    get_settings.cache_clear()
    try:
        bag = DagBag(dag_folder=str(ROOT / "dags" / "crm_campaign.py"))
        assert bag.import_errors == {}, bag.import_errors
        assert set(bag.dags) == {
            "crm_campaign__good_one",
            "crm_campaign__bad_one",
            "crm_campaign__labelled_info",
        }
        for dag_id in ("crm_campaign__bad_one", "crm_campaign__labelled_info"):
            broken = bag.dags[dag_id]
            assert broken.task_ids == ["config_error"] and "config-error" in broken.tags
            assert broken.is_paused_upon_creation is False  # it must run, so its failure is seen and alerted
        assert "bad_one.yml: line 3, column 1: YAML syntax error" in bag.dags["crm_campaign__bad_one"].doc_md
        with pytest.raises(
            RuntimeError, match=r"labelled_info.yml: message.text: .*informational text carries"
        ):
            bag.dags["crm_campaign__labelled_info"].get_task("config_error").python_callable()

        good = bag.dags["crm_campaign__good_one"]
        rc = for_date(date(2026, 11, 22), "test").to_dict()
        rc["reference_time"] = datetime(2026, 11, 23, 0, 0, tzinfo=timezone(timedelta(hours=9))).isoformat()
        out = good.get_task("preview").python_callable(rc)
        assert out["due"] is True and out["to_send"] >= 1 and not out.get("error"), out
    finally:
        get_settings.cache_clear()
