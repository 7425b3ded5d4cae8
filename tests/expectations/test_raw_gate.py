"""Raw gate on a real DuckDB warehouse: the clean batch passes, every injected fault fails the gate by name."""

from __future__ import annotations

import json

import pytest
from gx_helpers import DATA_DATE, REFERENCE_TIME, RUN_ID, critical, day, sql

from expectations import GateFailedError, QualityConfig, run_raw_gate
from expectations.config import RawGateConfig
from include.core.rules import korean_mobile_regex


def gate(wh, report_dir, load_ids="run", **kw):
    ids = wh.run_load_ids() if load_ids == "run" else load_ids
    return run_raw_gate(
        wh.path, DATA_DATE, RUN_ID, ids, reference_time=REFERENCE_TIME, report_dir=report_dir, **kw
    )


def lid(wh, offset: int = 0) -> str:
    return wh.load_ids[day(offset)]


def test_clean_batch_passes_with_only_phone_warnings(wh, report_dir):
    result = gate(wh, report_dir)
    assert result.passed, result.summary()
    assert result.critical == []
    # the shop's ~1 % malformed phones are quarantined and reported as warnings, nothing else is flagged
    assert {(o.column_name, o.expectation) for o in result.warnings} <= {
        ("cellphone", "expect_column_values_to_match_regex"),
        ("buyer_cellphone", "expect_column_values_to_match_regex"),
    }
    assert result.counts["rows"]["raw_events.events"] > 100
    assert result.counts["rows"]["raw_cafe24.orders"] > 10
    assert result.status in ("PASS", "WARN")
    assert result.raise_if_failed() is result
    # every raw table of the contract (except the quarantine itself) was checked
    assert {o.table_name for o in result.outcomes} == {
        "raw_cafe24.customers",
        "raw_cafe24.products",
        "raw_cafe24.orders",
        "raw_cafe24.order_items",
        "raw_cafe24.reviews",
        "raw_cafe24.subscriptions",
        "raw_events.events",
        "raw_messaging.message_reports",
    }


def test_business_date_selection_passes_the_same_clean_batch(wh, report_dir):
    result = gate(wh, report_dir, load_ids=None)
    assert result.passed, result.summary()
    assert (
        result.counts["rows"]["raw_events.events"]
        == sql(wh.path, "select count(*) from raw_events.events where drop_date = ?", [DATA_DATE])[0][0]
    )


def test_first_run_batch_with_the_whole_history_passes(wh, report_dir):
    # the first nightly run loads every earlier drop and the whole shop in one batch: old events are not late
    every = {s: list(wh.load_ids.values()) for s in ("raw_cafe24", "raw_events", "raw_messaging")}
    result = gate(wh, report_dir, load_ids=every)
    assert result.passed, result.summary()
    assert (
        result.counts["rows"]["raw_events.events"]
        == sql(wh.path, "select count(*) from raw_events.events")[0][0]
    )


def test_only_this_runs_rows_are_validated(wh, report_dir):
    # a fault in an older load is not this run's business
    sql(wh.path, "update raw_cafe24.orders set payment_amount = -1 where _dlt_load_id = ?", [lid(wh, -1)])
    assert gate(wh, report_dir).passed


