"""Row-level quarantine in the raw gate: a few bad rows are moved out with their reasons and the night goes on;
only a share above the threshold stops it. Also the gate on a file import (``gate_import``)."""

from __future__ import annotations

import json
from datetime import timedelta

from gx_helpers import DATA_DATE, REFERENCE_TIME, RUN_ID, critical, sql

from expectations import QualityConfig, gate_import, run_raw_gate
from expectations.config import RawGateConfig


def gate(wh, report_dir, **kw):
    return run_raw_gate(
        wh.path,
        DATA_DATE,
        RUN_ID,
        wh.run_load_ids(),
        reference_time=REFERENCE_TIME,
        report_dir=report_dir,
        **kw,
    )


def _lid(wh) -> str:
    return wh.load_ids[DATA_DATE]


def _first(wh, table: str, key: str) -> str:
    return sql(wh.path, f"select min({key}) from {table} where _dlt_load_id = ?", [_lid(wh)])[0][0]


def _records(wh, table: str) -> list[tuple]:
    return sql(
        wh.path,
        "select record_key, reason, payload, load_id, quarantined_at, source from raw_quarantine.records "
        "where table_name = ? order by record_key",
        [table],
    )


def _inject(wh) -> dict[str, str]:
    """One event stamped 2099, one order with a negative amount, one customer with an e-mail as phone."""
    event = _first(wh, "raw_events.events", "insert_id")
    order = sql(
        wh.path,
        "select min(o.order_id) from raw_cafe24.orders o join raw_cafe24.order_items i using (order_id) "
        "where o._dlt_load_id = ?",
        [_lid(wh)],
    )[0][0]
    customer = _first(wh, "raw_cafe24.customers", "member_id")
    sql(wh.path, "update raw_events.events set event_time = timestamptz '2099-01-01 09:00:00+09' where insert_id = ?",
        [event])  # fmt: skip
    sql(wh.path, "update raw_cafe24.orders set payment_amount = -5000 where order_id = ?", [order])
    sql(
        wh.path,
        "update raw_cafe24.customers set cellphone = 'kim@example.com' where member_id = ?",
        [customer],
    )
    return {"event": event, "order": order, "customer": customer}


def test_row_faults_are_quarantined_and_the_night_goes_on(wh, report_dir):
    bad = _inject(wh)
    items = sql(wh.path, "select count(*) from raw_cafe24.order_items where order_id = ?", [bad["order"]])[0][
        0
    ]
    assert items > 0
    result = gate(wh, report_dir)

    assert result.passed and result.status == "WARN", result.summary()
    by_rule = result.counts["quarantined_by_rule"]
    assert by_rule["raw_events.events"] == {"event_time in the future": 1}
    assert by_rule["raw_cafe24.orders"] == {"payment_amount < 0": 1}
    assert result.counts["moved_to_quarantine"] == {"raw_events.events": 1, "raw_cafe24.orders": 1}
    assert result.counts["cascaded_to_quarantine"] == {"raw_cafe24.order_items": items}
    assert "raw_events.events event_time in the future 1" in result.summary().split("| quarantined: ")[1]
    html = result.report_path.read_text(encoding="utf-8")
    assert "Rows quarantined" in html and "payment_amount &lt; 0 1" in html

    # the bad event and order (with its lines) left raw, so dbt never sees them …
    assert (
        sql(wh.path, "select count(*) from raw_events.events where insert_id = ?", [bad["event"]])[0][0] == 0
    )
    assert (
        sql(wh.path, "select count(*) from raw_cafe24.orders where order_id = ?", [bad["order"]])[0][0] == 0
    )
    assert (
        sql(wh.path, "select count(*) from raw_cafe24.order_items where order_id = ?", [bad["order"]])[0][0]
        == 0
    )
    # … and each has a record with its reason and the whole row
    (event,) = _records(wh, "raw_events.events")
    assert event[0] == bad["event"] and "event_time lies after the end of the run's data interval" in event[1]
    assert event[3] == _lid(wh) and event[4] == REFERENCE_TIME and event[5] == "quality.raw_gate"
    assert json.loads(event[2])["event_time"].startswith("2099-01-01")
    (order,) = [r for r in _records(wh, "raw_cafe24.orders") if r[0] == bad["order"]]
    assert order[1] == "payment_amount is negative"
    assert json.loads(order[2])["payment_amount"] == -5000
    lines = _records(wh, "raw_cafe24.order_items")
    assert len(lines) == items
    assert all(
        r[1] == f"its order {bad['order']} was quarantined (payment_amount is negative)" for r in lines
    )
    # the customer stays (orders point at it); the malformed contact is recorded and never used
    assert sql(wh.path, "select count(*) from raw_cafe24.customers where member_id = ?", [bad["customer"]])[
        0
    ][0]
    reasons = {r[1] for r in _records(wh, "raw_cafe24.customers") if r[0] == bad["customer"]}
    assert reasons == {"cellphone holds an e-mail address, not a phone number"}


def test_a_replay_moves_the_same_rows_again_and_records_nothing_twice(wh, report_dir):
    bad = _inject(wh)
    sql(wh.path, "create table keep as select * from raw_events.events where insert_id = ?", [bad["event"]])
    first = gate(wh, report_dir)
    records = sql(wh.path, "select count(*) from raw_quarantine.records")[0][0]
    # a rerun of the date re-extracts the same bad event (merge on its key puts it back)
    sql(wh.path, "insert into raw_events.events select * from keep")
    second = gate(wh, report_dir)
    assert second.passed and second.counts["moved_to_quarantine"] == {"raw_events.events": 1}
    assert second.counts["quarantined"] == 0
    assert sql(wh.path, "select count(*) from raw_quarantine.records")[0][0] == records
    assert (
        sql(wh.path, "select count(*) from raw_events.events where insert_id = ?", [bad["event"]])[0][0] == 0
    )
    assert (
        first.counts["quarantined_by_rule"]["raw_events.events"]
        == (second.counts["quarantined_by_rule"]["raw_events.events"])
    )


