"""The ledger → ``raw_messaging.send_log`` load: every intent once, changes merged, no raw contact exported."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from act_helpers import REF, RUN_DATE, build_warehouse, campaigns_dir, customer, sms_campaign
from sqlalchemy import update

from activation.audience import AudienceReader
from activation.config import load_config
from activation.intent import Intent
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.planning import Planner
from include.core.contracts import SEND_LOG
from include.extract.send_log import load_send_log


def _fill_ledger(tmp_path: Path, url: str) -> list[Intent]:
    rows = [customer(i) for i in range(1, 41)] + [customer(41, consent_sms=False), customer(42, phone=None)]
    folder = campaigns_dir(
        tmp_path, {"promo": sms_campaign(holdout_pct=20)}, settings={"control_group_pct": 10}
    )
    wh = build_warehouse(tmp_path / "aud.duckdb", {"audience_customers": rows})
    ledger = Ledger(url)
    try:
        plan = Planner(load_config(folder), ledger, AudienceReader(wh)).plan(RUN_DATE, REF, "run-1")
        ledger.insert_intents(plan.new_rows())
        return plan.new_rows()
    finally:
        ledger.close()


def _table(wh: Path) -> list[dict]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        cur = con.execute("select * from raw_messaging.send_log order by intent_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_send_log_loads_incrementally_and_merges(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        if engine == "sqlite"
        else request.getfixturevalue("pg_ledger_url")
    )
    intents = _fill_ledger(tmp_path, url)
    wh = tmp_path / "warehouse.duckdb"
    kw = {"ledger_url": url, "destination": wh, "pipelines_dir": tmp_path / "dlt"}
    first = load_send_log(REF + timedelta(days=1), **kw)
    assert first["loaded"] == len(intents) == 42 and first["load_id"]
    rows = _table(wh)
    assert len(rows) == 42
    cols = set(rows[0])
    assert set(SEND_LOG.columns) <= cols
    assert "recipient" not in cols and "payload" not in cols
    by_status = {r["status"] for r in rows}
    assert {"planned", "suppressed", "holdout"} <= by_status
    assert all(r["reason"] for r in rows if r["status"] in ("suppressed", "holdout", "control"))
    assert {r["recipient_masked"] for r in rows if r["customer_id"] == "m000001"} == {"010-****-0001"}

    # three messages get delivered later: only they are loaded again, and they replace their rows
    later = REF + timedelta(hours=12)
    ledger = Ledger(url)
    changed = sorted(i.intent_id for i in intents if i.status == "planned")[:3]
    with ledger.tx() as conn:
        conn.execute(
            update(s.intents)
            .where(s.intents.c.intent_id.in_(changed))
            .values(status="delivered", updated_at=later, final_at=later)
        )
    ledger.close()
    second = load_send_log(**kw)
    assert second["loaded"] == 3
    rows = _table(wh)
    assert len(rows) == 42
    assert {r["intent_id"] for r in rows if r["status"] == "delivered"} == set(changed)
    third = load_send_log(**kw)
    assert third["loaded"] == 0 and len(_table(wh)) == 42
    assert isinstance(rows[0]["updated_at"], datetime) and rows[0]["updated_at"].tzinfo is not None
    # every timestamp is the same instant on every engine (SQLite keeps no offset: the ledger stores UTC)
    assert {r["created_at"] for r in rows} == {REF}
    assert {r["updated_at"] for r in rows if r["status"] == "delivered"} == {later}
    assert {r["planned_send_at"] for r in rows} == {datetime(2026, 11, 23, 10, 0, tzinfo=REF.tzinfo)}
