"""The main job on embedded defaults: a sample shop, local API emulators, the nightly DAG and the campaigns it triggers.

``python -m testbed.demo --date 2026-11-22`` (what ``make demo`` runs):
1. generates the sample shop (Parquet tables + event drops) unless the same one is already there;
2. starts the API emulators (Cafe24, Shopify, Solapi, Channel Talk, webhook) on loopback with fresh random credentials,
   handed to Airflow only through ``AIRFLOW_CONN_*`` variables of the child process;
3. runs ``crm_nightly`` for the data date, then every campaign DAG due for it, with Airflow's ``DAG.test`` in one process
   (SQLite metadata DB, DuckDB warehouse, SQLite send ledger);
4. stops the emulators, leaves Airflow quiet (:func:`leave_airflow_quiet`: every DAG paused, no queued asset event, so
   ``make airflow-ui`` afterwards shows the demo's runs without starting new ones) and prints a summary and where the
   outputs are.
Running it twice for the same date rebuilds the same tables and sends nothing the second time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from include.core.settings import REPO_ROOT, get_settings
from include.core.timezone import KST

DEFAULT_DATE = date(2026, 11, 22)
HORIZON_DAYS = 7  # the shop is generated a week past the date so the following nights can be run too


def _print(msg: str = "") -> None:
    print(msg, flush=True)


def ensure_shop(customers: int, days: int, seed: int, data_date: date) -> dict:
    """Generates the shop unless one with the same parameters covering ``data_date`` exists (else starts over)."""
    st = get_settings()
    manifest_path = st.shop / "manifest.json"
    end_date = max(DEFAULT_DATE, data_date) + timedelta(days=HORIZON_DAYS)
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        p = manifest.get("params", {})
        same = (p.get("customers"), p.get("days"), p.get("seed")) == (customers, days, seed)
        if same and date.fromisoformat(p["end_date"]) >= data_date:
            return manifest
        _print(
            f"[demo] the sample shop in {st.data_dir} has other parameters: starting over with a fresh data folder"
        )
        reset_data_dir()
    from testbed.shop import generate_shop

    _print(
        f"[demo] generating the sample shop: {customers:,} members, {days} days up to {end_date} (seed {seed})"
    )
    return generate_shop(
        st.shop, Path(st.event_drops), customers=customers, days=days, end_date=end_date, seed=seed
    )


def reset_data_dir() -> None:
    """Removes every artifact of earlier runs (warehouse, ledger, emulator state, dlt state, runs, shop)."""
    st = get_settings()
    if st.data_dir.exists():
        shutil.rmtree(st.data_dir)
    st.data_dir.mkdir(parents=True, exist_ok=True)


class Emulators:
    """The emulators as a child process (``python -m testbed.emulators serve``) with an endpoints file."""

    def __init__(self, now: datetime, faults: str | None, log_path: Path) -> None:
        st = get_settings()
        self.state_dir = st.data_dir / "emulators"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.endpoints = self.state_dir / "endpoints.json"
        self.endpoints.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "testbed.emulators",
            "serve",
            "--shop-dir",
            str(st.shop),
            "--state-dir",
            str(self.state_dir),
            "--drops-dir",
            str(st.event_drops),
            "--now",
            now.isoformat(),
            "--endpoints-file",
            str(self.endpoints),
            # signatures are checked against real time (they are about the network), the shop against the sim clock
            "--option",
            "solapi_auth_clock=wall",
            # Channel Talk publishes no rate limit; the emulator's default (10/s) makes a first full sync of 10k
            # members take 17 minutes, so the demo assumes 200/s (the client paces itself to whatever is advertised)
            "--option",
            "channeltalk_rate_limit=200",
        ]
        if faults:
            cmd += ["--faults", faults]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        deadline = time.monotonic() + 60
        while not self.endpoints.is_file():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulators did not start; see {log_path}")
            time.sleep(0.1)
        info = json.loads(self.endpoints.read_text())
        self.urls: dict[str, str] = info["urls"]
        self.connections: dict[str, str] = info["connections"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


def run_plan(plan: list[dict], env: dict[str, str], log_path: Path) -> list[dict]:
    """Runs DAGs in one Airflow child process (see :mod:`pipeline.dagrun`); streams its log to a file."""
    plan_file = log_path.with_suffix(".plan.json")
    plan_file.write_text(json.dumps(plan, indent=2))
    results = []
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.dagrun", str(plan_file)],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=REPO_ROOT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith("DAGRUN "):
                r = json.loads(line[7:])
                results.append(r)
                mark = "ok " if r["state"] == "success" else "FAILED"
                extra = f"  failed: {', '.join(r['failed_tasks'])}" if r["failed_tasks"] else ""
                _print(f"[demo]   {mark} {r['dag_id']} ({r['seconds']} s){extra}")
        proc.wait()
    return results


def campaign_plan(data_date: date, emulator_urls: dict[str, str]) -> list[dict]:
    """One DAG run per campaign due for the data date, in send-time order, each with the emulators' clock set to its time."""
    from activation.api import campaigns_due
    from activation.config import load_config

    config = load_config(get_settings().campaigns_dir)
    triggered_ref = datetime.combine(data_date + timedelta(days=1), dtime(0, 0), tzinfo=KST)
    plan = []
    for due in campaigns_due(data_date):
        campaign = config.campaign(due["campaign_id"])
        if campaign.trigger.type == "schedule":
            logical = datetime.fromisoformat(due["send_at"])
            conf = None
        else:
            logical, conf = triggered_ref, {"data_date": data_date.isoformat()}
        plan.append(
            {
                "dag_id": f"crm_campaign__{campaign.id}",
                "logical_date": logical.isoformat(),
                "conf": conf,
                "emulator_clock": logical.isoformat(),
                "emulator_urls": emulator_urls,
            }
        )
    return sorted(plan, key=lambda e: e["logical_date"])


