"""Benchmark 3: the nightly incremental ``dbt run`` vs a full refresh, at different lengths of event history.

For a shop with N days of events: the raw layer as of the end of D-1 is built once with ``dbt seed`` + ``dbt run``
(the first night, reported as set-up). Then the night of D arrives — ``load_snapshot`` as of the end of D and the
drop folders of D and D-1 (``load_event_drops``) — and the warehouse is copied. One copy runs the nightly
``dbt run`` (incremental facts read the lookback window), the other ``dbt run --full-refresh`` (every fact rebuilt
from all history; the date-partitioned history tables are ``full_refresh: false`` and update the same way). Every
model table must come out identical (row count + checksum). At small scales ``dbt build --full-refresh`` (with
the ~300 data tests) is timed as well.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from benchmarks import shop_setup
from benchmarks.common import (
    Section,
    compare_checksums,
    copy_warehouse,
    model_tables,
    print_table,
    run_dbt,
    run_results,
    table_checksums,
)


def build_first_night(raw_warehouse: Path, work: Path, day: date) -> tuple[Path, dict]:
    """``dbt seed`` + ``dbt run`` for ``day`` on a copy of ``raw_warehouse``; returns it and the timings."""
    wh = copy_warehouse(raw_warehouse, work / "nightly.duckdb")
    seed = run_dbt(["seed"], warehouse=wh, workdir=work / "first", run_date=day)
    first = run_dbt(["run"], warehouse=wh, workdir=work / "first", run_date=day)
    return wh, {"seed_s": round(seed.wall_s, 1), "first_run_s": round(first.wall_s, 1)}


def run_point(
    shop_dir: Path,
    drops_dir: Path,
    built: Path,
    work: Path,
    scale: str,
    days: int,
    run_date: date,
    *,
    with_build: bool,
    setup: dict | None = None,
) -> dict:
    """Loads night ``run_date`` into ``built`` (a warehouse built for the day before) and times both runs."""
    work.mkdir(parents=True, exist_ok=True)
    night = shop_setup.load_child(shop_dir, drops_dir, built, run_date, history=False, bulk_events=False)
    full = copy_warehouse(built, work / "full_refresh.duckdb")
    inc = run_dbt(["run"], warehouse=built, workdir=work / "inc", run_date=run_date)
    fr = run_dbt(["run", "--full-refresh"], warehouse=full, workdir=work / "full", run_date=run_date)
    times = {name: model_seconds(run_results(work / name)) for name in ("inc", "full")}
    node_s = {name: round(sum(t.values()), 1) for name, t in times.items()}
    row = {
        "scale": scale,
        "event_days": days,
        "incremental_run_s": round(inc.wall_s, 1),
        "full_refresh_run_s": round(fr.wall_s, 1),
        "speedup": round(fr.wall_s / inc.wall_s, 2),
        "incremental_nodes_s": node_s["inc"],
        "full_refresh_nodes_s": node_s["full"],
        "node_speedup": round(node_s["full"] / node_s["inc"], 2) if node_s["inc"] else None,
        "slowest_models": slowest_models(times["inc"], times["full"]),
    }
    if with_build:
        build_copy = copy_warehouse(full, work / "full_build.duckdb")
        fb = run_dbt(
            ["build", "--full-refresh"], warehouse=build_copy, workdir=work / "fbuild", run_date=run_date
        )
        row["full_refresh_build_s"] = round(fb.wall_s, 1)
        build_copy.unlink()
    tables = sorted(set(model_tables(built)) | set(model_tables(full)))
    differing = compare_checksums(table_checksums(built, tables), table_checksums(full, tables))
    import duckdb

    with duckdb.connect(str(built), read_only=True) as con:
        row["events_in_warehouse"] = con.execute("select count(*) from marts.fct_events").fetchone()[0]
    row.update(
        nightly_load_s=night["wall_s"],
        nightly_snapshot_rows_per_s=night["snapshot_rows_per_s"],
        nightly_event_rows=night["events_rows"],
        nightly_events_rows_per_s=night["events_rows_per_s"],
        tables_identical=f"{len(tables) - len(differing)}/{len(tables)}",
        differing=differing,
        **(setup or {}),
    )
    full.unlink()
    return row


def model_seconds(results: dict[str, dict]) -> dict[str, float]:
    """``{model name: execution seconds}`` from dbt run results (see ``benchmarks.common.run_results``)."""
    return {uid.split(".")[-1]: float(r.get("execution_time", 0)) for uid, r in results.items()}


def slowest_models(inc: dict[str, float], full: dict[str, float], n: int = 8) -> list[dict]:
    """The ``n`` models with the most full-refresh seconds, with their seconds in the nightly run."""
    top = sorted(full, key=lambda m: -full[m])[:n]
    return [
        {"model": m, "incremental_s": round(inc.get(m, 0.0), 1), "full_refresh_s": round(full[m], 1)}
        for m in top
    ]


def run(points: list[dict], scale: str) -> Section:
    """``points``: ``{shop_dir, drops_dir, built, work, days, run_date, setup}`` per history length."""
    sec = Section("incremental", scale)
    for p in points:
        row = run_point(p["shop_dir"], p["drops_dir"], p["built"], p["work"], scale, p["days"], p["run_date"],
                        with_build=p.get("with_build", False), setup=p.get("setup"))  # fmt: skip
        sec.rows.append(row)
        if row["differing"]:
            sec.error = (sec.error or "") + f" {p['days']} days: tables differ {row['differing']};"
        print_table(
            f"[{scale}] incremental vs full refresh, {p['days']} days of events (tables identical "
            f"{row['tables_identical']})",
            [{k: row.get(k) for k in ("event_days", "events_in_warehouse", "incremental_run_s",
                                      "full_refresh_run_s", "speedup", "incremental_nodes_s",
                                      "full_refresh_nodes_s", "node_speedup", "full_refresh_build_s")}],
        )  # fmt: skip
    return sec


def previous_day(day: date) -> date:
    return day - timedelta(days=1)
