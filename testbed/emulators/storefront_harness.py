"""A storefront emulator harness for tests, demos and benchmarks, and a check of a warehouse against the shop.

    with StorefrontHarness(shop_dir, work_dir, now, apis=("cafe24",), client={"retry_base_s": 0.05}) as h:
        os.environ.update(h.env)                      # AIRFLOW_CONN_CRM_CAFE24=... pointing at the emulator
        extract_full_history(now, destination=h.warehouse, pipelines_dir=h.dlt_dir)
        h.set_clock(now + timedelta(days=1))
        assert table_diff(h.warehouse, shop_dir, "orders", now + timedelta(days=1)) == {"missing": 0, ...}

``client`` entries are merged into each connection's extra (client-side settings such as retry backoff);
``options`` go to the emulators (``cafe24_bucket_drain_per_s`` …). :func:`table_diff` compares a raw table's
contract columns with the shop's as-of view, both ways, in DuckDB.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from include.core.contracts import STOREFRONT_TABLES
from include.core.timezone import KST
from testbed.emulators.runner import EmulatorHandle, start_emulators

CONTRACTS = {t.name: t for t in STOREFRONT_TABLES}


class StorefrontHarness:
    """Emulators over a generated shop, in a work folder with its own warehouse and dlt folder."""

    def __init__(
        self,
        shop_dir: Path,
        work_dir: Path,
        now: datetime,
        *,
        apis: tuple[str, ...] = ("cafe24",),
        options: dict[str, Any] | None = None,
        faults: str | None = None,
        client: dict[str, Any] | None = None,
    ) -> None:
        self.shop_dir = Path(shop_dir)
        self.work_dir = Path(work_dir)
        self.now, self.apis, self.faults = now, apis, faults
        self.options = dict(options or {})
        self.client = dict(client or {})
        self.handle: EmulatorHandle | None = None

    @property
    def warehouse(self) -> str:
        return str(self.work_dir / "warehouse.duckdb")

    @property
    def dlt_dir(self) -> Path:
        return self.work_dir / "dlt"

    def __enter__(self) -> StorefrontHarness:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.handle = start_emulators(
            self.shop_dir, self.work_dir / "state", self.work_dir / "drops", self.now,
            apis=self.apis, faults=self.faults, options=self.options,
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.stop()

    @property
    def env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` values with the ``client`` settings merged into each extra."""
        assert self.handle is not None
        out = {}
        for key, raw in self.handle.connection_env().items():
            conn = json.loads(raw)
            conn["extra"] = {**conn.get("extra", {}), **self.client}
            out[key] = json.dumps(conn)
        return out

    def url(self, api: str) -> str:
        assert self.handle is not None
        return self.handle.urls[api]

    def stats(self, prefix: str = "") -> dict[str, int]:
        assert self.handle is not None
        return self.handle.ctx.stats.snapshot(prefix)

    def reset_stats(self) -> None:
        assert self.handle is not None
        self.handle.ctx.stats.reset()

    def set_clock(self, now: datetime) -> None:
        assert self.handle is not None
        self.handle.ctx.clock.set(now)

    def set_faults(self, spec: str | None) -> None:
        from testbed.emulators.faults import FaultConfig

        assert self.handle is not None
        self.handle.ctx.faults = FaultConfig.parse(spec)


def table_diff(
    warehouse: str | Path, shop_dir: Path, table: str, as_of: datetime, schema: str = "raw_cafe24"
) -> dict:
    """Rows of the shop's ``table`` as of ``as_of`` missing from the warehouse, and warehouse rows not in it.

    Compares every contract column (typed; text as extraction stores it: trimmed, blank = null); returns
    ``{"expected": n, "loaded": n, "missing": n, "unexpected": n}``.
    """
    import duckdb

    from testbed.shop.store import ShopStore

    contract = CONTRACTS[table]
    expected = ShopStore(shop_dir).query_asof(table, as_of)
    cols = ", ".join(f'"{c}"' for c in contract.columns)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'Asia/Seoul'")
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        con.register("expected_rows", expected)
        loaded = f"SELECT {cols} FROM wh.{schema}.{table}"
        norm = ", ".join(
            f'NULLIF(trim("{c}"), \'\') AS "{c}"' if t == "text" else f'"{c}"'
            for c, t in contract.columns.items()
        )
        wanted = f"SELECT {norm} FROM expected_rows"
        return {
            "expected": expected.num_rows,
            "loaded": con.execute(f"SELECT count(*) FROM wh.{schema}.{table}").fetchone()[0],
            "missing": con.execute(f"SELECT count(*) FROM ({wanted} EXCEPT ALL {loaded})").fetchone()[0],
            "unexpected": con.execute(f"SELECT count(*) FROM ({loaded} EXCEPT ALL {wanted})").fetchone()[0],
        }
    finally:
        con.close()


