"""Cost of the quality gates (wall time per gate call) at 10k and 1M customers.

Builds a synthetic warehouse per size (:mod:`testbed.synthetic`: eight nightly loads, dbt-shaped marts), then
times each gate: the raw gate on a nightly batch (this run's load ids) and on a first run's batch (every load: the
whole history), the marts gate, and the send-list gate on a list of 10 % of the customers. Prints a Markdown table
(copied into docs/quality.md).

    uv run python benchmarks/gx_cost.py                       # 10k and 1M customers
    uv run python benchmarks/gx_cost.py --customers 10000     # one size
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

os.environ["GX_ANALYTICS_ENABLED"] = "False"

DATA_DATE = date(2026, 11, 22)


def _send_list(warehouse: Path, share: float = 0.1):
    import duckdb
    import pandas as pd

    from testbed.synthetic import KST

    with duckdb.connect(str(warehouse), read_only=True) as con:
        df = con.execute(
            "select customer_id, phone as recipient, consent_sms, consent_night from marts.dim_customers "
            "where regexp_full_match(coalesce(phone, ''), '^01[016789][0-9]{7,8}$') and hash(customer_id) % 100 < ?",
            [int(share * 100)],
        ).df()
    n = len(df)
    return pd.DataFrame(
        {
            "campaign_id": "g3_repurchase",
            "customer_id": df.customer_id,
            "channel": "sms",
            "message_kind": "advertising",
            "recipient": df.recipient,
            "has_channel_consent": True,
            "consent_night": df.consent_night,
            "planned_send_at": pd.Timestamp("2026-11-23 10:00", tz=KST),
            "is_opted_out": False,
            "is_holdout": False,
            "is_control": False,
            "text": "(광고)멍냥마켓\n#{이름}님 재구매 10% 쿠폰\n무료수신거부 080-123-4567",
        }
    ), {"g3_repurchase": {"expected_min": None, "expected_max": None, "max_recipients": n + 1}}


def measure(n_customers: int, workdir: Path) -> list[dict]:
    """Builds the warehouse for ``n_customers`` and times every gate once; returns one row per measurement."""
    from expectations import run_marts_gate, run_raw_gate, validate_send_list
    from testbed.synthetic import KST, build_marts, build_raw_warehouse

    path = workdir / f"warehouse_{n_customers}.duckdb"
    path.unlink(missing_ok=True)
    t = time.perf_counter()
    wh = build_raw_warehouse(path, DATA_DATE, n_customers)
    build_marts(path, DATA_DATE)
    build_s = time.perf_counter() - t
    ref = datetime(2026, 11, 23, tzinfo=KST)
    reports = workdir / "reports"
    rows = []

    def timed(label: str, fn):
        t0 = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - t0
        batch = sum(result.counts.get("rows", {}).values())
        rows.append(
            {
                "customers": n_customers,
                "gate": label,
                "rows": batch,
                "checks": result.counts["evaluated"],
                "status": result.status,
                "wall_s": wall,
                "gx_s": result.counts.get("gx_seconds", 0.0),
            }
        )
        print(
            f"  {label:<28} {wall:7.2f} s  ({batch:,} rows, {result.counts['evaluated']} checks, {result.status})"
        )

    print(f"{n_customers:,} customers (warehouse built in {build_s:.1f} s)")
    timed(
        "raw (nightly batch)",
        lambda: run_raw_gate(
            path, DATA_DATE, "bench", wh.run_load_ids(), reference_time=ref, report_dir=reports
        ),
    )
    every = {s: list(wh.load_ids.values()) for s in ("raw_cafe24", "raw_events", "raw_messaging")}
    timed(
        "raw (first run: all history)",
        lambda: run_raw_gate(path, DATA_DATE, "bench", every, reference_time=ref, report_dir=reports),
    )
    timed("marts", lambda: run_marts_gate(path, DATA_DATE, "bench", reference_time=ref, report_dir=reports))
    df, campaigns = _send_list(path)
    timed(
        "send list (10 % of customers)",
        lambda: validate_send_list(df, campaigns, DATA_DATE, "bench", reference_time=ref, report_dir=reports),
    )
    return rows


def _first_call(workdir: Path) -> float:
    """Wall time of the first raw gate call of a process on a tiny warehouse (GX registries, caches)."""
    from expectations import run_raw_gate
    from testbed.synthetic import KST, build_raw_warehouse

    wh = build_raw_warehouse(workdir / "warmup.duckdb", DATA_DATE, 1000)
    t = time.perf_counter()
    run_raw_gate(
        wh.path,
        DATA_DATE,
        "warmup",
        wh.run_load_ids(),
        reference_time=datetime(2026, 11, 23, tzinfo=KST),
        report_dir=workdir,
    )
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the warehouses go (default: a temp dir)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the rows as JSON (make bench reads it)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    t = time.perf_counter()
    import great_expectations  # noqa: F401  (import cost reported on its own)

    import_s = time.perf_counter() - t
    print(f"import great_expectations: {import_s:.1f} s (once per task process)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        first_s = _first_call(workdir)
        print(f"first gate call in a process (GX set-up, 1k customers): {first_s:.1f} s")
        rows = [r for n in args.customers for r in measure(n, workdir)]
    if args.json:
        import json

        args.json.write_text(json.dumps({"import_s": import_s, "first_call_s": first_s, "rows": rows}))
    print("\n| customers | gate | rows validated | checks | wall time | of which GX |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['customers']:,} | {r['gate']} | {r['rows']:,} | {r['checks']} | {r['wall_s']:.2f} s | {r['gx_s']:.2f} s |"
        )


if __name__ == "__main__":
    main()
