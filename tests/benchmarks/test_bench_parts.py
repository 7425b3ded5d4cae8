"""The benchmark suite's own parts: equality checks that must catch a difference, the measured child process, the
bulk event path against the real loader, the pandas baseline's percentile against the SQL engine's, the report.

No test here asserts a timing: speed is what ``make bench`` measures and writes down (docs/benchmarks.md).
"""

from __future__ import annotations

import gzip
import sys
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest

from benchmarks import report
from benchmarks.common import compare_checksums, run_measured, table_checksums
from benchmarks.segmentation_pandas import _percentile_disc

END = date(2026, 11, 22)


def _table(path: Path, rows: list[tuple]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.t (id varchar, amount decimal(18, 2), share double, loaded_at timestamptz)"
        )
        con.executemany("insert into marts.t values (?, ?, ?, ?)", rows)


def test_checksums_catch_one_changed_value_and_ignore_row_order(tmp_path: Path) -> None:
    rows = [("a", 1.5, 0.1 + 0.2, "2026-11-22 10:00:00+09"), ("b", 2, 1 / 3, None)]
    _table(tmp_path / "a.duckdb", rows)
    _table(tmp_path / "b.duckdb", list(reversed(rows)))
    _table(tmp_path / "c.duckdb", [rows[0], ("b", 2.01, 1 / 3, None)])
    # a double summed in another order differs in the last bits only: still equal
    _table(tmp_path / "d.duckdb", [("a", 1.5, 0.3, "2026-11-22 10:00:00+09"), rows[1]])
    a, b, c, d = (table_checksums(tmp_path / f"{n}.duckdb", ["marts.t"]) for n in "abcd")
    assert a["marts.t"][0] == 2
    assert compare_checksums(a, b) == []
    assert compare_checksums(a, c) == ["marts.t"]
    assert compare_checksums(a, d) == []
    assert compare_checksums(a, {}) == ["marts.t"]


def test_measured_child_reports_its_own_peak_memory_and_can_be_capped() -> None:
    big = run_measured([sys.executable, "-c", "x = bytearray(300 * 1024 * 1024)"])
    small = run_measured([sys.executable, "-c", "pass"])
    assert big.returncode == 0 and big.max_rss_mb > 250 > small.max_rss_mb
    capped = run_measured(
        [sys.executable, "-c", "x = bytearray(500 * 1024 * 1024); import time; time.sleep(5)"], max_rss_mb=200
    )
    assert capped.returncode == -9 and "RSS above 200" in capped.stderr
    with pytest.raises(RuntimeError, match="failed with exit code -9"):
        capped.check("capped child")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 11, 101])
def test_pandas_percentile_is_the_engines_discrete_median(n: int) -> None:
    values = np.random.default_rng(n).integers(1, 50, size=n)  # ties on purpose
    expected = duckdb.execute("select quantile_disc(v, 0.5) from (select unnest(?::bigint[]) as v)",
                              [values.tolist()]).fetchone()[0]  # fmt: skip
    assert _percentile_disc(values, 0.5) == expected
    assert _percentile_disc(np.array([]), 0.5) is None


def test_bulk_event_history_lands_the_same_rows_as_the_loader(tmp_path: Path) -> None:
    from benchmarks.shop_setup import BULK_LOAD_ID, bulk_load_events
    from include.extract.events import load_event_drops
    from testbed.shop import generate_shop

    shop, drops = tmp_path / "shop", tmp_path / "drops"
    generate_shop(shop, drops, customers=300, days=6, end_date=END, seed=3)
    first = min(date.fromisoformat(p.name[3:]) for p in drops.glob("dt=*"))
    # an event sent again: in a later drop folder (another statement of the bulk path) and in the same one
    day1 = sorted(drops.glob("dt=*"))[0]
    lines = gzip.open(day1 / "events-000.jsonl.gz", "rt", encoding="utf-8").readlines()
    for folder, name in (
        (sorted(drops.glob("dt=*"))[-2], "events-900.jsonl.gz"),
        (day1, "events-901.jsonl.gz"),
    ):
        with gzip.open(folder / name, "wt", encoding="utf-8") as fh:
            fh.writelines(lines[:5])
    loader, bulk = tmp_path / "loader.duckdb", tmp_path / "bulk.duckdb"
    load_event_drops(str(drops), END, destination=str(loader), lookback_days=(END - first).days,
                     pipelines_dir=tmp_path / "dlt")  # fmt: skip
    out = bulk_load_events(bulk, drops, first, END)
    cols = ("insert_id, event_type, event_time, user_id, device_id, session_id, platform, city, event_properties, "
            "drop_date, drop_file")  # fmt: skip
    with duckdb.connect() as con:
        con.execute(f"attach '{loader}' as l (read_only)")
        con.execute(f"attach '{bulk}' as b (read_only)")
        n = con.execute("select count(*) from l.raw_events.events").fetchone()[0]
        assert n > 500 and out["loaded"] == n and out["files"] == 8  # 6 folders up to END + the 2 repeats
        for x, y in (("l", "b"), ("b", "l")):
            diff = con.execute(f"select count(*) from (select {cols} from {x}.raw_events.events "
                               f"except all select {cols} from {y}.raw_events.events)").fetchone()[0]  # fmt: skip
            assert diff == 0
        assert con.execute("select distinct _dlt_load_id from b.raw_events.events").fetchall() == [
            (BULK_LOAD_ID,)
        ]


