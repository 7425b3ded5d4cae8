"""A real small warehouse for the output tests, built once per session in tmp:

synthetic shop (1,000 members, 45 days) → storefront snapshot + event drops through the extraction loaders → two weeks
of campaign history in ``raw_messaging`` (tests/outputs/campaign_history.py) → ``dbt build`` with a 21-day backfill
(so segment history exists) → the real raw and marts quality gates (``quality.gate_results``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]

KST = ZoneInfo("Asia/Seoul")
DATA_DATE = date(2026, 11, 22)
RUN_ID = "scheduled__2026-11-22T15:00:00+00:00"
CUSTOMERS = 1000
DAYS = 45
BACKFILL_DAYS = 21


@dataclass(frozen=True)
class Built:
    """The session's warehouse and what went into it."""

    root: Path
    warehouse: Path
    data_date: date
    run_id: str
    quality_dir: Path
    history: dict[str, int]


def run_dbt(warehouse: Path, run_date: date, work: Path, *, backfill_start: date | None = None) -> None:
    """``dbt build`` of the project into ``warehouse`` (target and logs under ``work``, never in the repo)."""
    vars_ = f"{{run_date: '{run_date.isoformat()}'"
    vars_ += f", backfill_start_date: '{backfill_start.isoformat()}'}}" if backfill_start else "}"
    project = ROOT / "dbt_project"
    env = {
        **os.environ,
        "CRM_WAREHOUSE_PATH": str(warehouse),
        "CRM_DBT_TARGET": "duckdb",
        "CRM_DBT_THREADS": "2",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }
    dbt = Path(sys.executable).parent / "dbt"
    cmd = [
        str(dbt),
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        vars_,
        # unit tests are the dbt suite's concern (tests/dbt) and need the incremental models to exist first
        "--exclude-resource-type",
        "unit_test",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-40:])
        raise RuntimeError(f"dbt build failed ({done.returncode}):\n{tail}\n{done.stderr[-2000:]}")


def build_warehouse(
    root: Path, *, customers: int = CUSTOMERS, days: int = DAYS, campaigns: bool = True
) -> Built:
    """The whole chain into ``root/warehouse.duckdb`` (see the module docstring)."""
    from campaign_history import add_campaign_history

    from expectations import run_marts_gate, run_raw_gate
    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from include.extract.events import load_event_drops
    from testbed.shop import ShopStore, generate_shop
    from testbed.shop.snapshot import load_snapshot

    warehouse = root / "warehouse.duckdb"
    generate_shop(root / "shop", root / "drops", customers=customers, days=days, end_date=DATA_DATE, seed=7)
    ensure_raw_tables_duckdb(warehouse)
    interval_end = datetime.combine(DATA_DATE + timedelta(days=1), time(0), KST)
    load_snapshot(ShopStore(root / "shop"), interval_end, destination=warehouse, pipelines_dir=root / "dlt")
    load_event_drops(
        str(root / "drops"),
        DATA_DATE,
        destination=warehouse,
        lookback_days=days - 1,
        pipelines_dir=root / "dlt",
    )
    history = add_campaign_history(warehouse, DATA_DATE) if campaigns else {}
    run_dbt(warehouse, DATA_DATE, root, backfill_start=DATA_DATE - timedelta(days=BACKFILL_DAYS))
    quality_dir = root / "runs" / DATA_DATE.isoformat() / "quality"
    run_raw_gate(warehouse, DATA_DATE, RUN_ID, None, reference_time=interval_end, report_dir=quality_dir)
    run_marts_gate(warehouse, DATA_DATE, RUN_ID, reference_time=interval_end, report_dir=quality_dir)
    return Built(root, warehouse, DATA_DATE, RUN_ID, quality_dir, history)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    return build_warehouse(tmp_path_factory.mktemp("outputs"))


@pytest.fixture
def wh_copy(built: Built, tmp_path: Path) -> Path:
    """A private copy of the session warehouse for a test that changes it."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse, path)
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = ROOT / "artifacts" / "report"
    path.mkdir(parents=True, exist_ok=True)
    return path
