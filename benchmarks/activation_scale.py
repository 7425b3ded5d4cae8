"""Activation at scale: one advertising SMS campaign over a large audience, sent to the Solapi emulator.

    uv run python -m benchmarks.activation_scale --members 1000000 --max-recipients 100000 --work /tmp/act1m \\
        [--baseline-src /tmp/base] [--ledger postgresql]

The audience is ``audiences.audience_customers`` with the contract columns, made by DuckDB (``members`` rows, a
fixed mix of consents, opt-outs and invalid phones; nothing random), so the benchmark needs no generated shop or dbt
build. The Solapi emulator runs in its own process (``python -m testbed.emulators serve``). Each side runs
``plan_and_send`` in a child process on a fresh SQLite ledger and reports wall time, the run's phase timings
(planning, ledger writes, sending), peak RSS, messages accepted by the emulator and the ledger's counts by status
and reason. ``--baseline-src`` names a checkout of the code to compare with (e.g. ``git worktree add /tmp/base
<commit>``); it runs first with that checkout ahead on ``PYTHONPATH``. Both sides must give the same counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN_DATE = date(2026, 11, 22)  # a Sunday: the campaign fires Monday 10:00 KST
CAMPAIGN_ID = "bench_scale_sms"


def build_audience(warehouse: Path, members: int) -> None:
    """``members`` reachable members with a deterministic mix: every 50th opted out, every 20th without SMS consent,
    every 97th with an invalid phone, every 10th with night consent; segments G1–G4 by residue."""
    import duckdb

    from include.core.rules import audience_columns

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists audiences")
        con.execute(
            f"""
            create or replace table audiences.audience_customers as
            select
                'm' || lpad(cast(i as varchar), 8, '0') as customer_id,
                'm' || lpad(cast(i as varchar), 8, '0') as member_id,
                true as is_member,
                '고객' || cast(i as varchar) as customer_name,
                case when i % 97 = 0 then '0212345678' else '010' || lpad(cast(10000000 + i % 90000000 as varchar),
                    8, '0') end as phone,
                i % 97 <> 0 as has_valid_phone,
                'user' || cast(i as varchar) || '@example.com' as email,
                i % 20 <> 0 as consent_sms, true as consent_kakao, true as consent_email, true as consent_push,
                i % 10 = 0 as consent_night,
                timestamp '2026-01-10 12:00:00' as consent_sms_at, timestamp '2026-01-10 12:00:00' as consent_kakao_at,
                timestamp '2026-01-10 12:00:00' as consent_email_at,
                timestamp '2026-01-10 12:00:00' as consent_push_at,
                case when i % 10 = 0 then timestamp '2026-01-10 12:00:00' end as consent_night_at,
                i % 50 = 0 as is_opted_out,
                '서울특별시' as region,
                'G' || cast(1 + i % 4 as varchar) as segment,
                'second' as tier,
                '간식' as preferred_category_name, 101 as preferred_product_no, '닭가슴살 져키' as preferred_product_name,
                'SECOND' as benefit_code, 20.0 as benefit_discount_pct, '전 상품' as benefit_scope,
                date '{RUN_DATE.isoformat()}' as run_date
            from range({members}) as t(i)
            """
        )
        cols = [r[0] for r in con.execute("describe audiences.audience_customers").fetchall()]
        missing = [c for c in audience_columns() if c not in cols]
        if missing:
            raise SystemExit(f"the benchmark audience lacks contract columns {missing}")
    finally:
        con.close()


def campaigns_folder(work: Path, max_recipients: int | None) -> Path:
    folder = work / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    shipped = ROOT / "include" / "campaigns"
    settings = yaml.safe_load((shipped / "settings.yml").read_text(encoding="utf-8"))
    settings["syncs"] = []
    (folder / "settings.yml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    shutil.copy(shipped / "templates.yml", folder / "templates.yml")
    campaign: dict[str, Any] = {
        "id": CAMPAIGN_ID,
        "name": "benchmark SMS",
        "audience": {"model": "audience_customers"},
        "trigger": {"type": "schedule", "cron": "0 10 * * MON", "timezone": "Asia/Seoul"},
        "channel": "sms",
        "kind": "advertising",
        "message": {"subject": "쿠폰", "text": "#{이름}님, 이번 주 간식 쿠폰이 도착했어요 #{링크}"},
        "holdout_pct": 5,
    }
    if max_recipients:
        campaign["max_recipients"] = max_recipients
    (folder / f"{CAMPAIGN_ID}.yml").write_text(yaml.safe_dump(campaign, allow_unicode=True), encoding="utf-8")
    return folder


def start_emulator(work: Path) -> tuple[subprocess.Popen, dict[str, Any]]:
    """The Solapi emulator in its own process; returns it and its endpoints file (``urls``, ``connections``)."""
    state = work / "emu"
    endpoints = state / "endpoints.json"
    state.mkdir(parents=True, exist_ok=True)
    endpoints.unlink(missing_ok=True)
    options = {"solapi_senders": ["0212345678"], "solapi_auth_clock": "wall", "solapi_processing_delay_s": 0,
               "solapi_report_delay_s": 0, "templates_path": str(ROOT / "include" / "campaigns" / "templates.yml")}  # fmt: skip
    cmd = [sys.executable, "-m", "testbed.emulators", "serve", "--shop-dir", str(state / "shop"),
           "--state-dir", str(state / "state"), "--drops-dir", str(state / "drops"), "--apis", "solapi",
           "--now", "2026-11-23T00:00:00+09:00", "--endpoints-file", str(endpoints)]  # fmt: skip
    for key, value in options.items():
        cmd += ["--option", f"{key}={json.dumps(value, ensure_ascii=False)}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(state / "emu.log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 60
    while not endpoints.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the emulator did not start: {(state / 'emu.log').read_text()[-2000:]}")
        time.sleep(0.2)
    time.sleep(0.2)
    return proc, json.loads(endpoints.read_text())


def one_side(args: argparse.Namespace) -> int:
    """Child process: one ``plan_and_send`` on a fresh ledger; prints a JSON line."""
    from sqlalchemy import create_engine, text

    from activation.api import plan_and_send

    work = Path(args.work)
    if args.ledger == "postgresql":
        # one database per work folder and side: two runs at once never share (or drop) each other's
        tag = hashlib.sha256(str(work.resolve()).encode()).hexdigest()[:10]
        url = _fresh_pg_database(f"crm_bench_ledger_{args.label}_{tag}")
    else:
        ledger_path = work / f"ledger-{args.label}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{ledger_path}"
    ref = datetime.fromisoformat("2026-11-23T00:00:00+09:00")
    t0 = time.perf_counter()
    result = plan_and_send(RUN_DATE, reference_time=ref, run_id=f"bench-{args.label}", campaigns_dir=args.campaigns,
                           ledger_url=url, warehouse=args.warehouse)  # fmt: skip
    wall = time.perf_counter() - t0
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {f"{st}:{reason}": n for st, reason, n in conn.execute(text(
            "select status, coalesce(reason, ''), count(*) from intents group by 1, 2 order by 1, 2"))}  # fmt: skip
    engine.dispose()
    out = {
        "label": args.label,
        "ledger": args.ledger,
        "wall_s": round(wall, 2),
        "timings": getattr(result, "timings", None),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "errors": result.errors,
        "ledger_counts": counts,
    }
    print("RESULT " + json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def _fresh_pg_database(name: str) -> str:
    """An empty database on the local PostgreSQL (``CRM_BENCH_PG_ADMIN_URL``, default the trust-auth superuser)."""
    from sqlalchemy import create_engine, text

    admin_url = os.environ.get(
        "CRM_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def run_side(
    label: str, src: Path | None, work: Path, folder: Path, warehouse: Path, env: dict, ledger: str = "sqlite"
) -> dict:
    child_env = {**os.environ, **env}
    if src is not None:
        child_env["PYTHONPATH"] = str(src) + os.pathsep + child_env.get("PYTHONPATH", "")
    # the script by path: with --baseline-src the product packages (activation, include) come from that checkout
    cmd = [sys.executable, str(Path(__file__).resolve()), "one", "--label", label, "--work", str(work),
           "--campaigns", str(folder), "--warehouse", str(warehouse), "--ledger", ledger]  # fmt: skip
    proc = subprocess.run(cmd, cwd=src or ROOT, env=child_env, capture_output=True, text=True, timeout=7200)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{label} failed: {proc.stderr[-4000:]}")
    return json.loads(line[len("RESULT ") :])


def _accepted(endpoints: dict) -> int:
    import requests

    url = endpoints["urls"]["solapi"]
    stats = requests.get(url.rstrip("/") + "/_emulator/stats", timeout=30).json()["stats"]
    return sum(v for k, v in stats.items() if k.startswith("solapi.messages.accepted."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.activation_scale", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="cmd")
    one = sub.add_parser("one")
    for name in ("--label", "--work", "--campaigns", "--warehouse"):
        one.add_argument(name, required=True)
    one.add_argument("--ledger", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--max-recipients", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/crm-activation-scale"))
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--ledger", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the send ledger: a SQLite file, or a fresh database on the local PostgreSQL per side")  # fmt: skip
    args = parser.parse_args(argv)
    if args.cmd == "one":
        return one_side(args)
    args.work.mkdir(parents=True, exist_ok=True)
    warehouse = args.work / "audience.duckdb"
    t0 = time.perf_counter()
    build_audience(warehouse, args.members)
    print(f"audience of {args.members:,} members built in {time.perf_counter() - t0:.1f} s", flush=True)
    folder = campaigns_folder(args.work, args.max_recipients)
    sides = [("baseline", args.baseline_src)] if args.baseline_src else []
    sides.append(("now", None))
    results = []
    for label, src in sides:
        emu, endpoints = start_emulator(args.work / label)
        try:
            res = run_side(label, src, args.work, folder, warehouse, endpoints["connections"], args.ledger)
            res["accepted_at_emulator"] = _accepted(endpoints)
        finally:
            emu.send_signal(signal.SIGTERM)
            emu.wait(timeout=60)
        res["msgs_per_s"] = round(res["accepted_at_emulator"] / res["wall_s"]) if res["wall_s"] else None
        print(json.dumps(res, ensure_ascii=False), flush=True)
        results.append(res)
    if len(results) == 2:
        a, b = results
        same = (
            a["ledger_counts"] == b["ledger_counts"]
            and a["accepted_at_emulator"] == b["accepted_at_emulator"]
        )
        print(json.dumps({"members": args.members, "max_recipients": args.max_recipients, "ledger": args.ledger,
                          "speedup": round(a["wall_s"] / b["wall_s"], 2), "same_result": same}), flush=True)  # fmt: skip
    (args.work / "result.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