def _fmt_counts(d: dict[str, Any]) -> str:
    return " · ".join(f"{k} {v:,}" for k, v in d.items()) if d else "-"


def print_summary(data_date: date, summary: dict, sends: dict, nightly_ok: bool, second: bool) -> None:
    st = get_settings()
    rel = lambda p: os.path.relpath(p, REPO_ROOT)  # noqa: E731
    run_dir = st.run_dir(data_date.isoformat())
    rows = summary.get("rows_extracted", {})
    storefront = {k.split(".", 1)[1]: v for k, v in rows.items() if k.startswith("storefront.")}
    _print()
    _print(f"=== CRM nightly · data date {data_date} · {'OK' if nightly_ok else 'FAILED'} ===")
    _print(f"extracted   storefront {sum(storefront.values()):,} rows ({_fmt_counts(storefront)})")
    _print(f"            events {rows.get('events', 0):,} · messaging reports "
           f"{sum(v for k, v in rows.items() if k.startswith('messaging.')):,}")  # fmt: skip
    q = summary.get("quality", {})
    _print(f"quality     raw gate {q.get('raw_gate')} · marts gate {q.get('marts_gate')}")
    _print(f"segments    {_fmt_counts(summary.get('segments', {}))}")
    _print(f"tiers       {_fmt_counts(summary.get('tiers', {}))}")
    auds = {k.removeprefix("audience_"): v for k, v in summary.get("audiences", {}).items() if v is not None}
    _print(f"audiences   {_fmt_counts(auds)}")
    new = sends.get("new_sent", 0)
    _print(
        f"messages    {new:,} accepted by the messaging provider during this run"
        + (" (a rerun sends nothing twice)" if second else "")
        + f" · ledger for {data_date}: {_fmt_counts(sends.get('by_status', {}))}"
    )
    for cid, c in sorted(sends.get("campaigns", {}).items()):
        _print(f"            {cid}: {_fmt_counts(c)}")
    _print("outputs")
    for label, path in [
        ("report", run_dir / "report.html"),
        ("audiences", run_dir / "audiences"),
        ("quality", run_dir / "quality"),
        ("dbt docs", run_dir / "dbt_docs" / "static_index.html"),
        ("warehouse", st.warehouse),
        ("ledger", st.ledger.removeprefix("sqlite:///")),
        ("logs", run_dir / "logs"),
    ]:
        _print(f"  {label:<10} {rel(path)}{'' if Path(path).exists() else '  (not written)'}")


def emulator_accepted(urls: dict[str, str]) -> int:
    """Messages the Solapi emulator accepted since it started (the provider's own count, not the ledger's)."""
    import requests

    resp = requests.get(
        f"{urls['solapi']}/_emulator/stats", params={"prefix": "solapi.messages.accepted"}, timeout=10
    )
    resp.raise_for_status()
    counts = resp.json()
    counts = counts.get("stats", counts) if isinstance(counts, dict) else {}
    return sum(int(v) for k, v in counts.items() if k.startswith("solapi.messages.accepted"))


def run_night(
    data_date: date, emulators: Emulators, env: dict[str, str], log: Path, campaigns: bool
) -> list[dict]:
    """crm_nightly for one data date, then the campaign DAGs due for it (only when the nightly succeeded)."""
    reference = datetime.combine(data_date + timedelta(days=1), dtime(0, 0), tzinfo=KST)
    _print(f"[demo] crm_nightly for {data_date} (Airflow log: {os.path.relpath(log, REPO_ROOT)})")
    nightly = [
        {
            "dag_id": "crm_nightly",
            "logical_date": reference.isoformat(),
            "emulator_clock": reference.isoformat(),
            "emulator_urls": emulators.urls,
        }
    ]
    results = run_plan(nightly, env, log)
    if not results or results[0]["state"] != "success":
        _print("[demo] the nightly run failed: no campaign runs (bad data never reaches a customer)")
        return results
    if campaigns:
        plan = campaign_plan(data_date, emulators.urls)
        _print(f"[demo] {len(plan)} campaign DAG(s) due for {data_date}")
        results += run_plan(plan, env, log)
    return results


