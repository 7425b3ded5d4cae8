"""Generating the benchmark shops and filling a warehouse's raw layer from them, each step measured.

``generate`` runs the project's generator in a child process (wall time, peak RSS); the generator works a chunk of
members at a time, so its memory does not grow with the shop. ``load`` fills the raw layer as of the end of a data
date with the project's loaders (``load_snapshot`` for the storefront tables, ``load_event_drops`` for the event
drops) in a child process and reports their throughput. The snapshot is streamed: the as-of rows are loaded in
pieces of :data:`SNAPSHOT_BATCH_ROWS` (one merge each), so the load never holds the whole shop (13M rows took
~13 GB at 1M members in one piece). From 1M members the event *history* (50M events, 91 drop folders) is
bulk-inserted by DuckDB instead (:func:`bulk_load_events`), one drop folder at a time: the dlt loader takes ~20 µs
per event (~17 minutes for the history), which the hour-long budget of ``make bench`` cannot hold. The bulk path
writes the same contract columns (the dlt loader's own parse SQL, ``from_json`` per line) and the nightly day is
still loaded by ``load_event_drops``; the XS smoke test checks that both paths give identical rows.

    python -m benchmarks.shop_setup load --shop-dir S --drops-dir D --warehouse W --date 2026-11-21 --history
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import as_of, python_child

# DuckDB's memory for the bulk insert (beyond it, it spills to disk next to the warehouse): a few drop folders at a
# time need little; the duplicate check over the whole history is a grouped count
BULK_MEMORY_LIMIT = "2GB"
BULK_GROUP_FILES = 4
# Rows per dlt load of the snapshot: 1M-row pieces peaked at 4.1 GB at M (validation, dlt's normalize, the merge;
# 13 GB for the 13M rows in one piece), whatever the shop's size. Each piece is a merge into the rows loaded
# before it, so smaller pieces cost time: 14 pieces took 384 s at M against 91–174 s for one load (load average
# 5–8 against 1–5, 2026-12-07).
SNAPSHOT_BATCH_ROWS = 1_000_000
BULK_LOAD_ID = "0000000000.000001"  # sorts before every dlt load id (epoch seconds), like an older load


def generate(
    shop_dir: Path, drops_dir: Path, customers: int, days: int, end_date: date, seed: int = 42
) -> dict:
    """Runs the generator in a child process; returns wall time, peak RSS and the manifest's row counts."""
    m = python_child(
        "testbed.shop", "generate", "--customers", str(customers), "--days", str(days),
        "--end-date", end_date.isoformat(), "--seed", str(seed),
        "--shop-dir", str(shop_dir), "--drops-dir", str(drops_dir),
    ).check("shop generation")  # fmt: skip
    manifest = json.loads((shop_dir / "manifest.json").read_text())
    return {
        "customers": customers,
        "days": days,
        "wall_s": round(m.wall_s, 1),
        "max_rss_mb": round(m.max_rss_mb),
        **{k: v for k, v in manifest["rows"].items() if k in ("orders", "order_items")},
        "events": manifest["events"],
        "shop_gib": round(sum(p.stat().st_size for p in shop_dir.rglob("*") if p.is_file()) / 1024**3, 2),
        "drops_gib": round(sum(p.stat().st_size for p in drops_dir.rglob("*") if p.is_file()) / 1024**3, 2),
    }


def bulk_load_events(warehouse: Path, drops_dir: Path, first_day: date, last_day: date) -> dict:
    """Inserts every event of the drop folders ``first_day..last_day`` into ``raw_events.events`` with DuckDB.

    Same columns and parse as :func:`include.extract.events.read_drops` (``from_json`` with the loader's field
    types), one row per ``insert_id`` (earliest drop wins), stamped with one old-looking load id. A few drop
    folders per statement (:func:`_drop_groups`, deduplicated inside), then one pass drops the later copies of an
    ``insert_id`` that came in two groups. Meant for an empty table (the benchmark's history); the nightly days
    then go through the real loader.
    """
    import duckdb

    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from include.extract.events import _FIELDS

    ensure_raw_tables_duckdb(str(warehouse))
    root = str(drops_dir).rstrip("/") + "/"
    t0 = time.perf_counter()
    n_files = 0
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = '{BULK_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{warehouse}.tmp'")
        for files in _drop_groups(drops_dir, first_day, last_day):
            n_files += len(files)
            con.execute(
                f"""
                INSERT INTO raw_events.events BY NAME
                WITH lines AS (
                    SELECT content AS line, replace(filename, ?, '') AS drop_file
                    FROM read_csv(?, columns = {{'content': 'VARCHAR'}}, header = false, delim = '\\x01',
                                  quote = '', escape = '', filename = true, compression = 'gzip')
                ), parsed AS (
                    SELECT from_json(line, '{json.dumps(_FIELDS)}') AS j, drop_file FROM lines
                ), typed AS (
                    SELECT coalesce(j."$insert_id", j.insert_id) AS insert_id, j.event_type,
                           CAST(j.event_time || '+00' AS TIMESTAMPTZ) AS event_time, j.user_id, j.device_id,
                           CAST(j.session_id AS BIGINT) AS session_id, j.platform, j.city,
                           CAST(j.event_properties AS VARCHAR) AS event_properties,
                           CAST(regexp_extract(drop_file, 'dt=([0-9-]+)', 1) AS DATE) AS drop_date, drop_file
                    FROM parsed
                )
                SELECT *, '{BULK_LOAD_ID}' AS _dlt_load_id, md5(insert_id)[:14] AS _dlt_id FROM typed
                QUALIFY row_number() OVER (PARTITION BY insert_id ORDER BY drop_date, drop_file) = 1
                """,
                [root, files],
            )
        # an insert_id seen in two drop folders keeps the earliest one (the generator never repeats one; real
        # exports re-send late batches)
        con.execute(
            """
            DELETE FROM raw_events.events AS e USING (
                SELECT insert_id, min(drop_date) AS first_drop FROM raw_events.events
                GROUP BY insert_id HAVING count(*) > 1
            ) AS d
            WHERE e.insert_id = d.insert_id AND e.drop_date > d.first_drop
            """
        )
        n = con.execute("SELECT count(*) FROM raw_events.events").fetchone()[0]
    finally:
        con.close()
    seconds = time.perf_counter() - t0
    if not n_files:
        return {"loaded": 0, "seconds": 0.0, "files": 0}
    return {"loaded": int(n), "seconds": round(seconds, 1), "files": n_files,
            "rows_per_second": round(n / seconds) if seconds else None}  # fmt: skip


