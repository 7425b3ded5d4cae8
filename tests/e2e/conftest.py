"""The main job, for real: ``python -m testbed.demo`` (what ``make demo`` runs) in a private data folder with a
private Airflow home, run twice for the same date. Session-scoped: the tests of this folder read its outputs."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_DATE = date(2026, 11, 22)
CUSTOMERS = 600
DAYS = 40
APIS = ("cafe24", "shopify", "solapi", "channeltalk", "webhook")


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    fingerprint: dict[str, list[str]]
    result: dict


@dataclass
class Demo:
    root: Path
    env: dict[str, str]
    secrets: list[str]
    first: DemoRun
    second: DemoRun

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "runs" / DATA_DATE.isoformat()

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


def fingerprint(warehouse: Path) -> dict[str, list[str]]:
    """Row count and an order-independent hash of every dbt-built table (load-time columns excluded)."""
    import duckdb

    # load_id: the raw row's dlt load id, carried by the incremental models as a watermark
    skip = {"dbt_updated_at", "dbt_valid_from", "dbt_valid_to", "dbt_scd_id", "load_id"}
    out: dict[str, list[str]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            "and table_schema in ('staging', 'intermediate', 'marts', 'audiences') order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            if f"{schema}.{table}" == "intermediate.int_events_this_run":
                continue  # the per-run change set of the event history: what that run wrote, by design
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in skip and not c.startswith("_dlt")
            ]
            expr = ", ".join(f'"{c}"' for c in cols)
            n, h = con.execute(
                f'select count(*), coalesce(sum(hash({expr})), 0) from "{schema}"."{table}"'
            ).fetchone()
            out[f"{schema}.{table}"] = [str(n), str(h)]
    return out


def _run_demo(env: dict[str, str], log: Path) -> DemoRun:
    # one night keeps the suite short; the demo's default of two nights only adds the night before
    cmd = [sys.executable, "-m", "testbed.demo", "--date", DATA_DATE.isoformat(), "--nights", "1",
           "--customers", str(CUSTOMERS), "--days", str(DAYS)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    data = Path(env["CRM_DATA_DIR"])
    result_file = data / "runs" / DATA_DATE.isoformat() / "demo_result.json"
    result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    wh = data / "warehouse.duckdb"
    return DemoRun(proc.returncode, proc.stdout, fingerprint(wh) if wh.exists() else {}, result)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    root = tmp_path_factory.mktemp("e2e")
    airflow_home = root / "airflow"
    airflow_home.mkdir()
    env = {
        **os.environ,
        "CRM_DATA_DIR": str(root / "data"),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(ROOT),
    }
    # fixed per-session emulator credentials so the log scan knows every secret that existed
    secret_values: list[str] = []
    for api in APIS:
        key, secret = secrets.token_hex(8).upper(), secrets.token_hex(16)
        env[f"CRM_EMULATOR_{api.upper()}_KEY"] = key
        env[f"CRM_EMULATOR_{api.upper()}_SECRET"] = secret
        secret_values += [key, secret]
    airflow = str(Path(sys.executable).with_name("airflow"))
    for args in (["db", "migrate"], ["pools", "import", str(ROOT / "include" / "airflow" / "pools.json")]):
        proc = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    first = _run_demo(env, root / "demo_first.log")
    second = _run_demo(env, root / "demo_second.log")
    return Demo(root, env, secret_values, first, second)
