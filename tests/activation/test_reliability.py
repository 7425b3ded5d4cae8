"""Faults and crashes: every intended message reaches the provider exactly once, every suppression has a reason."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from act_helpers import (
    KST,
    REPO,
    RUN_DATE,
    Emu,
    build_warehouse,
    campaigns_dir,
    connection_env,
    customer,
    sms_campaign,
)
from sqlalchemy import select

from activation.api import plan_and_send, sync_audiences
from activation.ledger import Ledger
from activation.ledger import schema as s

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

FAULTS = (
    "rate=0.2;kinds=429,500,502,503,timeout,reset,reset_after,timeout_after,malformed_json,duplicate_page;"
    "seed={seed};timeout_s=0.5"
)
SYNC = {
    "id": "ct_sample",
    "audience": {
        "model": "audience_customers",
        "filter": [{"column": "customer_id", "op": "lt", "value": "m000120"}],
    },
    "profile": {"name": "customer_name", "mobileNumber": "phone", "segment": "segment"},
    "tag_columns": ["segment", "tier"],
}
SEND_AT = datetime(2026, 11, 23, 10, 5, tzinfo=KST)  # after the 10:00 send time: sent at once


def ledger_rows(url: str, table=s.intents) -> list[dict]:
    ledger = Ledger(url)
    try:
        with ledger.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(table))]
    finally:
        ledger.close()


def assert_exactly_once(emu: Emu, url: str) -> dict[str, int]:
    intents = ledger_rows(url)
    sent = {
        i["intent_id"]
        for i in intents
        if i["destination"] == "solapi" and i["status"] in ("accepted", "delivered", "failed")
    }
    planned_solapi = {
        i["intent_id"]
        for i in intents
        if i["destination"] == "solapi" and i["status"] not in ("suppressed", "holdout", "control")
    }
    assert sent == planned_solapi, "every intended Solapi message must be settled"
    at_provider = Counter(
        m["doc"]["customFields"]["intent_id"] for m in emu.solapi_messages() if m["phase"] != "rejected"
    )
    assert set(at_provider) == sent
    assert max(at_provider.values()) == 1, [k for k, v in at_provider.items() if v > 1][:5]
    assert all(i["reason"] for i in intents if i["status"] == "suppressed")
    assert not [b for b in ledger_rows(url, s.batches) if b["status"] in s.INFLIGHT_BATCH]
    return dict(Counter(i["status"] for i in intents))


def test_faults_do_not_lose_or_duplicate_anything(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for(
        faults=FAULTS.format(seed=11), extra={"max_batch_messages": 10, "max_attempts": 12, "timeout_s": 0.3}
    )
    rows = [customer(i) for i in range(1, 501)] + [customer(i, consent_sms=False) for i in range(501, 521)]
    review = [
        {
            **customer(i),
            "order_id": f"o{i}",
            "product_no": 1,
            "product_name": "패드",
            "days_since_delivery": 3,
        }
        for i in range(600, 700)
    ]
    folder = campaigns_dir(
        tmp_path,
        {"bulk_sms": sms_campaign(holdout_pct=10), "bulk_push": sms_campaign(channel="push", priority=10)},
        settings={"daily_limit": 2, "control_group_pct": 5, "syncs": [SYNC]},
        shipped=["review_request_3d"],
    )
    wh = build_warehouse(
        tmp_path / "wh.duckdb", {"audience_customers": rows, "audience_review_requests": review}
    )
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    kw = {"campaigns_dir": folder, "ledger_url": url, "warehouse": wh}
    for _attempt in range(6):  # an Airflow task retried until it succeeds
        result = plan_and_send(RUN_DATE, reference_time=SEND_AT, run_id="faulty-run", **kw)
        if result.ok:
            break
    assert result.ok, result.errors
    faults = {k: v for api in ("solapi", "webhook") for k, v in emu.stats(api).items() if ".fault." in k}
    assert sum(faults.values()) >= 15 and len(faults) >= 6, (
        faults
    )  # the faults really happened, of many kinds
    counts = assert_exactly_once(emu, url)
    assert counts["suppressed"] >= 20
    assert emu.stats("solapi").get("solapi.messages.duplicates_rejected", 0) == 0
    # push through the webhook: every message stored once
    pushes = Counter(m["intent_id"] for h in emu.hooks("push") for m in h["payload"]["messages"])
    planned_push = {
        i["intent_id"] for i in ledger_rows(url) if i["channel"] == "push" and i["status"] == "accepted"
    }
    assert set(pushes) == planned_push and max(pushes.values()) == 1

    # the audience sync under the same faults converges, then stays silent
    for _ in range(5):
        reports = sync_audiences(RUN_DATE, reference_time=SEND_AT, run_id="sync", **kw)
        if not any(r.errors for r in reports):
            break
    assert not any(r.errors for r in reports), reports[0].errors[:3]
    emu.set_faults("off")
    writes = emu.stats("channeltalk").get("channeltalk.writes", 0)
    (report,) = sync_audiences(RUN_DATE, reference_time=SEND_AT, run_id="sync-2", **kw)
    assert report.adds == report.changes == report.removes == 0 and report.unchanged == 119
    assert emu.stats("channeltalk").get("channeltalk.writes", 0) == writes


def _cli(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "activation.cli",
        "--dir",
        str(folder),
        "send",
        "--all",
        "--date",
        RUN_DATE.isoformat(),
        "--reference-time",
        SEND_AT.isoformat(),
        "--run-id",
        "nightly",
    ]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen, emu: Emu, adds: int, timeout: float = 60) -> bool:
    """SIGKILLs the process once the emulator has answered ``adds`` add-message requests; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if emu.stats("solapi").get("solapi.add_group_messages.200", 0) >= adds:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return True
        time.sleep(0.003)
    proc.kill()
    raise AssertionError("the send did not progress")


