"""Helpers of the dbt tests: a generated shop loaded into a warehouse, a ledger export, dbt runs, table reads.

The raw layer is filled the way the nightly run fills it (``load_snapshot`` of the synthetic shop as of the end of a
data date, ``load_event_drops`` for the drop folders), into a DuckDB file or a PostgreSQL database. dbt runs as a
subprocess of this interpreter's ``dbt`` with its own target/log folders, so parallel runs never share state.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
KST = ZoneInfo("Asia/Seoul")
END = date(2026, 11, 22)
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"

# Everything a dbt build writes, by schema (raw_* is the input).
OUTPUT_SCHEMAS = ("staging", "intermediate", "marts", "audiences")


def pg_url(db: str) -> str:
    """Connection URL of a local PostgreSQL database (trust auth)."""
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{db}"


def load_raw(
    destination: Path | str, shop_dir: Path, drops_dir: Path, data_date: date, lookback_days: int
) -> None:
    """Loads the shop as of the end of ``data_date`` and its event drops into the raw tables of ``destination``.

    Args:
        destination: a DuckDB file path or a ``postgresql://`` URL.
        shop_dir: the generated shop's tables.
        drops_dir: the generated event drop folders.
        data_date: the data date D (the shop is seen as of D+1 00:00 KST).
        lookback_days: drop folders before D to read too.
    """
    from include.extract.bootstrap import ensure_raw_tables_duckdb, ensure_raw_tables_postgres
    from include.extract.events import load_event_drops
    from testbed.shop.snapshot import load_snapshot
    from testbed.shop.store import ShopStore

    dest = str(destination)
    is_pg = dest.startswith("postgresql://")
    if is_pg:
        ensure_raw_tables_postgres(dest)
    else:
        ensure_raw_tables_duckdb(dest)
    state = Path(f"{dest}.dlt") if not is_pg else shop_dir.parent / f"dlt_{dest.rsplit('/', 1)[-1]}"
    as_of = datetime.combine(data_date + timedelta(days=1), time(0), KST)
    load_snapshot(ShopStore(shop_dir), as_of, destination=dest, pipelines_dir=state)
    load_event_drops(
        str(drops_dir), data_date, destination=dest, lookback_days=lookback_days, pipelines_dir=state
    )


def run_dbt(
    args: Sequence[str],
    *,
    run_date: date | None,
    workdir: Path,
    warehouse: Path | None = None,
    pg_db: str | None = None,
    extra_vars: dict[str, Any] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Runs ``dbt <args>`` on the project for ``run_date`` against a DuckDB file or a PostgreSQL database."""
    env = os.environ.copy()
    env.update(
        CRM_DBT_TARGET="postgres" if pg_db else "duckdb",
        DBT_TARGET_PATH=str(workdir / "target"),
        DBT_LOG_PATH=str(workdir / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        DBT_USE_COLORS="False",
        DO_NOT_TRACK="1",
    )
    if warehouse is not None:
        env["CRM_WAREHOUSE_PATH"] = str(warehouse)
    if pg_db is not None:
        env.update(CRM_PG_HOST=PG_HOST, CRM_PG_PORT=str(PG_PORT), CRM_PG_USER="postgres", CRM_PG_DBNAME=pg_db)
    variables = {**({"run_date": run_date.isoformat()} if run_date else {}), **(extra_vars or {})}
    cmd = [str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    cmd += ["--vars", json.dumps(variables)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[1:3])} failed with {proc.returncode}:\n{_failures(proc.stdout)}")
    return proc


def _failures(stdout: str) -> str:
    lines = stdout.splitlines()
    keep = [ln for ln in lines if "ERROR" in ln or "FAIL" in ln or "Error" in ln]
    return "\n".join(keep[-40:] + lines[-25:])


# dbt build without data tests and unit tests (the parity tests compare tables, not rules)
BUILD_MODELS = ["build", "--exclude", "resource_type:test", "resource_type:unit_test"]


# ----------------------------------------------------------------------------------------------- ledger export


def write_send_log(con: Any, paramstyle: str, data_date: date = END, seed: int = 11) -> int:
    """Writes a deterministic activation-ledger export into ``raw_messaging.send_log`` and its Solapi reports.

    Two campaigns like the shipped ones: an A/B FriendTalk coupon (goal purchase, 7 days) run weekly, and an AlimTalk
    review request (goal review, 7 days) run daily; each with holdout, global control, suppressed and failed
    intents, SMS fallbacks and pending reports. Recipients are members of ``raw_cafe24.customers``.

    Args:
        con: an open DB-API connection (DuckDB or psycopg) whose raw tables exist.
        paramstyle: ``qmark`` (DuckDB) or ``format`` (psycopg).
        data_date: the last data date; campaign runs are before it.
        seed: randomness of the assignment.

    Returns:
        The number of intents written.
    """
    cur = con.cursor()
    cur.execute("select member_id, cellphone from raw_cafe24.customers order by member_id")
    members = [(m, "".join(ch for ch in (p or "") if ch.isdigit())) for m, p in cur.fetchall()]
    rng = random.Random(seed)
    runs = [("g2_time_limited_coupon", "purchase", "friendtalk", "CTA", 13.0, 150, ["A", "B"], data_date - timedelta(d))
            for d in (15, 8, 2)]  # fmt: skip
    runs += [("review_request_3d", "review", "alimtalk", "ATA", 7.5, 25, ["A"], data_date - timedelta(d))
             for d in range(2, 12)]  # fmt: skip
    intents: list[tuple] = []
    reports: list[tuple] = []
    for campaign, goal, channel, mtype, cost, size, variants, run in runs:
        send_at = datetime.combine(run + timedelta(days=1), time(10 if goal == "purchase" else 14), KST)
        for member, phone in rng.sample(members, size):
            key = f"{campaign}:{run.isoformat()}:{member}:main"
            intent_id = hashlib.sha256(key.encode()).hexdigest()[:32]
            u = rng.random()
            variant, holdout, control, status, reason = rng.choice(variants), False, False, "delivered", None
            if u < 0.05:
                control, status, reason = True, "control", "control_group"
            elif u < 0.15:
                holdout, status, reason = True, "holdout", "holdout"
            elif u < 0.22:
                status, reason = (
                    "suppressed",
                    rng.choice(["no_consent", "invalid_contact", "global_frequency_cap"]),
                )
            sent = status == "delivered"
            code, replacement = None, None
            if sent:
                r = rng.random()
                code = "4000" if r < 0.85 else ("3104" if r < 0.93 else "3000")
                status = {"4000": "delivered", "3104": "failed", "3000": "accepted"}[code]
                replacement = code == "4000" and rng.random() < 0.2
            message_id = f"M{intent_id[:20].upper()}" if sent else None
            updated = send_at + timedelta(hours=1)
            intents.append((
                intent_id, key, f"scheduled__{run.isoformat()}", run, campaign, "main", member, member,
                channel, "solapi", "advertising" if goal == "purchase" else "informational", mtype, variant,
                control, holdout, 100, status, reason, send_at, send_at if sent else None,
                cost if sent else 0.0, goal, 7, message_id, code, replacement, 1 if sent else 0,
                send_at - timedelta(hours=10), updated, send_at if sent else None,
            ))  # fmt: skip
            if sent:
                custom = json.dumps({"campaign_id": campaign, "variant": variant, "customer_id": member,
                                     "run_date": run.isoformat(), "idempotency_key": key})  # fmt: skip
                reports.append((
                    message_id, f"G{run.strftime('%Y%m%d')}{campaign[:4]}", "SMS" if replacement else mtype,
                    phone, "0212345678", code, "ok" if code == "4000" else "not delivered",
                    send_at, send_at, updated, updated, bool(replacement), custom,
                ))  # fmt: skip
    cols = ("intent_id, idempotency_key, run_id, run_date, campaign_id, step, customer_id, member_id, channel, "
            "destination, message_kind, message_type, variant, is_control, is_holdout, priority, status, reason, "
            "planned_send_at, sent_at, cost_krw, goal_event, attribution_days, message_id, provider_status_code, "
            "replacement, attempts, created_at, updated_at, send_at")  # fmt: skip
    mark = "?" if paramstyle == "qmark" else "%s"
    cur.executemany(f"insert into raw_messaging.send_log ({cols}) values ({', '.join([mark] * 30)})", intents)
    rcols = ('message_id, group_id, type, "to", "from", status_code, status_message, date_created, '
             "date_processed, date_reported, date_updated, replacement, custom_fields")  # fmt: skip
    cur.executemany(
        f"insert into raw_messaging.message_reports ({rcols}) values ({', '.join([mark] * 13)})", reports
    )
    con.commit()
    return len(intents)


# ----------------------------------------------------------------------------------------------- table reads


def _norm(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else value.normalize()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def fetch(con: Any, sql: str) -> list[tuple]:
    """Rows of a query, values normalised for comparison across engines, sorted."""
    cur = con.cursor() if hasattr(con, "cursor") else con
    cur.execute(sql)
    rows = [tuple(_norm(v) for v in row) for row in cur.fetchall()]
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))