def test_invalid_phones_are_quarantined_once_and_rows_stay(wh, report_dir):
    # a landline and an empty phone among this run's customers, on top of whatever the batch brought
    sql(
        wh.path,
        "update raw_cafe24.customers set cellphone = case when member_id = (select min(member_id) from "
        "raw_cafe24.customers where _dlt_load_id = $1) then '02-555-1234' else '' end where member_id in "
        "(select member_id from raw_cafe24.customers where _dlt_load_id = $1 order by member_id limit 2)",
        [lid(wh)],
    )
    expected = sql(
        wh.path,
        "select count(*) from raw_cafe24.customers where _dlt_load_id = ? and not "
        "regexp_full_match(regexp_replace(coalesce(cellphone, ''), '[^0-9]', '', 'g'), ?)",
        [lid(wh), korean_mobile_regex()],
    )[0][0]
    assert expected >= 2
    before = sql(wh.path, "select count(*) from raw_cafe24.customers")[0][0]
    result = gate(wh, report_dir)
    rows = sql(
        wh.path,
        "select record_key, reason, payload, load_id, quarantined_at from raw_quarantine.records "
        "where table_name = 'raw_cafe24.customers'",
    )
    assert len(rows) == expected
    assert all(r[3] == lid(wh) for r in rows)
    assert all(r[4] == REFERENCE_TIME for r in rows)
    reasons = {r[1] for r in rows}
    assert "cellphone is empty" in reasons
    assert "cellphone is not a Korean mobile number (01X + 7–8 digits)" in reasons
    assert not any("5551234" in r[2] or "555-1234" in r[2] for r in rows)  # payloads are masked
    payload = json.loads(rows[0][2])
    assert (
        payload["column"] == "cellphone"
        and "****" in payload["value_masked"]
        or payload["value_masked"] == "***"
    )
    assert sql(wh.path, "select count(*) from raw_cafe24.customers")[0][0] == before  # the customer rows stay
    warn = [o for o in result.warnings if o.column_name == "cellphone"]
    assert warn and warn[0].observed_value.startswith(f"{expected} of")
    gate(wh, report_dir)  # rerun: no duplicate quarantine rows
    assert (
        sql(wh.path, "select count(*) from raw_quarantine.records where table_name = 'raw_cafe24.customers'")[
            0
        ][0]
        == expected
    )


def test_too_many_invalid_phones_fail_the_gate(wh, report_dir):
    sql(
        wh.path,
        "update raw_cafe24.customers set cellphone = '' where _dlt_load_id = ?",  # the source stopped sending phones
        [lid(wh)],
    )
    result = gate(wh, report_dir)
    assert not result.passed
    assert ("raw_cafe24.customers", "cellphone", "expect_column_values_to_match_regex") in critical(result)


def test_a_few_invalid_phones_in_a_small_batch_only_warn(wh, report_dir):
    # 7 of ~36 customers (≈ 20 %) is above the 5 % share, but fewer than 10 rows: chance, not a broken source
    sql(
        wh.path,
        "update raw_cafe24.customers set cellphone = '02-123-4567' where member_id in (select member_id from "
        "raw_cafe24.customers where _dlt_load_id = ? order by member_id limit 7)",
        [lid(wh)],
    )
    result = gate(wh, report_dir)
    assert result.passed, result.summary()
    assert any(o.column_name == "cellphone" for o in result.warnings)


def _dup_orders(wh):
    sql(
        wh.path,
        "insert into raw_cafe24.orders select * from raw_cafe24.orders where _dlt_load_id = ? "
        "order by order_id limit 3",
        [lid(wh)],
    )