def test_send_killed_mid_batch_resumes_without_duplicates(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for(
        faults="rate=0.1;kinds=reset_after,timeout_after,503;seed=5;timeout_s=0.4",
        extra={"max_batch_messages": 20, "max_group_messages": 300, "max_attempts": 12, "timeout_s": 0.3},
    )
    rows = [customer(i) for i in range(1, 801)]
    folder = campaigns_dir(
        tmp_path, {"big_sms": sms_campaign(holdout_pct=5)}, settings={"control_group_pct": 5}
    )
    wh = build_warehouse(tmp_path / "wh.duckdb", {"audience_customers": rows})
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    env = {**os.environ, "CRM_LEDGER_URL": url, "CRM_WAREHOUSE_PATH": str(wh), "PYTHONPATH": str(REPO)}
    env.update(
        connection_env(
            emu.handle, max_batch_messages=20, max_group_messages=300, max_attempts=12, timeout_s=0.3
        )
    )

    kills = 0
    for threshold in (2, 21):  # early in the first group, then inside a later one
        proc = _cli(folder, env)
        if _kill_when(proc, emu, threshold):
            kills += 1
        else:
            out, err = proc.communicate()
            raise AssertionError(f"the send ended before it could be killed: {err[-1500:]}")
    assert kills == 2
    in_flight = [b for b in ledger_rows(url, s.batches) if b["status"] in s.INFLIGHT_BATCH]
    assert in_flight, "a killed run leaves a batch between group creation and send"
    assert any(b["group_id"] for b in in_flight)
    outputs = []
    for _ in range(3):  # restarted until it finishes cleanly
        proc = _cli(folder, env)
        out, err = proc.communicate(timeout=120)
        outputs.append(out)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, err[-2000:]
    assert re.search(r"resumed_batches: [1-9]", outputs[0]), outputs[0][-1500:]
    counts = assert_exactly_once(emu, url)
    planned = 800 - counts.get("holdout", 0) - counts.get("control", 0) - counts.get("suppressed", 0)
    assert counts.get("accepted", 0) + counts.get("delivered", 0) + counts.get("failed", 0) == planned > 650
    # another attempt of the same run finds nothing to do
    before = len(emu.solapi_messages())
    again = plan_and_send(
        RUN_DATE, reference_time=SEND_AT, run_id="nightly", campaigns_dir=folder, ledger_url=url, warehouse=wh
    )
    assert again.ok and again.sent == {} and len(emu.solapi_messages()) == before
