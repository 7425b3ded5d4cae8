"""Command line for the nightly outputs (what the DAG's tasks call, by hand).

    python -m outputs export --date 2026-11-22 [--warehouse W] [--out DIR] [--contact-mode mask|hash|plain]
    python -m outputs report --date 2026-11-22 --run-id manual__1 [--warehouse W] [--out FILE]

Defaults come from :mod:`include.core.settings` (``CRM_*`` env vars): the warehouse file, ``runs/<D>/`` for the files.
Prints a JSON summary (with the seconds taken and, for the report, its size).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from include.core.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m outputs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("export", "report"):
        p = sub.add_parser(name)
        p.add_argument("--date", required=True, type=date.fromisoformat, help="data date YYYY-MM-DD")
        p.add_argument("--warehouse", type=Path, help="DuckDB warehouse (default: settings)")
        p.add_argument("--out", type=Path, help="runs folder (export) or HTML file (report)")
    sub.choices["export"].add_argument("--contact-mode", default="mask", choices=("mask", "hash", "plain"))
    sub.choices["export"].add_argument("--campaigns", type=Path, help="campaigns folder (default: settings)")
    sub.choices["report"].add_argument("--run-id", default="manual", help="run id shown on the page")
    sub.choices["report"].add_argument("--quality-dir", type=Path, help="folder of the gates' HTML reports")
    args = parser.parse_args(argv)
    st = get_settings()
    warehouse = args.warehouse or st.warehouse
    started = time.perf_counter()
    if args.command == "export":
        from outputs.exports import export_audiences

        out = export_audiences(warehouse, args.date, args.out or st.runs, contact_mode=args.contact_mode,
                               campaigns=args.campaigns)  # fmt: skip
    else:
        from outputs.report import build_report

        target = args.out or st.run_dir(args.date.isoformat()) / "report.html"
        quality = args.quality_dir or st.run_dir(args.date.isoformat()) / "quality"
        path = build_report(warehouse, args.date, args.run_id, target, quality_dir=quality)
        out = {
            "report": str(path),
            "report_json": str(path.parent / "report.json"),
            "bytes": path.stat().st_size,
        }
    out["seconds"] = round(time.perf_counter() - started, 3)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