_QUIET = """
import json
from sqlalchemy import delete, update
from airflow.models.asset import AssetDagRunQueue
from airflow.models.dag import DagModel
from airflow.utils.session import create_session
with create_session() as session:
    paused = session.execute(update(DagModel).where(DagModel.is_paused.is_(False)).values(is_paused=True)).rowcount
    cleared = session.execute(delete(AssetDagRunQueue)).rowcount
print(json.dumps({"paused": paused, "cleared": cleared}))
"""


def leave_airflow_quiet(env: dict[str, str]) -> dict[str, int]:
    """Pauses every DAG the demo registered and drops the asset events still queued for triggered campaigns.

    ``DAG.test`` registers the DAGs unpaused and the nightly's ``crm_audiences`` event queues a run of every triggered
    campaign; a scheduler started later (``make airflow-ui``) would then start those runs, and scheduled runs for
    wall-clock dates the demo never built. The demo is a look at one date, not a deployment: see the README's "From the
    demo to a scheduled deployment" for unpausing.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _QUIET], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        _print(f"[demo] could not pause the DAGs: {proc.stderr.strip().splitlines()[-1:]}")
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, default=DEFAULT_DATE, help="data date (KST day)")
    parser.add_argument(
        "--nights",
        type=int,
        default=2,
        help="run the nights before --date too (campaign results need a past)",
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90, help="days of history")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--faults", default=None, help="emulator fault spec, e.g. 'rate=0.1;kinds=429,503,reset'"
    )
    parser.add_argument("--fresh", action="store_true", help="delete data/ first")
    parser.add_argument("--no-campaigns", action="store_true", help="run only the nightly DAG")
    args = parser.parse_args(argv)

    st = get_settings()
    if args.fresh:
        reset_data_dir()
    started = time.perf_counter()
    ensure_shop(args.customers, args.days, args.seed, args.date)
    nights = [args.date - timedelta(days=k) for k in range(max(args.nights, 1) - 1, -1, -1)]
    run_dir = st.run_dir(args.date.isoformat())
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    second = (run_dir / "summary.json").is_file()

    from pipeline.summary import ledger_counts

    first_ref = datetime.combine(nights[0] + timedelta(days=1), dtime(0, 0), tzinfo=KST)
    _print(f"[demo] starting the API emulators (simulated clock {first_ref.isoformat()})")
    emulators = Emulators(first_ref, args.faults, logs / "emulators.log")
    results: list[dict] = []
    try:
        env = {**os.environ, **emulators.connections}
        # Cosmos keeps dbt's partial-parse cache in /tmp/cosmos by default, shared by every project on the machine;
        # each data folder gets its own so two pipelines never swap caches under each other
        env.setdefault("AIRFLOW__COSMOS__CACHE_DIR", str(st.data_dir / "cosmos_cache"))
        for night in nights:
            night_results = run_night(night, emulators, env, logs / "airflow.log", not args.no_campaigns)
            results += night_results
            if not night_results or night_results[0]["state"] != "success":
                break
        accepted = emulator_accepted(emulators.urls)
    finally:
        emulators.stop()
    quiet = leave_airflow_quiet({k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")})
    if quiet:
        _print(f"[demo] Airflow left quiet: {quiet['paused']} DAG(s) paused, {quiet['cleared']} queued asset "
               "event(s) dropped (README: from the demo to a scheduled deployment)")  # fmt: skip

    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    by_status: dict[str, int] = {}
    per_campaign = ledger_counts(args.date.isoformat())
    for by in per_campaign.values():
        for s, n in by.items():
            by_status[s] = by_status.get(s, 0) + n
    sends = {"new_sent": accepted, "by_status": dict(sorted(by_status.items())), "campaigns": per_campaign}
    nightly_ok = any(r["dag_id"] == "crm_nightly" and r["state"] == "success" and r["logical_date"].startswith(
        (args.date + timedelta(days=1)).isoformat()) for r in results)  # fmt: skip
    print_summary(args.date, summary, sends, nightly_ok, second)
    all_ok = bool(results) and all(r["state"] == "success" for r in results)
    _print(
        f"[demo] finished in {time.perf_counter() - started:.0f} s" + ("" if all_ok else " with FAILED runs")
    )
    (run_dir / "demo_result.json").write_text(
        json.dumps(
            {"runs": results, "sends": sends, "ok": all_ok, "nights": [str(n) for n in nights]},
            indent=2,
            default=str,
        )  # fmt: skip
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
