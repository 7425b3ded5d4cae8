"""Solapi message reports extraction against the Solapi emulator after a few real (signed) sends."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas  # noqa: F401  the emulator's thread imports it lazily while dlt probes sys.modules from this one
import pytest
import requests

os.environ.setdefault(
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false"
)  # dlt would import Airflow to look for secrets

from include.core.solapi_auth import HmacSigner  # noqa: E402
from include.extract.messaging import extract_message_reports  # noqa: E402
from testbed.emulators.runner import start_emulators  # noqa: E402

pytestmark = pytest.mark.integration

KST = ZoneInfo("Asia/Seoul")
D0 = datetime(2026, 11, 20, tzinfo=KST)
SENT_AT = D0 + timedelta(hours=10)
SENDER = "0212345678"


@pytest.fixture
def solapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "shop").mkdir()
    handle = start_emulators(
        tmp_path / "shop", tmp_path / "state", tmp_path / "drops", SENT_AT, apis=("solapi",),
        options={"solapi_senders": [SENDER], "solapi_auth_clock": "either", "solapi_processing_delay_s": 5,
                 "solapi_report_delay_s": 30, "solapi_carrier_failure_rate": 0.0},
    )  # fmt: skip
    conn = json.loads(handle.connection_env()["AIRFLOW_CONN_CRM_SOLAPI"])
    conn["extra"].update(retry_base_s=0.05, retry_max_s=1.0, page_limit=3)
    monkeypatch.setenv("AIRFLOW_CONN_CRM_SOLAPI", json.dumps(conn))
    yield handle
    handle.stop()


def send(handle, n: int, campaign: str) -> list[str]:
    creds = handle.credentials["solapi"]
    signer = HmacSigner(creds["key"], creds["secret"], clock=handle.ctx.clock.now)
    messages = [
        {"to": f"010-5555-{1000 + i:04d}", "from": SENDER, "text": f"(광고) 테스트 {i} 무료수신거부 0801234567",
         "customFields": {"campaign_id": campaign, "variant": "A", "customer_id": f"m{i:07d}"}}
        for i in range(n)
    ]  # fmt: skip
    r = requests.post(f"{handle.urls['solapi']}/messages/v4/send-many/detail", json={"messages": messages, "showMessageList": True},
                      headers=signer("POST", "/messages/v4/send-many/detail", b""), timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    return [m["messageId"] for m in r.json()["messageList"]]


def test_reports_extracted_incrementally_and_merged(solapi, tmp_path: Path) -> None:
    wh, dlt_dir = str(tmp_path / "wh.duckdb"), tmp_path / "dlt"
    first = send(solapi, 7, "camp_a")
    solapi.ctx.clock.set(SENT_AT + timedelta(minutes=5))  # past the report delay: final statuses
    day1 = extract_message_reports(D0, D0 + timedelta(days=1), destination=wh, pipelines_dir=dlt_dir)
    assert day1["rows"]["message_reports"] == 7 and day1["quarantined_total"] == 0
    assert day1["http"]["pages"] >= 3  # three per page: startKey/nextKey paging
    with duckdb.connect(wh, read_only=True) as con:
        rows = con.execute(
            'select message_id, "to", status_code, custom_fields, date_updated from raw_messaging.message_reports'
        ).fetchall()
    assert {r[0] for r in rows} == set(first)
    assert all(r[2] == "4000" and r[1].startswith("0105555") for r in rows)
    assert {json.loads(r[3])["campaign_id"] for r in rows} == {"camp_a"}
    assert all(isinstance(r[4], datetime) for r in rows)

    again = extract_message_reports(D0, D0 + timedelta(days=1), destination=wh, pipelines_dir=dlt_dir)
    assert again["rows"]["message_reports"] == 7  # the same window, the same rows, merged
    solapi.ctx.clock.set(D0 + timedelta(days=1, hours=11))
    second = send(solapi, 2, "camp_b")
    solapi.ctx.clock.set(D0 + timedelta(days=1, hours=12))
    day2 = extract_message_reports(
        D0 + timedelta(days=1), D0 + timedelta(days=2), destination=wh, pipelines_dir=dlt_dir
    )
    assert day2["rows"]["message_reports"] == 2 and day2["http"]["records"] == 2  # only the new sends
    with duckdb.connect(wh, read_only=True) as con:
        ids = [r[0] for r in con.execute("select message_id from raw_messaging.message_reports").fetchall()]
        newest = con.execute(
            "select count(*) from raw_messaging.message_reports where _dlt_load_id = ?",
            [day2["load_ids"][-1]],
        ).fetchone()[0]
    assert sorted(ids) == sorted(first + second) and newest == 2


def test_reports_survive_faults_and_signatures_are_fresh_per_attempt(solapi, tmp_path: Path) -> None:
    ids = send(solapi, 10, "camp_f")
    solapi.ctx.clock.set(SENT_AT + timedelta(minutes=5))
    from testbed.emulators.faults import FaultConfig

    solapi.ctx.faults = FaultConfig.parse("rate=0.3;kinds=429,500,503,reset,duplicate_page;seed=9")
    out = extract_message_reports(D0, D0 + timedelta(days=1), destination=str(tmp_path / "wh.duckdb"),
                                  pipelines_dir=tmp_path / "dlt")  # fmt: skip
    faults = solapi.ctx.stats.snapshot("solapi.fault.")
    assert sum(faults.values()) >= 2 and out["http"]["retries"] > 0
    assert (
        out["rows"]["message_reports"] == 10 and out["http"]["status"].get("403", 0) == 0
    )  # no reused signature
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        got = {r[0] for r in con.execute("select message_id from raw_messaging.message_reports").fetchall()}
    assert got == set(ids)
