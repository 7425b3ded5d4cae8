"""Command line of the synthetic shop.

``python -m testbed.shop generate --customers N --days D --end-date YYYY-MM-DD --seed S --shop-dir P --drops-dir P
[--chunk-members K]``;
``bench-store --shop-dir P --as-of ISO`` (as-of query latency); ``load-snapshot --shop-dir P --as-of ISO
--destination FILE|URL`` (the shop as of an instant into the warehouse, with throughput).
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date, datetime
from pathlib import Path

from include.core.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Parses arguments and runs the requested command; prints the manifest summary as JSON."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m testbed.shop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate the synthetic shop and its event drops")
    gen.add_argument("--customers", type=int, default=10_000, help="number of members (default 10000)")
    gen.add_argument("--days", type=int, default=90, help="days of events ending on --end-date (default 90)")
    gen.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 22), help="last KST day")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--shop-dir", type=Path, default=settings.shop, help="Parquet tables (default CRM_SHOP_DIR)"
    )
    gen.add_argument("--drops-dir", type=Path, default=Path(settings.event_drops), help="event drops folder")
    gen.add_argument(
        "--chunk-members",
        type=int,
        default=None,
        help="members generated at a time (bounds memory; the shop is the same for any value)",
    )
    bench = sub.add_parser("bench-store", help="latency of typical as-of queries")
    bench.add_argument("--shop-dir", type=Path, default=settings.shop)
    bench.add_argument(
        "--as-of", type=datetime.fromisoformat, required=True, help="e.g. 2026-11-22T00:00:00+09:00"
    )
    load = sub.add_parser("load-snapshot", help="load the shop as of an instant into the warehouse (dlt)")
    load.add_argument("--shop-dir", type=Path, default=settings.shop)
    load.add_argument(
        "--as-of", type=datetime.fromisoformat, required=True, help="e.g. 2026-11-22T00:00:00+09:00"
    )
    load.add_argument(
        "--destination", default=None, help="DuckDB file or postgresql:// URL (default: warehouse)"
    )
    load.add_argument("--pipelines-dir", type=Path, default=None)
    load.add_argument("--write-disposition", choices=("merge", "replace"), default="merge")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command in ("bench-store", "load-snapshot"):
        from testbed.shop.store import ShopStore

        store = ShopStore(args.shop_dir)
        if args.command == "bench-store":
            from testbed.shop.bench import bench_store

            result = bench_store(store, args.as_of)
        else:
            from testbed.shop.snapshot import load_snapshot

            result = load_snapshot(
                store,
                args.as_of,
                args.destination,
                pipelines_dir=args.pipelines_dir,
                write_disposition=args.write_disposition,
            )
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0

    from testbed.shop.generator import DEFAULT_CHUNK_MEMBERS, generate_shop

    manifest = generate_shop(
        args.shop_dir,
        args.drops_dir,
        customers=args.customers,
        days=args.days,
        end_date=args.end_date,
        seed=args.seed,
        chunk_members=args.chunk_members or DEFAULT_CHUNK_MEMBERS,
    )
    summary = {k: manifest[k] for k in ("params", "rows", "events", "timing_seconds", "peak_rss_mb")}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
