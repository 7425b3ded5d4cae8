"""Benchmark 1: ``dbt run`` vs the same compiled SQL executed directly in DuckDB (dbt's overhead per model).

Two copies of one raw warehouse get the seed (``dbt seed``, untimed). On one, ``dbt run`` builds every model
(1 thread, so models run one after another like the direct path; the default 4 threads are timed too at small
scales). On the other, ``dbt compile`` writes each model's SQL; the benchmark then executes it itself in dependency
order (``create or replace table|view … as``: a first run, so incremental models are plain tables) and times each
statement. Both warehouses must then hold identical tables: same row count and the same order-independent checksum
of every row (``sum(hash(columns))``, doubles rounded to 6 decimals).
"""

from __future__ import annotations

import json
import time
from datetime import date
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from benchmarks.common import (
    OUTPUT_SCHEMAS,
    Section,
    compare_checksums,
    copy_warehouse,
    model_tables,
    print_table,
    run_dbt,
    run_results,
    table_checksums,
)


def compiled_models(workdir: Path) -> list[dict[str, Any]]:
    """The models of the last ``dbt compile`` in ``workdir``, in dependency order, with their SQL."""
    manifest = json.loads((workdir / "target" / "manifest.json").read_text())
    nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    graph = {k: [d for d in v["depends_on"]["nodes"] if d in nodes] for k, v in nodes.items()}
    order = list(TopologicalSorter(graph).static_order())
    return [
        {
            "unique_id": uid,
            "name": nodes[uid]["name"],
            "schema": nodes[uid]["schema"],
            "relation": nodes[uid]["relation_name"],
            "materialized": nodes[uid]["config"]["materialized"],
            "sql": nodes[uid]["compiled_code"],
        }
        for uid in order
    ]


def execute_directly(warehouse: Path, models: list[dict[str, Any]]) -> dict[str, float]:
    """Runs each model's compiled SQL as ``create or replace`` in order; returns seconds per model."""
    import duckdb

    timings: dict[str, float] = {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")  # the profile's session setting
        for schema in sorted({m["schema"] for m in models}):
            con.execute(f'create schema if not exists "{schema}"')
        for m in models:
            kind = "view" if m["materialized"] == "view" else "table"
            t0 = time.perf_counter()
            con.execute(f"create or replace {kind} {m['relation']} as (\n{m['sql']}\n)")
            timings[m["unique_id"]] = time.perf_counter() - t0
    finally:
        con.close()
    return timings


def run(
    raw_warehouse: Path, work: Path, scale: str, run_date: date, *, default_threads: bool
) -> tuple[Section, Path]:
    """Runs the benchmark on copies of ``raw_warehouse``; returns the section and the dbt-built warehouse."""
    sec = Section("dbt_overhead", scale)
    work.mkdir(parents=True, exist_ok=True)
    via_dbt = copy_warehouse(raw_warehouse, work / "via_dbt.duckdb")
    direct = copy_warehouse(raw_warehouse, work / "direct.duckdb")
    run_dbt(["seed"], warehouse=via_dbt, workdir=work / "dbt", run_date=run_date)
    run_dbt(["seed"], warehouse=direct, workdir=work / "direct", run_date=run_date)

    dbt_run = run_dbt(["run"], warehouse=via_dbt, workdir=work / "dbt", threads=1, run_date=run_date)
    results = run_results(work / "dbt")
    compile_m = run_dbt(
        ["compile", "--select", "resource_type:model"],
        warehouse=direct,
        workdir=work / "direct",
        run_date=run_date,
    )
    models = compiled_models(work / "direct")
    t0 = time.perf_counter()
    direct_times = execute_directly(direct, models)
    direct_wall = time.perf_counter() - t0

    tables = sorted(set(model_tables(via_dbt)) | set(model_tables(direct)))
    left, right = table_checksums(via_dbt, tables), table_checksums(direct, tables)
    differing = compare_checksums(left, right)
    if differing:
        sec.error = f"tables differ between dbt and direct SQL: {differing}"

    per_model = []
    for m in models:
        r = results.get(m["unique_id"], {})
        dbt_s = float(r.get("execution_time", 0.0))
        sql_s = direct_times[m["unique_id"]]
        rows = left.get(f"{m['schema']}.{m['name']}", (None,))[0]
        per_model.append({"model": m["name"], "materialized": m["materialized"], "rows": rows,
                          "dbt_s": round(dbt_s, 3), "direct_s": round(sql_s, 3),
                          "overhead_s": round(dbt_s - sql_s, 3)})  # fmt: skip
    node_sum = sum(p["dbt_s"] for p in per_model)
    overheads = sorted(p["overhead_s"] for p in per_model)
    sec.facts = {
        "models": len(models),
        "tables_compared": len(tables),
        "tables_identical": len(tables) - len(differing),
        "dbt_run_wall_s": round(dbt_run.wall_s, 2),
        "dbt_node_time_s": round(node_sum, 2),
        "dbt_fixed_s": round(dbt_run.wall_s - node_sum, 2),
        "dbt_run_max_rss_mb": round(dbt_run.max_rss_mb),
        "direct_sql_s": round(direct_wall, 2),
        "dbt_compile_wall_s": round(compile_m.wall_s, 2),
        "ratio_dbt_vs_direct": round(dbt_run.wall_s / direct_wall, 2) if direct_wall else None,
        "median_overhead_per_model_s": overheads[len(overheads) // 2] if overheads else None,
        "mean_overhead_per_model_s": round(sum(overheads) / len(overheads), 3) if overheads else None,
    }
    if default_threads:
        again = copy_warehouse(raw_warehouse, work / "threads4.duckdb")
        run_dbt(["seed"], warehouse=again, workdir=work / "t4", run_date=run_date)
        t4 = run_dbt(["run"], warehouse=again, workdir=work / "t4", run_date=run_date)
        sec.facts["dbt_run_4_threads_wall_s"] = round(t4.wall_s, 2)
        again.unlink()
    direct.unlink()
    sec.rows = per_model
    summary = [
        {"path": "dbt run (1 thread)", "wall_s": sec.facts["dbt_run_wall_s"], "ratio": sec.facts["ratio_dbt_vs_direct"]},
        {"path": "direct SQL (same compiled code)", "wall_s": sec.facts["direct_sql_s"], "ratio": 1.0},
    ]  # fmt: skip
    if "dbt_run_4_threads_wall_s" in sec.facts:
        w = sec.facts["dbt_run_4_threads_wall_s"]
        summary.append(
            {"path": "dbt run (4 threads, default)", "wall_s": w, "ratio": round(w / direct_wall, 2)}
        )
    print_table(f"[{scale}] dbt run vs direct SQL ({len(models)} models; identical tables: "
                f"{sec.facts['tables_identical']}/{len(tables)})", summary)  # fmt: skip
    top = sorted(per_model, key=lambda p: -p["dbt_s"])[:8]
    print_table(f"[{scale}] slowest models", top)
    return sec, via_dbt


__all__ = ["OUTPUT_SCHEMAS", "compiled_models", "execute_directly", "run"]
