"""``crm import`` and ``crm build``: a shop's export files into the warehouse, then its marts, with no Python.

    crm import exports/ [--source cafe24|shopify|files] [--mapping mapping.yml] [--table T] [--events PATH]
                        [--cut-off TIMESTAMP | --no-mark] [--currency USD] [--build [--date D]] [--json]
    crm build --date 2026-11-22

The work is in :mod:`pipeline.onboarding`; this module parses the arguments, shows progress (a bar on a terminal,
one line per file otherwise, on stderr) and prints the summary (stdout). Exit status: 0 ok; 1 a file could not be
imported, the build failed, or more rows were quarantined than ``--max-quarantined`` allows; 2 bad usage (a path,
a table, a mapping, a timestamp), nothing written. Guide: docs/import.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

EPILOG = """\
Files are matched to tables by name: customers*, orders*, order_items*, products*, reviews*, subscriptions*
(.csv/.tsv/.txt, .parquet, .jsonl); events*/clickstream* files and --events paths are the event history.
Headers may be Cafe24's Korean admin-export headers, a Shopify admin export, the contract's own names, or any
names given in --mapping (YAML: {table: {their header: contract column}}).

Rows that cannot be stored exactly (an amount with more decimals than the currency, an unreadable date, a missing
required value, a key twice) are quarantined with file, line and reason in raw_quarantine.records and listed in
data/imports/quarantine-<load>.csv; nothing is rounded. Importing the same files again changes nothing.

Exit status: 0 ok, 1 a file could not be imported / build failed / too many rows quarantined, 2 bad usage.

Example (from a fresh clone):
  ./scripts/bootstrap.sh
  uv run crm import ~/exports/ --build
Guide: docs/import.md"""


def _timestamp(value: str) -> datetime:
    """An ISO date or timestamp; without an offset it is read in the shop's time zone."""
    from zoneinfo import ZoneInfo

    from include.core.timezone import TIMEZONE

    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO date or timestamp: {value!r} (e.g. 2026-11-22T23:59:59+09:00)"
        ) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=ZoneInfo(TIMEZONE))


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _percent(value: str) -> float:
    try:
        pct = float(value)
    except ValueError:
        pct = -1.0
    if not 0 <= pct <= 100:
        raise argparse.ArgumentTypeError(f"a percentage between 0 and 100: {value!r}")
    return pct