def test_report_shows_a_failed_benchmark_with_its_error() -> None:
    results = {
        "command": "python -m benchmarks run --scale XS",
        "started": "2026-11-23T00:00:00+00:00",
        "machine": {"cpu": "cpu", "cores": 2, "ram_gib": 24, "os": "os", "python": "3.11", "packages": {"x": "1"}},
        "load_average_start": [0, 0, 0],
        "run_date": END.isoformat(),
        "scales": {},
        "notes": ["L was not run: too big"],
        "sections": [
            {"name": "segmentation", "scale": "M", "rows": [], "notes": [], "facts": {},
             "error": "RuntimeError: pandas segmentation failed with exit code -9"},
            {"name": "dag_parse", "scale": "-", "notes": [], "error": None, "facts": {"repetitions": 3},
             "rows": [{"file": "dags/x.py", "dags": 2, "tasks": 7, "cold_s": 3.5, "airflow_preimported_s": 0.4,
                       "vs_empty_dag": 20.0}]},
        ],
    }  # fmt: skip
    text = report.render(results)
    assert "**M: failed** — `RuntimeError: pandas segmentation failed with exit code -9`" in text
    assert "| dags/x.py | 2 | 7 | 3.50 | 0.40 | 20.0 |" in text
    assert "L was not run: too big" in text


def test_report_says_when_the_pandas_baseline_did_not_fit() -> None:
    dbt_row = {
        "implementation": "dbt",
        "wall_s": 300.0,
        "peak_rss_mb": 5000,
        "time_ratio": 1.0,
        "memory_ratio": 1.0,
    }
    pd_row = {"implementation": "pandas: killed", "wall_s": 120.0, "peak_rss_mb": "> 15,000", "time_ratio": "> 0.40",
              "memory_ratio": "> 3.0"}  # fmt: skip
    results = {
        "command": "python -m benchmarks run --scale M", "started": "2026-11-23T00:00:00+00:00",
        "machine": {"cpu": "cpu", "cores": 2, "ram_gib": 24, "os": "os", "python": "3.11", "packages": {}},
        "load_average_start": [0, 0, 0], "run_date": END.isoformat(), "scales": {}, "notes": [],
        "sections": [{"name": "segmentation", "scale": "M", "rows": [dbt_row, pd_row], "notes": [], "error": None,
                      "facts": {"dbt_rows": 4_000_000, "pandas_fits": False, "pandas_max_rss_mb": 15_000,
                                "identical": None}}],
    }  # fmt: skip
    text = report.render(results)
    assert "| M | 4,000,000 | 300 | 5,000 | 120 | > 15,000 | > 0.40 | > 3.0 | – |" in text
    assert "M: the pandas baseline was stopped when its resident memory passed 15,000 MB" in text


def test_the_increment_only_extraction_of_scale_m_reads_one_day(tmp_path: Path) -> None:
    # at M the full history is not read through the API; the increment must then read D-1 only (it read the
    # whole history once, because an empty warehouse counts as never loaded)
    from benchmarks.extraction import run
    from testbed.shop import generate_shop

    shop, drops = tmp_path / "shop", tmp_path / "drops"
    generate_shop(shop, drops, customers=300, days=4, end_date=END, seed=3)
    sec = run(shop, tmp_path / "x", "XS", full_history=False, snapshot=None, faults=False)
    (row,) = sec.rows
    assert row["run"] == "nightly increment (extension)" and row["rows_landed"] > 0
    assert row["requests"] < 40, row  # a day of a 300-member shop: a few pages per resource, no history
    assert sec.notes and "full history not run" in sec.notes[0]


def test_activation_at_scale_runs_and_counts_every_member(tmp_path: Path) -> None:
    """benchmarks/activation_scale.py at a tiny size (the 1M run is in docs/benchmarks.md): both sides of a
    comparison against this same checkout agree, every member has a decision, the emulator accepted the sends."""
    import json

    from benchmarks import activation_scale
    from benchmarks.common import ROOT

    assert activation_scale.main(["--members", "3000", "--max-recipients", "400", "--work", str(tmp_path),
                                  "--baseline-src", str(ROOT)]) == 0  # fmt: skip
    baseline, now = json.loads((tmp_path / "result.json").read_text())
    assert baseline["ledger_counts"] == now["ledger_counts"]
    assert sum(now["ledger_counts"].values()) == 3000
    sent = now["ledger_counts"]["accepted:"]
    assert sent == now["accepted_at_emulator"] == baseline["accepted_at_emulator"] and 300 < sent <= 400
    assert now["ledger_counts"]["suppressed:max_recipients"] > 2000
    assert set(now["timings"]) >= {"plan_s", "ledger_write_s", "send_s", "summary_s"}


def test_activation_at_scale_on_the_postgresql_ledger(tmp_path: Path) -> None:
    import hashlib
    import json

    from sqlalchemy import create_engine, text

    from benchmarks import activation_scale

    args = ["--members", "1500", "--max-recipients", "200", "--work", str(tmp_path), "--ledger", "postgresql"]
    try:
        assert activation_scale.main(args) == 0
        (now,) = json.loads((tmp_path / "result.json").read_text())
        assert now["ledger"] == "postgresql" and sum(now["ledger_counts"].values()) == 1500
        assert now["ledger_counts"]["accepted:"] == now["accepted_at_emulator"] > 150
    finally:
        tag = hashlib.sha256(str(tmp_path.resolve()).encode()).hexdigest()[:10]
        admin = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "crm_bench_ledger_now_{tag}" with (force)'))
        admin.dispose()
