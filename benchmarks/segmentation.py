"""Benchmark 2: the segmentation logic in dbt-duckdb vs a straightforward pandas implementation of the same rules.

dbt side: ``dbt run --select +int_customer_segments_scored`` (staging views, the events table with its JSON parse,
sessions, activity, customers, order and engagement states, scores; default threads) as a child process. pandas
side: :mod:`benchmarks.segmentation_pandas` as a child process reading the same raw tables. Both are timed with
their peak RSS (``os.wait4`` of the command, see ``run_measured``). The results must agree for every customer and recomputed date: tier,
segment, order count, interest and conversion scores and both thresholds.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from benchmarks.common import Section, print_table, python_child, run_dbt

DBT_SELECT = "+int_customer_segments_scored"
PANDAS_MAX_RSS_MB = 15_000  # the shared 24 GiB machine: beyond this the baseline is reported as not fitting


def _compare(warehouse: Path, pandas_out: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        con.execute(
            "CREATE TEMP TABLE d AS SELECT customer_id, as_of_date, tier, segment, order_count, "
            "CAST(interest_score * 100 AS BIGINT) AS interest_c, CAST(conversion_score * 100 AS BIGINT) AS conversion_c, "
            "CAST(interest_threshold * 100 AS BIGINT) AS interest_threshold_c, "
            "CAST(conversion_threshold * 100 AS BIGINT) AS conversion_threshold_c "
            "FROM wh.intermediate.int_customer_segments_scored"
        )
        con.execute(
            f"CREATE TEMP TABLE p AS SELECT customer_id, as_of_date, tier, segment, order_count, interest_c, "
            f"conversion_c, interest_threshold_c, conversion_threshold_c FROM read_parquet('{pandas_out}')"
        )
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "dbt_rows": q("SELECT count(*) FROM d"),
            "pandas_rows": q("SELECT count(*) FROM p"),
            "only_dbt": q("SELECT count(*) FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM p)"),
            "only_pandas": q("SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM d)"),
            "segment_mismatch": q(
                "SELECT count(*) FROM d JOIN p USING (customer_id, as_of_date) "
                "WHERE d.segment <> p.segment OR d.tier <> p.tier"
            ),
            "customers": q("SELECT count(DISTINCT customer_id) FROM d"),
        }
    finally:
        con.close()


def _compare_dbt_only(warehouse: Path) -> dict[str, int]:
    """Row and customer counts of the dbt side alone (when the pandas baseline did not fit)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows, customers = con.execute(
            "SELECT count(*), count(DISTINCT customer_id) FROM intermediate.int_customer_segments_scored"
        ).fetchone()
        return {"dbt_rows": rows, "customers": customers}
    finally:
        con.close()


def run(warehouse: Path, work: Path, scale: str, run_date: date) -> Section:
    """Times both implementations on ``warehouse`` (raw layer loaded; the dbt models are rebuilt)."""
    sec = Section("segmentation", scale)
    work.mkdir(parents=True, exist_ok=True)
    dbt = run_dbt(
        ["run", "--select", DBT_SELECT], warehouse=warehouse, workdir=work / "dbt", run_date=run_date
    )
    out = work / "pandas_segments.parquet"
    pd_run = python_child(
        "benchmarks.segmentation_pandas", "--warehouse", str(warehouse), "--run-date", run_date.isoformat(),
        "--out", str(out), max_rss_mb=PANDAS_MAX_RSS_MB,
    )  # fmt: skip
    dbt_row = {"implementation": "dbt-duckdb (dbt run, 4 threads)", "wall_s": round(dbt.wall_s, 1),
               "peak_rss_mb": round(dbt.max_rss_mb), "time_ratio": 1.0, "memory_ratio": 1.0}  # fmt: skip
    if pd_run.returncode == -9 and "RSS above" in pd_run.stderr:
        # the baseline does not fit in the memory this machine can give it: that is the result, not an error
        out.unlink(missing_ok=True)
        cmp = _compare_dbt_only(warehouse)
        sec.rows = [dbt_row, {"implementation": f"pandas (single process): killed above {PANDAS_MAX_RSS_MB:,} MB",
                              "wall_s": round(pd_run.wall_s, 1), "peak_rss_mb": f"> {PANDAS_MAX_RSS_MB:,}",
                              "time_ratio": f"> {pd_run.wall_s / dbt.wall_s:.2f}",
                              "memory_ratio": f"> {PANDAS_MAX_RSS_MB / dbt.max_rss_mb:.1f}"}]  # fmt: skip
        sec.facts = {**cmp, "pandas_fits": False, "pandas_max_rss_mb": PANDAS_MAX_RSS_MB, "dates": 4,
                     "identical": None}  # fmt: skip
        print_table(f"[{scale}] segmentation: pandas did not fit in {PANDAS_MAX_RSS_MB:,} MB", sec.rows)
        return sec
    pd_run.check("pandas segmentation")
    import json

    laps = json.loads(pd_run.stdout.strip().splitlines()[-1])
    cmp = _compare(warehouse, out)
    out.unlink(missing_ok=True)
    if cmp["only_dbt"] or cmp["only_pandas"] or cmp["dbt_rows"] != cmp["pandas_rows"]:
        sec.error = f"results differ: {cmp}"
    sec.rows = [
        dbt_row,
        {"implementation": "pandas (single process)", "wall_s": round(pd_run.wall_s, 1),
         "peak_rss_mb": round(pd_run.max_rss_mb), "time_ratio": round(pd_run.wall_s / dbt.wall_s, 2),
         "memory_ratio": round(pd_run.max_rss_mb / dbt.max_rss_mb, 2)},
    ]  # fmt: skip
    sec.facts = {**cmp, "pandas_fits": True, "pandas_read_s": laps.get("read_s"),
                 "pandas_logic_s": laps.get("logic_s"), "dates": 4, "identical": not sec.error}  # fmt: skip
    print_table(
        f"[{scale}] segmentation: {cmp['customers']:,} customers × 4 dates; identical rows: "
        f"{'yes' if not sec.error else 'NO'} (pandas read {laps.get('read_s')} s, logic {laps.get('logic_s')} s)",
        sec.rows,
    )
    return sec