def register(sub: Any) -> None:
    """Adds ``import`` and ``build`` to ``crm``'s subcommands."""
    p = sub.add_parser(
        "import",
        help="import a shop's export files (storefront tables, event history), then optionally build the marts",
        description=(
            "Imports customers, orders, order items, products, reviews, subscriptions and event history from "
            "export files into the warehouse (creating the raw schema), prints rows landed and quarantined per "
            "table with the reasons, and marks the storefront API as loaded up to the cut-off so the nightly "
            "increments continue from there."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="FOLDER_OR_FILE", help="export folder(s) or files")
    p.add_argument(
        "--source",
        choices=["cafe24", "shopify", "files"],
        help="storefront API that continues from the cut-off (default CRM_STOREFRONT, else cafe24); "
        "'files' marks nothing. The file shape (Cafe24/Shopify/plain) is detected per file",
    )
    p.add_argument(
        "--mapping", metavar="YAML", help="column mapping {table: {their header: contract column}}"
    )
    p.add_argument("--table", help="the table every given file holds (else from each file name)")
    p.add_argument(
        "--events", action="append", default=[], metavar="PATH",
        help="event history: a file, a folder of files, or a folder of daily dt=YYYY-MM-DD/ drops (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--cut-off", type=_timestamp, metavar="TIMESTAMP",
        help="how far the export reaches (ISO; naive = shop time zone). Default: the latest "
        "updated/created/order/payment timestamp among the imported rows",
    )  # fmt: skip
    p.add_argument("--no-mark", action="store_true", help="do not mark the API history as loaded")
    p.add_argument(
        "--no-gate", action="store_true",
        help="skip the raw quality gate on the imported rows (default: run it; failing rows are quarantined)",
    )  # fmt: skip
    p.add_argument("--currency", help="the shop's currency (default: dbt var shop_currency)")
    p.add_argument("--encoding", help="text encoding of every CSV (default: detected per file)")
    p.add_argument(
        "--max-quarantined", type=_percent, default=0.0, metavar="PCT",
        help="exit status 1 when more than PCT %% of the rows read are quarantined (default 0: any row)",
    )  # fmt: skip
    p.add_argument("--build", action="store_true", help="then build the marts (dbt build) for --date")
    p.add_argument("--date", type=_date, help="data date of --build (default: the cut-off's day)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import)

    b = sub.add_parser(
        "build",
        help="build every dbt model and test for a data date (what the nightly's dbt step does)",
        description="Runs dbt build for the data date against the configured warehouse; the raw schema is "
        "created first if it is missing. Exit status 0 ok, 1 a model or test failed.",
    )
    b.add_argument("--date", type=_date, required=True, help="data date D (YYYY-MM-DD)")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.set_defaults(func=cmd_build)


class _Progress:
    """A bar over the files on a terminal (stderr), else one plain line per file."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="file", desc="reading", file=sys.stderr, leave=False)

    def __call__(self, path: Path, table: str, rows: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{path.name} → {table} ({rows:,} rows)")
            self.bar.update(1)
        else:
            print(f"read {path.name} → {table}: {rows:,} rows", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _quiet(args: argparse.Namespace) -> None:
    """Without ``-v``, dlt's schema notices and the per-table quarantine warnings stay out of the way: the summary
    reports them (masked) once."""
    import logging
    import os

    if not getattr(args, "verbose", False):
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # dlt reads it when it sets its logger up
        for name in ("dlt", "include.extract", "crm.quality"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_import(args: argparse.Namespace) -> int:
    from include.core.settings import get_settings
    from pipeline import onboarding

    _quiet(args)
    if args.no_mark and args.cut_off:
        return _usage("--cut-off and --no-mark exclude each other")
    if args.date and not args.build:
        return _usage("--date is the date of --build; add --build")
    source = args.source or get_settings().storefront
    try:
        plan = onboarding.plan_import(args.paths, table=args.table, events=args.events, mapping=args.mapping)
    except onboarding.UsageError as exc:
        return _usage(str(exc))
    progress = _Progress(len(plan.storefront))
    _say(f"importing {len(plan.storefront)} storefront file(s), {len(plan.events)} event path(s) "
         f"into {get_settings().warehouse}")  # fmt: skip
    try:
        summary = onboarding.run_import(
            plan, source=source, cut_off=args.cut_off, mark=not args.no_mark, currency=args.currency,
            encoding=args.encoding, on_file=progress, gate=not args.no_gate,
        )  # fmt: skip
    except onboarding.UsageError as exc:
        progress.close()
        return _usage(str(exc))
    except ValueError as exc:
        progress.close()
        print(f"crm import: {exc}\nnothing of this import was loaded; fix the file and run the same command again",
              file=sys.stderr)  # fmt: skip
        return 1
    progress.close()
    status = 0
    if summary.get("gate", {}).get("status") == "FAIL":
        summary["status"] = "the quality gate failed on the imported rows (see gate.failures and its report)"
        status = 1
    read = summary["landed_total"] + summary["quarantined_total"]
    share = 100 * summary["quarantined_total"] / read if read else 0.0
    if share > args.max_quarantined and not status:
        summary["status"] = (
            f"{summary['quarantined_total']} of {read} rows quarantined ({share:.1f} %, more than "
            f"--max-quarantined {args.max_quarantined:g} %)"
        )
        status = 1
    if args.build:
        day = args.date or onboarding.default_build_date(summary["cut_off"])
        if day is None:
            return _usage("--build needs --date: the imported rows carry no timestamp to take the date from")
        _say(f"building the marts for {day} (dbt build) …")
        try:
            summary["build"] = {**onboarding.build_marts(day), **_marts_counts()}
        except RuntimeError as exc:
            summary["build"] = {"date": day.isoformat(), "error": str(exc)[-3000:]}
            status = 1
    summary.setdefault("status", "ok" if status == 0 else "failed")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    else:
        _print_summary(summary)
    return status


def cmd_build(args: argparse.Namespace) -> int:
    from pipeline import onboarding

    _quiet(args)
    _say(f"building the marts for {args.date} (dbt build) …")
    try:
        result = {**onboarding.build_marts(args.date), **_marts_counts()}
    except RuntimeError as exc:
        print(f"crm build: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        print(f"built the marts for {result['date']} in {result['seconds']} s: "
              + ", ".join(f"{k} {v:,}" for k, v in result["rows"].items()))  # fmt: skip
    return 0


def _marts_counts() -> dict[str, Any]:
    """Rows of the main marts after a build (what a user checks first)."""
    import duckdb

    from include.core.settings import get_settings

    out: dict[str, int] = {}
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as con:
        for name in ("dim_customers", "fct_orders", "customer_segments"):
            found = con.execute(
                "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?",
                [name],
            ).fetchone()[0]
            if found:
                out[name] = con.execute(f'select count(*) from marts."{name}"').fetchone()[0]
    return {"rows": out}


def _usage(message: str) -> int:
    print(f"crm import: {message}", file=sys.stderr)
    return 2


def _print_summary(s: dict[str, Any]) -> None:
    print(f"=== crm import · {s['landed_total']:,} rows landed · {s['quarantined_total']:,} quarantined ===")
    width = max([len(t) for t in s["tables"]] + [5])
    for table, row in sorted(s["tables"].items()):
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(row["reasons"].items()))
        line = f"  {table:<{width}}  landed {row['landed']:>9,}  quarantined {row['quarantined']:>7,}"
        print(line + (f"  ({reasons})" if reasons else ""))
    ignored = (s.get("storefront") or {}).get("ignored_columns") or {}
    for file, cols in ignored.items():
        print(f"  {file}: columns not loaded: {', '.join(cols)}")
    q = s["quarantine"]
    if q.get("records"):
        notes = q["records"] - q["rows"]
        print(f"quarantine  {q['rows']:,} rows not loaded"
              + (f" + {notes:,} notes on loaded rows (quality gate)" if notes > 0 else "")
              + f": {q['table']}" + (f"; list: {q['csv']}" if q.get("csv") else ""))  # fmt: skip
        for ex in q["examples"]:
            print(f"  {ex['table']}: {ex['reason']}")
    gate = s.get("gate")
    if gate:
        line = f"quality     raw gate {gate['status']}" + (
            f" ({gate['reason']})" if gate.get("reason") else ""
        )
        moved = ", ".join(f"{t} {n}" for t, n in sorted(gate.get("moved", {}).items()) if n)
        print(line + (f"; moved to the quarantine: {moved}" if moved else ""))
        for f in gate.get("failures", [])[:10]:
            print(f"  {f['severity']}: {f['reason']}")
        for report in gate.get("reports", []):
            print(f"  report: {report}")
    cut = s["cut_off"]
    if cut.get("value"):
        print(f"cut-off     {cut['value']} ({cut['from']})")
    marks = s["marks"]
    if marks.get("skipped"):
        print(f"API state   not marked: {marks['skipped']}")
    else:
        until = sorted({v for v in marks["covered_until"].values() if v})
        print(f"API state   {marks['source']} resources marked loaded until {', '.join(until)}: "
              "the nightly run reads only what changed after it")  # fmt: skip
    build = s.get("build")
    if build:
        if build.get("error"):
            print(f"build       FAILED for {build['date']}:\n{build['error']}")
        else:
            print(f"build       marts for {build['date']} in {build['seconds']} s: "
                  + ", ".join(f"{k} {v:,}" for k, v in build["rows"].items()))  # fmt: skip
    for warning in s.get("warnings", []):
        print(f"warning     {warning}")
    print(f"status      {s['status']}")
