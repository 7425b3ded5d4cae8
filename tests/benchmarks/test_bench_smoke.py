"""Every benchmark of ``make bench`` run end to end at a tiny scale (XS: 1,500 members, 30 days), so none rots.

One run of ``python -m benchmarks run --scale XS`` in a child process (its own scratch folder, results JSON and
report under ``tmp_path``); the tests read what it wrote. They check that each benchmark produced its comparison
and that the equality checks behind every ratio held — never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.common import ROOT, fmt

pytestmark = pytest.mark.integration

NAMES = {
    "dbt_overhead",
    "segmentation",
    "activation",
    "incremental",
    "extraction",
    "gx_cost",
    "airflow_dbt_stage",
    "dag_parse",
}


@pytest.fixture(scope="module")
def xs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("bench_xs")
    cmd = [sys.executable, "-m", "benchmarks", "run", "--scale", "XS", "--dag-repetitions", "1",
           "--workdir", str(work), "--out", str(work / "benchmarks.md"), "--results-dir", str(work / "results")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    (result,) = list((work / "results").glob("*.json"))
    data = json.loads(result.read_text())
    data["_proc"] = proc
    data["_md"] = (work / "benchmarks.md").read_text()
    data["_work"] = work
    return data


def section(xs: dict, name: str) -> dict:
    (sec,) = [s for s in xs["sections"] if s["name"] == name]
    return sec


def test_every_benchmark_ran_without_error(xs: dict) -> None:
    proc = xs["_proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {s["name"] for s in xs["sections"]} == NAMES
    assert [s for s in xs["sections"] if s["error"]] == []
    assert not [p for p in xs["_work"].iterdir() if p.name.startswith("crm-bench-")], (
        "scratch folder left behind"
    )


def test_dbt_and_direct_sql_build_identical_tables(xs: dict) -> None:
    sec = section(xs, "dbt_overhead")
    f = sec["facts"]
    assert f["tables_compared"] >= 30 and f["tables_identical"] == f["tables_compared"]
    assert len(sec["rows"]) == f["models"] >= 40
    assert f["ratio_dbt_vs_direct"] > 0 and f["direct_sql_s"] > 0


def test_pandas_segmentation_agrees_with_dbt(xs: dict) -> None:
    sec = section(xs, "segmentation")
    f = sec["facts"]
    assert f["identical"] is True and f["only_dbt"] == f["only_pandas"] == f["segment_mismatch"] == 0
    # one row per customer and recomputed date; customers who joined after an earlier date lack that date's row
    assert f["dbt_rows"] == f["pandas_rows"] and 3 * f["customers"] < f["dbt_rows"] <= 4 * f["customers"]
    assert all(r["peak_rss_mb"] > 0 for r in sec["rows"])


def test_incremental_run_equals_full_refresh(xs: dict) -> None:
    (row,) = section(xs, "incremental")["rows"]
    assert row["differing"] == [] and row["events_in_warehouse"] > 0
    done, total = row["tables_identical"].split("/")
    assert done == total and int(total) >= 30
    assert row["nightly_event_rows"] > 0
    slow = row["slowest_models"]  # where the nightly time goes, shown under table 3
    assert len(slow) == 8 and len({m["model"] for m in slow}) == 8
    assert [m["full_refresh_s"] for m in slow] == sorted((m["full_refresh_s"] for m in slow), reverse=True)
    assert all(any((ROOT / "dbt_project" / "models").rglob(f"{m['model']}.sql")) for m in slow)
    assert "Where the time goes at XS" in xs["_md"]


def test_extraction_measures_against_the_bucket(xs: dict) -> None:
    rows = {r["run"]: r for r in section(xs, "extraction")["rows"]}
    full, inc = rows["full history"], rows["nightly increment"]
    assert full["rows_landed"] > 10_000 and full["requests"] > 40
    assert full["bucket_floor_s"] == (full["requests"] - full["injected_faults"] - 40) / 2
    assert 0 < full["share_of_ceiling"] <= 1.0
    assert inc["requests"] > 0 and inc["rows_landed"] > 0


def test_activation_counts_requests_and_an_unchanged_sync_writes_nothing(xs: dict) -> None:
    sec = section(xs, "activation")
    rows = {r["step"]: r for r in sec["rows"]}
    send = rows["campaign send (SMS/LMS via Solapi)"]
    assert send["items"] > 0 and 0 < send["batch_fill"] <= 1
    assert rows["Channel Talk sync, first run (ours)"]["write_calls"] == 20
    assert rows["Channel Talk sync, unchanged run (ours)"]["write_calls"] == 0
    drt = [r for s, r in rows.items() if "drt-core" in s]
    assert len(drt) == 2 and all(r["requests"] > 0 for r in drt), sec["facts"].get("drt")


def test_dbt_stage_under_airflow_builds_what_plain_dbt_builds(xs: dict) -> None:
    sec = section(xs, "airflow_dbt_stage")
    f = sec["facts"]
    assert f["tables_identical"] is True and f["tables_compared"] >= 30
    rows = {r["path"]: r for r in sec["rows"]}
    stage = rows["Airflow stage, WATCHER (now)"]
    # dbt starts twice (the build, the tests); the first parses fully (the night's --vars). Whether the test task
    # reuses that parse depends on Cosmos' partial-parse cache (1 or 2 full parses seen in CI): counted, not required
    assert stage["dbt_starts"] == 2 and 1 <= stage["full_parses"] <= stage["dbt_starts"]
    assert (
        stage["tasks"] >= 50 and stage["wall_s"] > 0 and rows["plain `dbt build` (baseline)"]["ratio"] == 1.0
    )
    assert f["stage_vs_plain"] == stage["ratio"] > 0


def test_dag_parse_covers_every_dag_file(xs: dict) -> None:
    rows = section(xs, "dag_parse")["rows"]
    files = {r["file"] for r in rows}
    assert {f"dags/{p.name}" for p in (ROOT / "dags").glob("*.py")} <= files
    assert all(r["dags"] >= 1 for r in rows)


def test_gx_cost_is_included(xs: dict) -> None:
    sec = section(xs, "gx_cost")
    assert {r["gate"] for r in sec["rows"]} >= {"marts", "raw (nightly batch)"}
    assert sec["facts"]["process_max_rss_mb"] > 0


def test_report_is_rendered_from_the_results(xs: dict) -> None:
    md = xs["_md"]
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.", "## 7.", "## Quality gate cost"):
        assert heading in md
    facts = section(xs, "dbt_overhead")["facts"]
    cells = [fmt(facts[k]) for k in ("models", "dbt_run_wall_s", "direct_sql_s", "ratio_dbt_vs_direct")]
    assert "| XS | " + " | ".join(cells) + " |" in md, "the XS row of table 1 does not show the run's numbers"
    assert xs["command"] in md and xs["machine"]["cpu"] in md
