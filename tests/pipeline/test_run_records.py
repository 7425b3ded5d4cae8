"""What a run leaves for people: alerts in the business date's folder, a summary of this run only (issue 19)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from types import SimpleNamespace

import pytest

from include.core.settings import get_settings
from include.core.timezone import KST


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture
def utc_host(monkeypatch):
    """The host's local zone is UTC (a container default), not the business zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_alert_lands_in_the_business_date_folder_on_a_utc_host(data_dir, utc_host) -> None:
    from pipeline.alerts import task_failure_alert

    start = datetime(2026, 11, 21, 0, 0, tzinfo=KST)  # the interval of data date 11-21 (15:00 UTC on 11-20)
    ti = SimpleNamespace(dag_id="crm_nightly", task_id="dbt_test", run_id="scheduled__2026-11-21")
    task_failure_alert(
        {
            "task_instance": ti,
            "exception": RuntimeError("assert_funnel_matches_sessions failed"),
            "data_interval_start": start.astimezone(datetime.now().astimezone().tzinfo),
        }  # fmt: skip
    )
    assert not (data_dir / "runs" / "2026-11-20").exists()
    lines = (data_dir / "runs" / "2026-11-21" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["data_date"] for line in lines] == ["2026-11-21"]


def test_summary_of_a_rerun_shows_this_runs_gates_not_the_previous_attempts(data_dir) -> None:
    from pipeline import nightly
    from pipeline.runctx import for_date
    from pipeline.summary import write_run_outputs

    day = datetime(2026, 11, 21).date()
    rc = for_date(day, "local__2026-11-21")
    context = {"data_interval_start": rc.interval_start, "data_interval_end": rc.interval_end,
               "run_id": rc.run_id, "dag_run": None}  # fmt: skip
    # first attempt: every gate passed and the audiences were published
    rcd = nightly.prepare(context)
    for step in ("raw_gate", "marts_gate"):
        nightly.record(nightly._rc(rcd), step, {"passed": True})
    nightly.record(nightly._rc(rcd), "publish_audiences", {"out_dir": "x"})
    assert write_run_outputs(rc, with_dbt_docs=False)["quality"] == {"raw_gate": "PASS", "marts_gate": "PASS"}

    # the rerun stops in dbt (after the raw gate failed softly): its summary must not show the old marts gate
    rcd = nightly.prepare(context)
    nightly.record(nightly._rc(rcd), "raw_gate", {"passed": False})
    summary = write_run_outputs(rc, with_dbt_docs=False)
    assert summary["quality"] == {"raw_gate": "FAIL", "marts_gate": "not run"}
    assert summary["exports"] is None
    on_disk = json.loads((data_dir / "runs" / "2026-11-21" / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["quality"]["marts_gate"] == "not run"