def test_the_share_of_bad_rows_is_configurable_per_table(wh, report_dir):
    sql(wh.path, "update raw_cafe24.orders set payment_amount = -1 where order_id in (select order_id from "
        "raw_cafe24.orders where _dlt_load_id = ? order by order_id limit 3)", [_lid(wh)])  # fmt: skip
    strict = QualityConfig(raw=RawGateConfig(bad_row_min_count=1))  # 3 of 87 orders ≈ 3.4 % > 1 %
    result = gate(wh, report_dir, config=strict)
    assert ("raw_cafe24.orders", "rows", "expect_column_values_to_be_between") in critical(result)
    reason = result.critical[0].reason
    assert "raw_cafe24.orders has 3 of 87 rows breaking row rules (3.4%; payment_amount < 0: 3)" in reason
    assert "above the 1% allowed" in reason
    # the rows were quarantined all the same (a rerun of the source brings them back)
    assert result.counts["moved_to_quarantine"] == {"raw_cafe24.orders": 3}


def test_a_per_table_share_lets_a_noisier_source_through(wh, report_dir):
    def six_negative_orders() -> None:
        sql(wh.path, "update raw_cafe24.orders set payment_amount = -1 where order_id in (select order_id from "
            "raw_cafe24.orders where _dlt_load_id = ? and payment_amount >= 0 order by order_id limit 6)",
            [_lid(wh)])  # fmt: skip

    six_negative_orders()
    lenient = QualityConfig(raw=RawGateConfig(bad_row_max_share_by_table={"raw_cafe24.orders": 0.10}))
    result = gate(wh, report_dir, config=lenient)
    assert result.passed, result.summary()
    assert result.counts["quarantined_by_rule"]["raw_cafe24.orders"] == {"payment_amount < 0": 6}
    six_negative_orders()  # 6 of the 81 orders left ≈ 7 % and at least 5 rows: above the default 1 %
    assert ("raw_cafe24.orders", "rows", "expect_column_values_to_be_between") in critical(
        gate(wh, report_dir)
    )


def _import_load(wh, load_id: str, n: int = 40) -> None:
    """An import: copies of ``n`` customers and orders under new keys and a new load id."""
    sql(wh.path, f"""
        insert into raw_cafe24.customers select * replace ('imp-' || member_id as member_id, '{load_id}' as _dlt_load_id)
        from raw_cafe24.customers order by member_id limit {n}""")  # fmt: skip
    sql(wh.path, f"""
        insert into raw_cafe24.orders select * replace ('imp-' || order_id as order_id, '{load_id}' as _dlt_load_id)
        from raw_cafe24.orders order by order_id limit {n}""")  # fmt: skip


def test_a_file_import_goes_through_the_raw_gate(wh, report_dir):
    _import_load(wh, "import-1")
    first = sql(wh.path, "select min(order_id) from raw_cafe24.orders where _dlt_load_id = 'import-1'")[0][0]
    sql(wh.path, "update raw_cafe24.orders set order_date = timestamptz '2099-01-01 10:00:00+09', "
        "payment_amount = -100 where order_id = ?", [first])  # fmt: skip
    sql(wh.path, "update raw_cafe24.customers set cellphone = 'lee@example.com' where member_id = "
        "(select min(member_id) from raw_cafe24.customers where _dlt_load_id = 'import-1')")  # fmt: skip
    at = REFERENCE_TIME + timedelta(hours=10)
    result = gate_import(wh.path, "import-1", reference_time=at, report_dir=report_dir)

    assert result.gate == "import" and result.run_id == "import:import-1"
    assert result.passed, result.summary()
    assert set(result.counts["rows"]) == {"raw_cafe24.customers", "raw_cafe24.orders"}
    assert "raw_events.events" in result.counts["skipped_tables"]  # nothing imported there, no volume check
    assert result.counts["quarantined_by_rule"]["raw_cafe24.orders"] == {
        "payment_amount < 0": 1,
        "order_date in the future": 1,
    }
    (order,) = [r for r in _records(wh, "raw_cafe24.orders") if r[0] == first]
    assert order[1] == "payment_amount is negative; order_date lies after the end of " \
        "the run's data interval (+10 min clock skew)"  # fmt: skip
    assert order[3] == "import-1" and order[4] == at
    assert sql(wh.path, "select count(*) from raw_cafe24.orders where order_id = ?", [first])[0][0] == 0
    assert any(
        r[1] == "cellphone holds an e-mail address, not a phone number"
        for r in _records(wh, "raw_cafe24.customers")
    )
    assert result.report_path.name == "import_gate.html"
    stored = sql(wh.path, "select count(*) from quality.gate_results where gate = 'import' and run_id = ?",
                 ["import:import-1"])[0][0]  # fmt: skip
    assert stored == result.counts["evaluated"]


def test_an_import_made_of_bad_rows_fails(wh, report_dir):
    _import_load(wh, "import-2")
    sql(wh.path, "update raw_cafe24.orders set payment_amount = -1 where _dlt_load_id = 'import-2'")
    result = gate_import(wh.path, "import-2", reference_time=REFERENCE_TIME, report_dir=report_dir)
    assert not result.passed
    assert ("raw_cafe24.orders", "rows", "expect_column_values_to_be_between") in critical(result)
    assert "import gate FAILED" in str(result.critical and _raise(result))


def _raise(result) -> str:
    try:
        result.raise_if_failed()
    except Exception as exc:  # noqa: BLE001 - the message is what is checked
        return str(exc)
    return ""
