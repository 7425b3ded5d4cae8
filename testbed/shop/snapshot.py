"""Snapshots of the sample shop in export shape: what a shop's admin export would hold as of an instant.

:func:`export_snapshot` writes the shop as CSV/Parquet files (Korean admin headers optional), the input of the file
import; :func:`load_snapshot` hands the same tables straight to :func:`include.extract.file_import.load_tables`
(what dbt tests and benchmarks use, 1M-customer scale).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from include.extract.file_import import COLUMN_MAP, TABLES, load_tables
from testbed.shop.store import ShopStore


def _asof_param(as_of: datetime) -> datetime:
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (e.g. 2026-11-23 00:00 KST)")
    return as_of


def snapshot_tables(store: ShopStore, as_of: datetime) -> dict[str, pa.Table]:
    """Every storefront table as of ``as_of`` as Arrow (contract columns, TIMESTAMPTZ)."""
    con = store.connect()
    try:
        return {
            name: con.sql(
                f"SELECT * FROM {name}_asof(CAST($ts AS TIMESTAMPTZ))", params={"ts": _asof_param(as_of)}
            ).to_arrow_table()
            for name in TABLES
        }
    finally:
        con.close()


def snapshot_batches(store: ShopStore, as_of: datetime, batch_rows: int) -> Iterator[dict[str, pa.Table]]:
    """The tables of :func:`snapshot_tables` streamed in pieces of ``batch_rows`` rows (over all tables; the last
    piece is smaller).

    DuckDB produces the as-of rows as the pieces are taken, so memory holds one piece, not the shop.
    """
    con = store.connect()
    try:
        pending: dict[str, list[pa.RecordBatch]] = {}
        rows = 0
        for name in TABLES:
            rel = con.sql(
                f"SELECT * FROM {name}_asof(CAST($ts AS TIMESTAMPTZ))", params={"ts": _asof_param(as_of)}
            )
            for batch in rel.to_arrow_reader(batch_rows):
                while batch.num_rows:
                    take = min(batch.num_rows, batch_rows - rows)
                    pending.setdefault(name, []).append(batch.slice(0, take))
                    rows, batch = rows + take, batch.slice(take)
                    if rows == batch_rows:
                        yield {n: pa.Table.from_batches(b) for n, b in pending.items()}
                        pending, rows = {}, 0
        if pending:
            yield {n: pa.Table.from_batches(b) for n, b in pending.items()}
    finally:
        con.close()


def export_snapshot(
    store: ShopStore, as_of: datetime, out_dir: Path, fmt: str = "parquet", *, korean_headers: bool = False
) -> dict[str, Path]:
    """Writes ``<table>.parquet`` or ``<table>.csv`` per storefront table, the shop as of ``as_of``.

    CSV timestamps are KST strings ``YYYY-MM-DDTHH:MM:SS+09:00`` like the Cafe24 API; ``korean_headers`` writes
    admin-export headers (the first Korean name of :data:`COLUMN_MAP` per column) to exercise the mapping.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError("fmt must be 'parquet' or 'csv'")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    con = store.connect()
    paths: dict[str, Path] = {}
    try:
        for name, contract in TABLES.items():
            korean = {}
            for k, v in COLUMN_MAP[name].items():
                korean.setdefault(v, k)
            cols = []
            for col, dtype in contract.columns.items():
                alias = korean.get(col, col) if korean_headers else col
                expr = col
                if fmt == "csv" and dtype == "timestamp":
                    expr = f"strftime({col}, '%Y-%m-%dT%H:%M:%S') || '+09:00'"
                cols.append(f'{expr} AS "{alias}"')
            path = out_dir / f"{name}.{fmt}"
            opts = "(FORMAT PARQUET, COMPRESSION ZSTD)" if fmt == "parquet" else "(FORMAT CSV, HEADER)"
            con.execute(
                f"COPY (SELECT {', '.join(cols)} FROM {name}_asof(CAST($ts AS TIMESTAMPTZ))) TO '{path}' {opts}",
                {"ts": _asof_param(as_of)},
            )
            paths[name] = path
    finally:
        con.close()
    return paths


def load_snapshot(
    store: ShopStore,
    as_of: datetime,
    destination: Any = None,
    *,
    pipelines_dir: Path | None = None,
    pipeline_name: str = "shop_snapshot",
    write_disposition: str = "merge",
    batch_rows: int | None = None,
) -> dict:
    """The shop as of ``as_of`` merged into ``raw_cafe24`` (export + import, Arrow end to end); see
    :func:`include.extract.file_import.load_tables` for ``write_disposition`` and the returned counts (``seconds``
    here includes reading the snapshot from the shop).

    ``batch_rows``: load in pieces of that many rows (one dlt load each, merged), so memory holds one piece
    instead of the whole shop; counts are summed and ``batches`` says how many loads it took. Pieces need
    ``merge`` (each ``replace`` would drop the rows of the one before).
    """
    if batch_rows is not None and write_disposition != "merge":
        raise ValueError("a snapshot loaded in batches must be merged (write_disposition='merge')")
    started = time.perf_counter()
    kwargs = {
        "pipelines_dir": pipelines_dir,
        "pipeline_name": pipeline_name,
        "write_disposition": write_disposition,
    }
    if batch_rows is None:
        out = load_tables(snapshot_tables(store, as_of), destination, **kwargs)
        out["batches"] = 1
    else:
        out = {"loaded": {}, "quarantined": {}, "loaded_total": 0, "quarantined_total": 0, "load_id": None,
               "reasons": {}, "batches": 0}  # fmt: skip
        for tables in snapshot_batches(store, as_of, batch_rows):
            part = load_tables(tables, destination, **kwargs)
            for key in ("loaded", "quarantined"):
                for table, n in part[key].items():
                    out[key][table] = out[key].get(table, 0) + n
            for table, reasons in part["reasons"].items():
                merged = out["reasons"].setdefault(table, {})
                for reason, n in reasons.items():
                    merged[reason] = merged.get(reason, 0) + n
            out["loaded_total"] += part["loaded_total"]
            out["quarantined_total"] += part["quarantined_total"]
            out["load_id"] = part["load_id"]
            out["batches"] += 1
    seconds = time.perf_counter() - started
    out["seconds"] = round(seconds, 3)
    out["rows_per_second"] = round(out["loaded_total"] / seconds) if seconds else None
    return out