def _drop_groups(drops_dir: Path, first_day: date, last_day: date) -> list[list[str]]:
    """The gzipped drop files of ``first_day..last_day``, consecutive days grouped to at least
    :data:`BULK_GROUP_FILES` files: DuckDB reads a gzip file on one thread, so a statement needs a few of them to
    use every core, while a group stays a few days of events (its dedupe window fits in memory)."""
    groups: list[list[str]] = []
    current: list[str] = []
    day = first_day
    while day <= last_day:
        current += sorted(str(p) for p in (drops_dir / f"dt={day.isoformat()}").glob("*.jsonl.gz"))
        day += timedelta(days=1)
        if len(current) >= BULK_GROUP_FILES:
            groups.append(current)
            current = []
    return groups + [current] if current else groups


def load(
    shop_dir: Path, drops_dir: Path, warehouse: Path, data_date: date, *, history: bool, bulk_events: bool
) -> dict[str, Any]:
    """Fills the raw layer as of the end of ``data_date`` (in this process); returns loader throughputs.

    ``history``: every drop folder up to ``data_date`` (a first load); otherwise ``data_date`` and the day
    before (a nightly run). ``bulk_events`` loads a history with :func:`bulk_load_events`.
    """
    import logging

    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from include.extract.events import load_event_drops
    from testbed.shop.snapshot import load_snapshot
    from testbed.shop.store import ShopStore

    logging.basicConfig(level=logging.WARNING)
    ensure_raw_tables_duckdb(str(warehouse))
    state = Path(f"{warehouse}.dlt")
    store = ShopStore(shop_dir, customers_in_memory=False)  # one pass over them: no need to hold 10M members
    snap = load_snapshot(
        store,
        as_of(data_date),
        destination=str(warehouse),
        pipelines_dir=state,
        batch_rows=SNAPSHOT_BATCH_ROWS,
    )
    store.close()
    out: dict[str, Any] = {
        "snapshot_rows": snap["loaded_total"],
        "snapshot_s": snap["seconds"],
        "snapshot_rows_per_s": snap["rows_per_second"],
        "snapshot_batches": snap["batches"],
        "warehouse_gb_after_snapshot": round(warehouse.stat().st_size / 1e9, 2),
    }
    days = sorted(p.name[3:] for p in drops_dir.glob("dt=*"))
    first = date.fromisoformat(days[0]) if days else data_date
    t0 = time.perf_counter()
    if history and bulk_events:
        ev = bulk_load_events(warehouse, drops_dir, first, data_date)
        out.update(events_rows=ev["loaded"], events_s=ev["seconds"], events_path="duckdb bulk insert")
    else:
        lookback = (data_date - first).days if history else 1
        ev = load_event_drops(
            str(drops_dir), data_date, destination=str(warehouse), lookback_days=max(lookback, 0),
            pipelines_dir=state,
        )  # fmt: skip
        out.update(events_rows=ev["loaded_total"], events_s=round(time.perf_counter() - t0, 1),
                   events_path="load_event_drops (dlt)")  # fmt: skip
    out["events_rows_per_s"] = round(out["events_rows"] / out["events_s"]) if out["events_s"] else None
    return out


def load_child(
    shop_dir: Path, drops_dir: Path, warehouse: Path, data_date: date, *, history: bool, bulk_events: bool
) -> dict[str, Any]:
    """:func:`load` in a measured child process; adds its wall time and peak RSS."""
    args = ["load", "--shop-dir", str(shop_dir), "--drops-dir", str(drops_dir), "--warehouse", str(warehouse),
            "--date", data_date.isoformat()]  # fmt: skip
    if history:
        args.append("--history")
    if bulk_events:
        args.append("--bulk-events")
    m = python_child("benchmarks.shop_setup", *args).check("raw load")
    out = json.loads(m.stdout.strip().splitlines()[-1])
    out.update(wall_s=round(m.wall_s, 1), max_rss_mb=round(m.max_rss_mb))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shop_setup")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ld = sub.add_parser("load")
    ld.add_argument("--shop-dir", type=Path, required=True)
    ld.add_argument("--drops-dir", type=Path, required=True)
    ld.add_argument("--warehouse", type=Path, required=True)
    ld.add_argument("--date", type=date.fromisoformat, required=True)
    ld.add_argument("--history", action="store_true")
    ld.add_argument("--bulk-events", action="store_true")
    args = parser.parse_args(argv)
    out = load(args.shop_dir, args.drops_dir, args.warehouse, args.date, history=args.history,
               bulk_events=args.bulk_events)  # fmt: skip
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
