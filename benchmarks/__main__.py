"""``python -m benchmarks run --scale S,M``: the whole benchmark suite, then the report.

Per scale point: generate the shop (timed), load its raw layer as of D-1, then dbt vs direct SQL (1), the nightly's
dbt stage under Airflow vs one plain dbt build (7), segmentation dbt vs pandas (2), activation vs limits and drt (5),
incremental vs full refresh (3), extraction vs the call limit (4), the GX gate cost; once: DAG parse time (6).
Everything lives in a temporary folder that is deleted at the end (a 1M shop with its warehouses needs tens of GB).
Results go to ``benchmarks/results/<date>.json`` and ``docs/benchmarks.md``. ``python -m benchmarks report --results
FILE`` re-renders the doc from a JSON file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import (
    L_EVENT_DAYS,
    ROOT,
    RUN_DATE,
    Section,
    available_memory_gib,
    free_disk_gib,
    load_average,
    machine_info,
    print_table,
    python_child,
)

D_MINUS_1 = RUN_DATE - timedelta(days=1)
PLANS: dict[str, dict[str, Any]] = {
    "XS": {"customers": 1_500, "days": 30, "extra_history_days": [], "bulk_events": False, "full_history": True,
           "faults": False, "threads4": False, "max_recipients": None, "sync_members": 20, "with_build": False,
           "airflow_dbt": "quick", "disk_gib": 2, "mem_gib": 4},
    "S": {"customers": 10_000, "days": 90, "extra_history_days": [30, 365], "bulk_events": False,
          "full_history": True, "faults": True, "threads4": True, "max_recipients": None, "sync_members": 300,
          "with_build": True, "airflow_dbt": "full", "disk_gib": 6, "mem_gib": 6},
    "M": {"customers": 1_000_000, "days": 90, "extra_history_days": [], "bulk_events": True, "full_history": False,
          "faults": True, "threads4": False, "max_recipients": 100_000, "sync_members": 300, "with_build": False,
          "airflow_dbt": None, "disk_gib": 78, "mem_gib": 16},
    # L: 14 event days and no dbt-built warehouse (benchmarks.common.L_EVENT_DAYS says why); "sections" caps --only
    "L": {"customers": 10_000_000, "days": L_EVENT_DAYS, "extra_history_days": [], "bulk_events": True,
          "full_history": False, "faults": True, "threads4": False, "max_recipients": 100_000, "sync_members": 300,
          "with_build": False, "airflow_dbt": None, "disk_gib": 60, "mem_gib": 12, "sections": ["extraction", "gx"]},
}  # fmt: skip
# airflow_dbt: the dbt stage under Airflow (7) — "full": 3 pairs of stage and plain build, plus the stage as it was
# before (one dbt per model), the persist_docs row and one run under the scheduler; "quick": one pair and the split.
# Not at M or L, where each build takes 10 minutes or more and the stage's fixed costs (dbt start-ups, one task per
# model) are those of S.
# disk_gib: free space the scale needs in the scratch folder. M peaked at ~74 GB (2026-11-24, sampled every 15 s,
# in the incremental section: the nightly warehouse, its full-refresh copy and DuckDB spill files); dbt_overhead
# peaked at ~47 GB.
L_NOTE = (
    f"L (10M members) has {L_EVENT_DAYS} days of events and runs the generator, the raw load, extraction and the GX "
    "gate only: its dbt-built warehouses (4–5× the raw one at M) would not fit ~70 GB of scratch disk, and each dbt "
    "build would take hours on 2 cores."
)
ALL = ("dbt", "segmentation", "activation", "incremental", "extraction", "gx", "airflow_dbt", "dag")


def _guard(name: str, scale: str, fn, sections: list[Section]) -> Any:
    """Runs one benchmark; a failure is recorded in its section (with the error) and the suite goes on."""
    t0 = time.perf_counter()
    print(f"\n=== [{scale}] {name} (load average {load_average()}) ===", flush=True)
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - a benchmark that fails is reported, not fatal
        tail = "".join(traceback.format_exception(exc))[-3000:]
        print(tail, file=sys.stderr, flush=True)
        sections.append(Section(name, scale, error=f"{type(exc).__name__}: {str(exc)[-1500:]}"))
        return None
    secs = out[0] if isinstance(out, tuple) else out
    if isinstance(secs, Section):
        secs.facts.setdefault("benchmark_wall_s", round(time.perf_counter() - t0, 1))
        secs.facts.setdefault("load_average_after", load_average())
        sections.append(secs)
    return out


class _Checkpointed(list):
    """The sections of a scale point; each one appended is written out at once (``checkpoint``), so a long run
    that is stopped keeps what it measured."""

    def __init__(self, checkpoint: Callable[[list[Section]], None] | None) -> None:
        super().__init__()
        self.checkpoint = checkpoint

    def append(self, section: Section) -> None:
        super().append(section)
        if self.checkpoint:
            self.checkpoint(list(self))


def run_scale(
    scale: str,
    root: Path,
    only: set[str],
    results: dict[str, Any],
    checkpoint: Callable[[list[Section]], None] | None = None,
) -> None:
    """Every benchmark at one scale point; appends sections to ``results`` (and to ``checkpoint`` as they end)."""
    from benchmarks import (
        activation_bench,
        airflow_dbt_stage,
        dbt_overhead,
        extraction,
        incremental,
        segmentation,
        shop_setup,
    )

    plan = PLANS[scale]
    if "sections" in plan:
        only = only & set(plan["sections"])
    sections: list[Section] = _Checkpointed(checkpoint)
    free, avail = free_disk_gib(root), available_memory_gib()
    results["scales"][scale] = {"plan": plan, "free_disk_gib": free, "available_memory_gib": avail,
                                "started": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    if free < plan["disk_gib"] or avail < plan["mem_gib"]:
        msg = (f"{scale} skipped: needs ~{plan['disk_gib']} GB free disk and ~{plan['mem_gib']} GiB available "
               f"memory, found {free} GB and {avail} GiB")  # fmt: skip
        print(msg, flush=True)
        results["scales"][scale]["skipped"] = msg
        return
    work = root / scale
    shop, drops = work / "shop", work / "drops"
    gen = shop_setup.generate(shop, drops, plan["customers"], plan["days"], RUN_DATE)
    print_table(f"[{scale}] generator", [gen])
    raw = work / "raw.duckdb"
    load = shop_setup.load_child(shop, drops, raw, D_MINUS_1, history=True, bulk_events=plan["bulk_events"])
    print_table(f"[{scale}] raw layer as of the end of {D_MINUS_1}", [load])
    results["scales"][scale].update(
        generator=gen, raw_load=load, warehouse_gib=round(raw.stat().st_size / 1e9, 2)
    )

    built = None
    if "dbt" in only:
        out = _guard("dbt_overhead", scale, lambda: dbt_overhead.run(
            raw, work / "b1", scale, D_MINUS_1, default_threads=plan["threads4"]), sections)  # fmt: skip
        built = out[1] if out else None
    if built is None and only & {"segmentation", "activation", "incremental"}:  # they need a built warehouse
        built = work / "b1" / "via_dbt.duckdb"
        if not built.exists():
            from benchmarks.common import copy_warehouse, run_dbt

            copy_warehouse(raw, built)
            run_dbt(["seed"], warehouse=built, workdir=work / "b1" / "dbt", run_date=D_MINUS_1)
            run_dbt(["run"], warehouse=built, workdir=work / "b1" / "dbt", run_date=D_MINUS_1)
    if "airflow_dbt" in only and plan["airflow_dbt"]:
        _guard("airflow_dbt_stage", scale, lambda: airflow_dbt_stage.run(
            raw, work / "b7", scale, D_MINUS_1, before=plan["airflow_dbt"] == "full",
            repetitions=3 if plan["airflow_dbt"] == "full" else 1), sections)  # fmt: skip
    raw.unlink()
    if "segmentation" in only:
        _guard(
            "segmentation", scale, lambda: segmentation.run(built, work / "b2", scale, D_MINUS_1), sections
        )
    if "activation" in only:
        _guard("activation", scale, lambda: activation_bench.run(
            built, work / "b5", scale, D_MINUS_1, max_recipients=plan["max_recipients"],
            sync_members=plan["sync_members"]), sections)  # fmt: skip
    if "incremental" in only:

        def _incremental() -> Section:
            points = []
            for days in plan["extra_history_days"]:
                pdir = work / f"hist{days}"
                pgen = shop_setup.generate(pdir / "shop", pdir / "drops", plan["customers"], days, RUN_DATE)
                pload = shop_setup.load_child(pdir / "shop", pdir / "drops", pdir / "raw.duckdb", D_MINUS_1,
                                              history=True, bulk_events=plan["bulk_events"])  # fmt: skip
                wh, setup = incremental.build_first_night(pdir / "raw.duckdb", pdir, D_MINUS_1)
                (pdir / "raw.duckdb").unlink()
                points.append(
                    {
                        "shop_dir": pdir / "shop",
                        "drops_dir": pdir / "drops",
                        "built": wh,
                        "work": pdir,
                        "days": days,
                        "run_date": RUN_DATE,
                        "with_build": plan["with_build"],
                        "setup": {**setup, "generate_s": pgen["wall_s"], "history_load_s": pload["wall_s"]},
                    }
                )
            points.append(
                {
                    "shop_dir": shop,
                    "drops_dir": drops,
                    "built": built,
                    "work": work / "b3",
                    "days": plan["days"],
                    "run_date": RUN_DATE,
                    "with_build": plan["with_build"],
                }
            )
            points.sort(key=lambda p: p["days"])
            return incremental.run(points, scale)  # fmt: skip

        _guard("incremental", scale, _incremental, sections)
    if "extraction" in only:
        _guard("extraction", scale, lambda: extraction.run(
            shop, work / "b4", scale, full_history=plan["full_history"], snapshot=load,
            faults=plan["faults"]), sections)  # fmt: skip
    if "gx" in only:
        _guard("gx_cost", scale, lambda: gx_cost(plan["customers"], work / "gx", scale), sections)
    results["sections"] += [asdict(s) for s in sections]
    results["scales"][scale]["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    shutil.rmtree(work, ignore_errors=True)


def gx_cost(customers: int, work: Path, scale: str) -> Section:
    """``benchmarks/gx_cost.py`` for one size in a measured child process."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / "gx.json"
    m = python_child("benchmarks.gx_cost", "--customers", str(customers), "--workdir", str(work),
                     "--json", str(out), env={"GX_ANALYTICS_ENABLED": "False"}).check("gx_cost")  # fmt: skip
    data = json.loads(out.read_text())
    sec = Section("gx_cost", scale, rows=[{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
                                          for r in data["rows"]])  # fmt: skip
    sec.facts = {"import_s": round(data["import_s"], 1), "first_call_s": round(data["first_call_s"], 1),
                 "process_wall_s": round(m.wall_s, 1), "process_max_rss_mb": round(m.max_rss_mb)}  # fmt: skip
    print_table(f"[{scale}] GX gate cost (process peak RSS {sec.facts['process_max_rss_mb']} MB)", sec.rows)
    return sec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the benchmarks and write the report")
    r.add_argument("--scale", default="S,M", help="comma list of XS, S, M, L (L runs a subset, see L_NOTE)")
    r.add_argument("--only", default=",".join(ALL), help=f"comma list of {', '.join(ALL)}")
    r.add_argument("--workdir", type=Path, default=None, help="parent of the scratch folder (default: /tmp)")
    r.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    r.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    r.add_argument("--dag-repetitions", type=int, default=5)
    rep = sub.add_parser("report", help="re-render the Markdown report from a results JSON file")
    rep.add_argument("--results", type=Path, required=True)
    rep.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    if args.cmd == "report":
        report.write(json.loads(args.results.read_text()), args.out, args.results)
        return 0

    scales = [s.strip().upper() for s in args.scale.split(",") if s.strip()]
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = [s for s in scales if s not in PLANS] + sorted(only - set(ALL))
    if unknown:
        parser.error(f"unknown scale or benchmark: {unknown}")
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average_start": load_average(),
        "run_date": RUN_DATE.isoformat(),
        "scales": {},
        "sections": [],
        "notes": [],
    }
    if "L" in scales:
        results["notes"].append(L_NOTE)
        print(L_NOTE, flush=True)
    base = args.workdir or Path(tempfile.gettempdir())
    root = Path(tempfile.mkdtemp(prefix="crm-bench-", dir=base))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out_json = args.results_dir / f"{started.date().isoformat()}.json"

    def checkpoint(partial: list[Section]) -> None:
        snapshot = {
            **results,
            "sections": results["sections"] + [asdict(s) for s in partial],
            "in_progress": True,
        }
        out_json.write_text(json.dumps(snapshot, indent=1, default=str, ensure_ascii=False) + "\n")

    try:
        for scale in scales:
            run_scale(scale, root, only, results, checkpoint)
            out_json.write_text(json.dumps(results, indent=1, default=str, ensure_ascii=False) + "\n")
        if "dag" in only:
            sections: list[Section] = []
            from benchmarks import dag_parse

            _guard("dag_parse", "-", lambda: dag_parse.run(args.dag_repetitions), sections)
            results["sections"] += [asdict(s) for s in sections]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    finished = datetime.now(UTC)
    results["finished"] = finished.isoformat(timespec="seconds")
    results["wall_minutes"] = round((finished - started).total_seconds() / 60, 1)
    results["load_average_end"] = load_average()
    out_json.write_text(json.dumps(results, indent=1, default=str, ensure_ascii=False) + "\n")
    report.write(results, args.out, out_json)
    errors = [f"{s['name']} [{s['scale']}]: {s['error']}" for s in results["sections"] if s.get("error")]
    print(f"\nwrote {args.out} and {out_json} in {results['wall_minutes']} min", flush=True)
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr, flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
