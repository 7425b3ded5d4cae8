"""Bad data never reaches a customer: faults injected into the real sources of an otherwise clean night fail the right gate,
the run stops with a report naming the fault, campaign sends refuse to run, and the messaging emulator receives nothing.

The sources are the ones the pipeline really reads: the event drop files and the storefront the Cafe24 emulator serves.
A clean night before the faulty one gives the volume checks their history. The pipeline is the nightly task functions
in DAG order (pipeline/local.py); the DAG's wiring (gates upstream of dbt, publishing and sends) is checked in
tests/dags.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from include.core.settings import get_settings

pytestmark = [pytest.mark.integration]

KST = ZoneInfo("Asia/Seoul")
DAY = date(2026, 11, 22)
OPTIONS = {"solapi_auth_clock": "wall", "channeltalk_rate_limit": 1000}


def _end(d: date) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=KST)


def _use(monkeypatch, root: Path) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("CRM_SHOP_DIR", str(root / "shop"))
    monkeypatch.setenv("CRM_EVENT_DROP_URL", str(root / "drops"))
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def clean_base(tmp_path_factory) -> Path:
    """A shop and a warehouse after one clean night (the day before the faulty one)."""
    from pipeline import local
    from testbed.emulators.runner import run_emulators
    from testbed.shop import generate_shop

    root = tmp_path_factory.mktemp("quality_base")
    # 600 members: a few sign up on DAY (one of them is corrupted below; ~1 sign-up a day at the end of the history)
    generate_shop(
        root / "shop", root / "drops", customers=600, days=35, end_date=DAY + timedelta(days=3), seed=23
    )
    env = dict(os.environ)
    mp = pytest.MonkeyPatch()
    try:
        _use(mp, root)
        with run_emulators(root / "shop", root / "emu", root / "drops", _end(DAY - timedelta(days=1)),
                           options=OPTIONS) as emu:  # fmt: skip
            os.environ.update(emu.connection_env())
            local.run_nightly(DAY - timedelta(days=1), with_report=False)
    finally:
        mp.undo()
        os.environ.clear()
        os.environ.update(env)
        get_settings.cache_clear()
    return root


def _drop_lines(root: Path, d: date) -> list[dict]:
    lines = []
    for f in sorted((root / "drops" / f"dt={d.isoformat()}").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            lines += [json.loads(x) for x in fh if x.strip()]
    return lines


def _write_drop(root: Path, d: date, lines: list[dict]) -> None:
    folder = root / "drops" / f"dt={d.isoformat()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with gzip.open(folder / "events-000.jsonl.gz", "wt", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def _empty_extract(root: Path) -> None:
    shutil.rmtree(root / "drops" / f"dt={DAY.isoformat()}")


def _volume_spike(root: Path) -> None:
    lines = _drop_lines(root, DAY)
    copies = [{**x, "$insert_id": f"{x['$insert_id']}-x{k}"} for k in range(10) for x in lines]
    _write_drop(root, DAY, copies)


def _future_timestamps(root: Path) -> None:
    # a broken exporter clock: a third of the drop is stamped a year ahead (one such event is only quarantined,
    # test_a_few_bad_rows_are_quarantined_and_campaigns_still_send)
    lines = _drop_lines(root, DAY)
    for x in lines[: len(lines) // 3]:
        x["event_time"] = "2027-06-01 10:00:00.000000"
    _write_drop(root, DAY, lines)


def _dropped_column(root: Path) -> None:
    _write_drop(
        root, DAY, [{k: v for k, v in x.items() if k != "event_type"} for x in _drop_lines(root, DAY)]
    )


def _negative_amounts(root: Path) -> None:
    path = root / "shop" / "orders.parquet"
    table = pq.read_table(path)
    day = pa.array(
        [d is not None and d.astimezone(KST).date() == DAY for d in table.column("order_date").to_pylist()]
    )
    idx = table.schema.get_field_index("payment_amount")
    amounts = [
        (-5000 if hit.as_py() else v) for hit, v in zip(day, table.column(idx).to_pylist(), strict=True)
    ]
    assert sum(1 for a in amounts if a == -5000) > 0, "no order on the day to corrupt"
    pq.write_table(table.set_column(idx, table.field(idx), pa.array(amounts, table.field(idx).type)), path)


def _set_on_day(root: Path, name: str, day_column: str, column: str, value) -> str:
    """Sets ``column`` of the first row of ``<shop>/<name>.parquet`` dated on DAY; returns its first column."""
    path = root / "shop" / f"{name}.parquet"
    table = pq.read_table(path)
    days = [d is not None and d.astimezone(KST).date() == DAY for d in table.column(day_column).to_pylist()]
    assert any(days), f"no {name} row on the day to corrupt"
    row = days.index(True)
    idx = table.schema.get_field_index(column)
    values = table.column(idx).to_pylist()
    values[row] = value
    pq.write_table(table.set_column(idx, table.field(idx), pa.array(values, table.field(idx).type)), path)
    return str(table.column(0)[row].as_py())


FAULTS = {
    # fault → (inject, words the failing gate's message must contain)
    "empty_extract": (_empty_extract, ["raw_events.events", "no rows"]),
    "volume_spike": (_volume_spike, ["raw_events.events", "trailing"]),
    "future_timestamps": (_future_timestamps, ["event_time"]),
    "dropped_column": (_dropped_column, ["raw_events.events"]),
    "negative_amounts": (_negative_amounts, ["payment_amount"]),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_source_fault_fails_the_raw_gate_and_nothing_is_sent(
    fault, clean_base, tmp_path, monkeypatch
) -> None:
    from expectations import GateFailedError
    from pipeline import local
    from pipeline.campaign_runs import audiences_published
    from testbed.emulators.runner import run_emulators

    root = tmp_path / "run"
    shutil.copytree(clean_base, root)
    inject, words = FAULTS[fault]
    inject(root)
    env = dict(os.environ)
    try:
        _use(monkeypatch, root)
        with run_emulators(root / "shop", root / "emu", root / "drops", _end(DAY), options=OPTIONS) as emu:
            os.environ.update(emu.connection_env())
            with pytest.raises(GateFailedError) as failed:
                local.run_nightly(DAY, with_report=False)
            message = str(failed.value)
            assert message.startswith("raw gate FAILED for 2026-11-22"), message
            for word in words:
                assert word in message, (fault, word, message)
            assert not audiences_published(DAY)
            with pytest.raises(RuntimeError, match="not published"):
                local.run_campaigns(DAY)
            stats = requests.get(f"{emu.urls['solapi']}/_emulator/stats", params={"prefix": "solapi.messages"},
                                 timeout=10).json()["stats"]  # fmt: skip
            assert sum(v for k, v in stats.items() if k.startswith("solapi.messages.accepted")) == 0
        report = json.loads((get_settings().run_dir(DAY.isoformat()) / "steps" / "raw_gate.json").read_text())
        assert report["status"] == "FAIL" and any(w in json.dumps(report, ensure_ascii=False) for w in words)
        html = Path(report["report_path"]).read_text(encoding="utf-8")
        assert words[0] in html
    finally:
        os.environ.clear()
        os.environ.update(env)
        get_settings.cache_clear()


def test_an_opted_out_customer_in_a_send_list_stops_the_send(clean_base, tmp_path, monkeypatch) -> None:
    """A planner that let an opted-out customer through (simulated at the gate's input): the send-list gate stops
    the campaign before anything is committed or sent."""
    from activation.api import campaigns_due, plan_and_send
    from activation.ledger import Ledger
    from expectations import GateFailedError, validate_send_list
    from pipeline import local
    from testbed.emulators.runner import run_emulators

    root = tmp_path / "run"
    shutil.copytree(clean_base, root)
    env = dict(os.environ)
    try:
        _use(monkeypatch, root)
        with run_emulators(root / "shop", root / "emu", root / "drops", _end(DAY), options=OPTIONS) as emu:
            os.environ.update(emu.connection_env())
            local.run_nightly(DAY, with_report=False)
            due = [d for d in campaigns_due(DAY) if d["kind"] == "advertising"]
            assert due, "an advertising campaign should be due"
            campaign = due[0]["campaign_id"]
            seen: dict[str, int] = {}

            def broken_planner_then_gate(send_list) -> None:
                assert send_list.rows, "the campaign should have recipients"
                # the fault: an opted-out customer slipped into the list
                send_list.rows[0].is_opted_out = True
                seen["rows"] = len(send_list.rows)
                validate_send_list(send_list.frame(), send_list.campaigns, DAY, "test", reference_time=_end(DAY)) \
                    .raise_if_failed()  # fmt: skip

            with pytest.raises(GateFailedError, match="opted"):
                plan_and_send(DAY, campaign_ids=[campaign], reference_time=_end(DAY), run_id="test",
                              before_send=broken_planner_then_gate)  # fmt: skip
            assert seen["rows"] > 0
            stats = requests.get(f"{emu.urls['solapi']}/_emulator/stats", params={"prefix": "solapi.messages"},
                                 timeout=10).json()["stats"]  # fmt: skip
            assert sum(v for k, v in stats.items() if k.startswith("solapi.messages.accepted")) == 0
        ledger = Ledger(get_settings().ledger)
        try:
            assert [r for r in ledger.intents_for_run(DAY) if r.campaign_id == campaign] == []
        finally:
            ledger.close()
    finally:
        os.environ.clear()
        os.environ.update(env)
        get_settings.cache_clear()


def test_a_few_bad_rows_are_quarantined_and_campaigns_still_send(clean_base, tmp_path, monkeypatch) -> None:
    """One event stamped 2099, one order with a negative amount and one customer with an e-mail in the phone
    column: those rows are quarantined with their reasons, the raw gate warns, dbt builds on the clean rows,
    audiences are published and campaigns send."""
    import duckdb

    from pipeline import local
    from pipeline.campaign_runs import audiences_published
    from testbed.emulators.runner import run_emulators

    root = tmp_path / "run"
    shutil.copytree(clean_base, root)
    lines = _drop_lines(root, DAY)
    lines[0]["event_time"] = "2099-01-01 09:00:00.000000"
    _write_drop(root, DAY, lines)
    order = _set_on_day(root, "orders", "order_date", "payment_amount", -5000)
    _set_on_day(root, "customers", "created_date", "cellphone", "kim@example.com")
    env = dict(os.environ)
    try:
        _use(monkeypatch, root)
        with run_emulators(root / "shop", root / "emu", root / "drops", _end(DAY), options=OPTIONS) as emu:
            os.environ.update(emu.connection_env())
            local.run_nightly(DAY, with_report=False)  # no GateFailedError: the night goes on
            assert audiences_published(DAY)
            sent = local.run_campaigns(DAY)
            assert sent, "campaigns should be due on the day"
            stats = requests.get(f"{emu.urls['solapi']}/_emulator/stats", params={"prefix": "solapi.messages"},
                                 timeout=10).json()["stats"]  # fmt: skip
            assert sum(v for k, v in stats.items() if k.startswith("solapi.messages.accepted")) > 0
        report = json.loads((get_settings().run_dir(DAY.isoformat()) / "steps" / "raw_gate.json").read_text())
        assert report["status"] == "WARN", report
        by_rule = report["counts"]["quarantined_by_rule"]
        assert by_rule["raw_events.events"] == {"event_time in the future": 1}
        assert by_rule["raw_cafe24.orders"] == {"payment_amount < 0": 1}
        with duckdb.connect(str(get_settings().warehouse), read_only=True) as con:
            reasons = dict(con.execute(
                "select table_name || ':' || record_key, reason from raw_quarantine.records "
                "where source = 'quality.raw_gate' and quarantined_at = ?", [_end(DAY)]).fetchall())  # fmt: skip
            assert reasons[f"raw_cafe24.orders:{order}"] == "payment_amount is negative"
            assert any(r.startswith("event_time lies after the end") for r in reasons.values())
            assert "cellphone holds an e-mail address, not a phone number" in reasons.values()
            # dbt built on the clean rows: the bad order and the 2099 event never reached the models
            assert con.execute("select count(*) from raw_cafe24.orders where order_id = ?", [order]).fetchall() \
                == [(0,)]  # fmt: skip
            assert con.execute("select count(*) from marts.fct_orders where order_id = ?", [order]).fetchall() \
                == [(0,)]  # fmt: skip
            assert con.execute(
                "select count(*) from marts.fct_orders where order_date = ?", [DAY]
            ).fetchall()[0][0]
            assert con.execute("select max(event_at) < timestamptz '2090-01-01' from staging.stg_events__events") \
                .fetchall() == [(True,)]  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(env)
        get_settings.cache_clear()