FAULTS = {
    # row rules: a few breaking rows are quarantined (test_row_faults_are_quarantined_and_the_night_goes_on);
    # a share above the threshold (1 %, at least 5 rows) makes the whole batch untrustworthy
    "null customer ids (the whole batch)": (
        "update raw_cafe24.customers set member_id = null where _dlt_load_id = $lid",
        ("raw_cafe24.customers", "rows", "expect_column_values_to_be_between"),
        "member_id is null: 36",
    ),
    "negative amounts (every order of the batch)": (
        "update raw_cafe24.orders set payment_amount = -5000 where _dlt_load_id = $lid",
        ("raw_cafe24.orders", "rows", "expect_column_values_to_be_between"),
        "payment_amount < 0: 87",
    ),
    "future event timestamps (a broken exporter clock)": (
        "update raw_events.events set event_time = event_time + interval 3 day where insert_id in "
        "(select insert_id from raw_events.events where _dlt_load_id = $lid order by insert_id limit 50)",
        ("raw_events.events", "rows", "expect_column_values_to_be_between"),
        "event_time in the future: 50",
    ),
    "future order dates (10 %)": (
        "update raw_cafe24.orders set order_date = timestamptz '2026-11-25 10:00:00+09' where order_id in "
        "(select order_id from raw_cafe24.orders where _dlt_load_id = $lid order by order_id limit 9)",
        ("raw_cafe24.orders", "rows", "expect_column_values_to_be_between"),
        "above the 1% allowed: the whole batch is untrustworthy",
    ),
    "dropped column (all null in the batch)": (
        "update raw_cafe24.orders set payment_amount = null where _dlt_load_id = $lid",
        ("raw_cafe24.orders", "payment_amount", "expect_column_proportion_of_non_null_values_to_be_between"),
        "raw_cafe24.orders.payment_amount is null in every row of the batch",
    ),
    "dropped column (gone from the table)": (
        "alter table raw_cafe24.customers drop column news_mail",
        ("raw_cafe24.customers", "news_mail", "expect_table_columns_to_match_set"),
        "raw_cafe24.customers is missing contract column: news_mail",
    ),
    "empty event extract": (
        "delete from raw_events.events where _dlt_load_id = $lid",
        ("raw_events.events", "rows_today", "expect_column_min_to_be_between"),
        "raw_events.events has no rows for 2026-11-22",
    ),
    "empty order extract": (
        "delete from raw_cafe24.orders where _dlt_load_id = $lid",
        ("raw_cafe24.orders", "rows_today", "expect_column_min_to_be_between"),
        "raw_cafe24.orders has no rows for 2026-11-22",
    ),
    "10x event volume spike": (
        "insert into raw_events.events select e.* replace (e.insert_id || '-x' || k.range as insert_id) "
        "from raw_events.events e, range(9) k where e._dlt_load_id = $lid",
        ("raw_events.events", "rows_today", "expect_column_max_to_be_between"),
        "outside the band",
    ),
    "unknown currency": (
        "update raw_cafe24.orders set currency = 'USD' where order_id in "
        "(select order_id from raw_cafe24.orders where _dlt_load_id = $lid order by order_id limit 4)",
        ("raw_cafe24.orders", "currency", "expect_column_values_to_be_in_set"),
        "raw_cafe24.orders.currency has 4 of",
    ),
    "consent flag outside T/F": (
        "update raw_cafe24.customers set sms = 'Y' where member_id in "
        "(select member_id from raw_cafe24.customers where _dlt_load_id = $lid order by member_id limit 2)",
        ("raw_cafe24.customers", "sms", "expect_column_values_to_be_in_set"),
        "raw_cafe24.customers.sms has 2 of",
    ),
    "order status garbage": (
        "update raw_cafe24.orders set order_status = 'shipped' where order_id in "
        "(select order_id from raw_cafe24.orders where _dlt_load_id = $lid order by order_id limit 1)",
        ("raw_cafe24.orders", "order_status", "expect_column_values_to_match_regex"),
        "order status is a Cafe24 code",
    ),
    "events from a stale drop": (
        "update raw_events.events set event_time = event_time - interval 10 day where _dlt_load_id = $lid",
        ("raw_events.events", "rows", "expect_column_values_to_be_between"),
        "event_time too late",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_injected_fault_fails_the_raw_gate_by_name(wh, report_dir, fault):
    statement, expected, phrase = FAULTS[fault]
    sql(wh.path, statement.replace("$lid", f"'{lid(wh)}'"))
    result = gate(wh, report_dir)
    assert not result.passed, f"{fault} was not caught: {result.summary()}"
    assert expected in critical(result), critical(result)
    assert any(phrase in o.reason for o in result.critical), [o.reason for o in result.critical]
    with pytest.raises(GateFailedError) as err:
        result.raise_if_failed()
    first_line = str(err.value).splitlines()[0]
    assert first_line.startswith("raw gate FAILED for 2026-11-22: ")
    assert f"({expected[2]})" in first_line or len(result.critical) > 5
    html = result.report_path.read_text(encoding="utf-8")
    assert "FAIL" in html and "실패" in html and expected[0] in html


def test_duplicated_orders_fail_with_a_readable_message(wh, report_dir):
    _dup_orders(wh)
    result = gate(wh, report_dir)
    assert ("raw_cafe24.orders", "order_id", "expect_column_values_to_be_unique") in critical(result)
    msg = str(pytest.raises(GateFailedError, result.raise_if_failed).value)
    assert "raw gate FAILED for 2026-11-22: raw_cafe24.orders.order_id has 6 duplicate values" in msg
    assert "(expect_column_values_to_be_unique)" in msg
    assert str(result.report_path) in msg


def test_spike_and_empty_are_judged_against_history_from_the_warehouse(wh, report_dir):
    result = gate(wh, report_dir)
    vol = next(
        o
        for o in result.outcomes
        if o.table_name == "raw_events.events" and o.expectation == "expect_column_max_to_be_between"
    )
    hist = sql(
        wh.path,
        "select count(*) / count(distinct drop_date) from raw_events.events where drop_date between ? and ?",
        [day(-7), day(-1)],
    )[0][0]
    assert vol.details["trailing_mean"] == pytest.approx(hist, rel=1e-3)
    assert vol.details["history_days"] == 7
    assert vol.success


def test_insufficient_history_is_a_warning_not_a_failure(wh, report_dir):
    sql(wh.path, "delete from raw_events.events where drop_date < ?", [day(-1)])
    result = gate(wh, report_dir)
    assert result.passed, result.summary()
    hist = [
        o for o in result.warnings if o.table_name == "raw_events.events" and o.column_name == "history_days"
    ]
    assert hist and "insufficient history" in hist[0].reason
    # without history the band is not checked, but an empty extract still fails
    sql(wh.path, "delete from raw_events.events where _dlt_load_id = ?", [lid(wh)])
    assert not gate(wh, report_dir).passed


def test_a_daily_source_missing_from_load_ids_is_judged_by_what_raw_holds_for_the_day(wh, report_dir):
    ids = {"raw_cafe24": [lid(wh)]}  # events and messaging were not loaded by this run
    # the day's events are in raw from an earlier run of the date (what a replay sees): the batch is empty, but the
    # day's volume is what raw holds for it, so the replay is not an "empty extract"
    result = gate(wh, report_dir, load_ids=ids)
    assert ("raw_events.events", "rows_today", "expect_column_min_to_be_between") not in critical(result)
    assert result.counts["rows"]["raw_events.events"] == 0
    # messaging is not a daily source: not loaded means not checked, and it is said so
    assert result.counts["skipped_tables"] == ["raw_messaging.message_reports"]
    # per-table keys work as well as per-schema keys
    per_table = {"raw_cafe24.orders": [lid(wh)], "raw_events.events": [lid(wh)]}
    result = gate(wh, report_dir, load_ids=per_table)
    assert result.passed, result.summary()
    assert set(result.counts["rows"]) == {"raw_cafe24.orders", "raw_events.events"}
    # ids whose schema the caller does not know apply to every table
    result = gate(wh, report_dir, load_ids={"*": [lid(wh)]})
    assert result.passed and result.counts["skipped_tables"] == []
    assert result.counts["rows"]["raw_messaging.message_reports"] > 0
    # with nothing in raw for the day either, the daily source missing from the run is an empty extract
    sql(wh.path, "delete from raw_events.events")
    result = gate(wh, report_dir, load_ids=ids)
    assert ("raw_events.events", "rows_today", "expect_column_min_to_be_between") in critical(result)


def test_thresholds_come_from_the_config(wh, report_dir):
    # a 2x spike passes the default band (4x) but not a band of 1.5x
    sql(
        wh.path,
        "insert into raw_events.events select * replace (insert_id || '-x' as insert_id) from raw_events.events "
        "where _dlt_load_id = ?",
        [lid(wh)],
    )
    assert gate(wh, report_dir).passed
    strict = QualityConfig(raw=RawGateConfig(volume_high_factor=1.5))
    assert not gate(wh, report_dir, config=strict).passed


def test_unknown_table_is_rejected(wh, report_dir):
    with pytest.raises(ValueError, match="unknown raw tables"):
        gate(wh, report_dir, tables=["raw_cafe24.nope"])


def test_naive_reference_time_is_rejected(wh, report_dir):
    with pytest.raises(ValueError, match="timezone-aware"):
        run_raw_gate(wh.path, DATA_DATE, RUN_ID, None, reference_time=REFERENCE_TIME.replace(tzinfo=None))
