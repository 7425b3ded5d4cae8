"""Where a night's dbt time goes at any shop size: the nightly ``dbt run`` vs a full refresh, model by model.

Section 3 of ``make bench`` runs the same comparison at the fixed scale points; this command picks any member count
and event history (a size between S and M shows the incremental design at work in minutes instead of M's hour):

    uv run python -m benchmarks.nightly_profile --members 200000 --days 90 --work /tmp/nightly_profile

It generates the shop (seed 42, data date 2026-11-22), loads the raw layer as of the end of D−1, builds the first
night (``dbt seed`` + ``dbt run`` for D−1; kept as ``first.duckdb`` so a rerun skips all of this), loads the night of
D and runs both sides on copies of the same warehouse (``benchmarks.incremental.run_point``): the nightly run and
``dbt run --full-refresh``. Prints both wall times, the ratio, whether every model table is identical, and the
per-model seconds of both runs.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from benchmarks import incremental, shop_setup
from benchmarks.common import RUN_DATE, copy_warehouse, print_table, run_results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.nightly_profile", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--members", type=int, required=True)
    ap.add_argument("--days", type=int, default=90, help="days of event history")
    ap.add_argument(
        "--work", type=Path, required=True, help="scratch folder (keeps the first night for reruns)"
    )
    ap.add_argument("--top", type=int, default=25, help="models listed")
    args = ap.parse_args(argv)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    day_before = incremental.previous_day(RUN_DATE)
    shop, drops, first = work / "shop", work / "drops", work / "first.duckdb"
    if not first.exists():
        print_table("generator", [shop_setup.generate(shop, drops, args.members, args.days, RUN_DATE)])
        raw = work / "raw.duckdb"
        load = shop_setup.load_child(shop, drops, raw, day_before, history=True, bulk_events=True)
        print_table(f"raw layer as of the end of {day_before}", [load])
        built, setup = incremental.build_first_night(raw, work, day_before)
        print_table("first night (set-up)", [setup])
        shutil.move(built, first)
        raw.unlink()
    point = work / "night"
    shutil.rmtree(point, ignore_errors=True)
    built = copy_warehouse(first, point / "nightly.duckdb")
    row = incremental.run_point(shop, drops, built, point, "custom", args.days, RUN_DATE, with_build=False)
    print_table(
        f"{args.members:,} members, {args.days} event days: nightly run vs full refresh",
        [{k: row[k] for k in ("events_in_warehouse", "incremental_run_s", "full_refresh_run_s", "speedup",
                              "incremental_nodes_s", "full_refresh_nodes_s", "tables_identical")}],
    )  # fmt: skip
    inc = incremental.model_seconds(run_results(point / "inc"))
    full = incremental.model_seconds(run_results(point / "full"))
    top = sorted(full, key=lambda m: -full[m])[: args.top]
    print_table(
        "seconds per model (dbt threads run several at once)",
        [
            {"model": m, "nightly_s": round(inc.get(m, 0.0), 2), "full_refresh_s": round(full[m], 2)}
            for m in top
        ],
    )
    built.unlink()
    return 0 if not row["differing"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