def columns(con: Any, schema: str, table: str) -> list[str]:
    """Column names of a table in ordinal order."""
    cur = con.cursor()
    cur.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position".replace("%s", "?" if _is_duckdb(con) else "%s"),
        (schema, table),
    )
    return [r[0] for r in cur.fetchall()]


def _is_duckdb(con: Any) -> bool:
    return type(con).__module__.startswith("duckdb") or "duckdb" in type(con).__module__


def assert_same_rows(left: Iterable[tuple], right: Iterable[tuple], what: str, rel_tol: float = 1e-9) -> None:
    """Same multiset of rows; floats equal within ``rel_tol`` (summation order may differ between engines)."""
    left, right = list(left), list(right)
    assert len(left) == len(right), f"{what}: {len(left)} rows vs {len(right)} rows"
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        assert len(a) == len(b), f"{what}: row {i} has {len(a)} vs {len(b)} values"
        for j, (x, y) in enumerate(zip(a, b, strict=True)):
            if isinstance(x, float) or isinstance(y, float):
                ok = (
                    x is not None
                    and y is not None
                    and math.isclose(float(x), float(y), rel_tol=rel_tol, abs_tol=1e-9)
                )
                ok = ok or (x is None and y is None)
                assert ok, f"{what}: row {i} column {j}: {x!r} != {y!r}\n{a}\n{b}"
            else:
                assert x == y, f"{what}: row {i} column {j}: {x!r} != {y!r}\n{a}\n{b}"