def warehouse_snapshot(warehouse: str | Path, schema: str) -> dict[str, list[tuple]]:
    """Every table of ``schema`` as sorted rows without dlt's bookkeeping columns (to compare two runs)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name NOT LIKE '_dlt%'",
            [schema],
        ).fetchall()]  # fmt: skip
        out = {}
        for table in sorted(tables):
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "AND column_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY column_name", [schema, table],
            ).fetchall()]  # fmt: skip
            select = ", ".join(f'"{c}"' for c in cols)
            out[table] = con.execute(f'SELECT {select} FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
        return out
    finally:
        con.close()


def bench(work_dir: Path, *, customers: int = 10_000, days: int = 30, source: str = "cafe24",
          faults: str | None = None, seed: int = 42) -> dict[str, Any]:  # fmt: skip
    """Full history then one nightly increment of a generated shop through the emulator at its real call limit.

    Returns the extraction summaries plus throughput against the ceiling the call limit allows.
    """
    import os
    import time
    from datetime import timedelta

    from include.extract.storefront import extract_full_history, extract_storefront
    from testbed.shop import generate_shop

    kst = KST
    d0 = datetime(2026, 11, 20, tzinfo=kst)
    d1 = d0 + timedelta(days=1)
    shop = Path(work_dir) / "shop"
    t0 = time.perf_counter()
    generate_shop(
        shop, Path(work_dir) / "drops", customers=customers, days=days, end_date=d1.date(), seed=seed
    )
    generated = time.perf_counter() - t0
    run_dir = Path(work_dir) / f"run-{source}"
    with StorefrontHarness(shop, run_dir, d0, apis=(source,), faults=faults) as h:
        os.environ.update(h.env)
        full = extract_full_history(d0, source=source, destination=h.warehouse, pipelines_dir=h.dlt_dir)
        h.set_clock(d1)
        inc = extract_storefront(d0, d1, source=source, destination=h.warehouse, pipelines_dir=h.dlt_dir)
        limited = h.stats(f"{source}.rate_limited").get(f"{source}.rate_limited", 0)
    out: dict[str, Any] = {
        "customers": customers,
        "source": source,
        "faults": faults,
        "generate_s": round(generated, 1),
    }
    for name, summary in (("full_history", full), ("increment", inc)):
        http = summary["http"]
        # a bucket of 40 lets the first 40 calls through at once, then 2 calls/s: the fastest the run could be
        floor = max(0.0, (http["requests"] - 40) / 2.0)
        out[name] = {
            "rows": summary["rows_total"],
            "records_fetched": http["records"],
            "elapsed_s": summary["elapsed_s"],
            "records_per_s": summary["records_per_s"],
            "requests": http["requests"],
            "http_429": http["http_429"],
            "retries": http["retries"],
            "pacing_wait_s": http["pacing_wait_s"],
            "call_limit_floor_s": round(floor, 1),
            "share_of_ceiling": round(floor / summary["elapsed_s"], 2) if summary["elapsed_s"] else None,
        }
    out["server_429"] = limited
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m testbed.emulators.storefront_harness bench --customers 10000 --work /tmp/bench``."""
    import argparse
    import json as _json

    parser = argparse.ArgumentParser(prog="python -m testbed.emulators.storefront_harness")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="extraction throughput against the emulator's real call limit")
    b.add_argument("--work", type=Path, required=True)
    b.add_argument("--customers", type=int, default=10_000)
    b.add_argument("--days", type=int, default=30)
    b.add_argument("--source", choices=("cafe24", "shopify"), default="cafe24")
    b.add_argument("--faults", default=None)
    args = parser.parse_args(argv)
    result = bench(
        args.work, customers=args.customers, days=args.days, source=args.source, faults=args.faults
    )
    print(_json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
