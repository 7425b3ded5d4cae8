"""Stored results (idempotent per run/date/gate), the default report folder, telemetry off, contract-driven suites."""

from __future__ import annotations

import json
import os
from dataclasses import replace

from gx_helpers import DATA_DATE, REFERENCE_TIME, RUN_ID, sql

from expectations import run_raw_gate
from expectations.config import QualityConfig, load_config
from expectations.suites.raw import RULES, TableRules, table_suite
from include.core.contracts import CAFE24_ORDERS
from include.core.settings import get_settings


def test_results_land_in_the_warehouse_and_a_rerun_replaces_them(wh, report_dir):
    first = run_raw_gate(
        wh.path, DATA_DATE, RUN_ID, wh.run_load_ids(), reference_time=REFERENCE_TIME, report_dir=report_dir
    )
    q = "select count(*) from quality.gate_results where run_id = ? and data_date = ? and gate = 'raw'"
    assert (
        sql(wh.path, q, [RUN_ID, DATA_DATE])[0][0] == first.counts["evaluated"] == first.counts["stored_rows"]
    )
    # rerun of the same run after a fault: the rows are replaced, not appended
    sql(
        wh.path,
        "update raw_cafe24.orders set currency = 'USD' where _dlt_load_id = ?",
        [wh.load_ids[DATA_DATE]],
    )
    second = run_raw_gate(
        wh.path, DATA_DATE, RUN_ID, wh.run_load_ids(), reference_time=REFERENCE_TIME, report_dir=report_dir
    )
    assert sql(wh.path, q, [RUN_ID, DATA_DATE])[0][0] == second.counts["evaluated"]
    rows = sql(
        wh.path,
        "select suite, table_name, column_name, severity, observed_value, details, evaluated_at "
        "from quality.gate_results where run_id = ? and not success and severity = 'critical'",
        [RUN_ID],
    )
    assert len(rows) == 1
    suite, table, column, severity, observed, details, evaluated_at = rows[0]
    assert (suite, table, column, severity) == (
        "raw.v2.raw_cafe24.orders",
        "raw_cafe24.orders",
        "currency",
        "critical",
    )
    assert observed.endswith(f"of {second.counts['rows']['raw_cafe24.orders']} rows")
    assert json.loads(details)["reason"].startswith("raw_cafe24.orders.currency has ")
    assert evaluated_at == REFERENCE_TIME  # the run's time, not the wall clock
    # another run id keeps its own rows
    run_raw_gate(
        wh.path,
        DATA_DATE,
        "manual__rerun",
        wh.run_load_ids(),
        reference_time=REFERENCE_TIME,
        report_dir=report_dir,
    )
    assert sql(wh.path, "select count(distinct run_id) from quality.gate_results")[0][0] == 2


def test_report_goes_to_the_run_folder_by_default(wh, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_RUNS_DIR", str(tmp_path / "runs"))
    get_settings.cache_clear()
    try:
        result = run_raw_gate(wh.path, DATA_DATE, RUN_ID, wh.run_load_ids(), reference_time=REFERENCE_TIME)
    finally:
        get_settings.cache_clear()
    assert result.report_path == tmp_path / "runs" / "2026-11-22" / "quality" / "raw_gate.html"
    html = result.report_path.read_text(encoding="utf-8")
    assert "원천 데이터 검사" in html and "Thresholds used" in html and "raw.volume_high_factor" in html
    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"


def test_required_columns_follow_the_contract():
    # a new required column in the contract is checked without touching the suites
    widened = replace(
        CAFE24_ORDERS,
        columns={**CAFE24_ORDERS.columns, "pg_name": "text"},
        required=(*CAFE24_ORDERS.required, "pg_name"),
    )
    rules: TableRules = replace(RULES["raw_cafe24.orders"], table=widened)
    suite = table_suite(rules, QualityConfig().raw, empty=False)
    kinds = {(type(e).__name__, getattr(e, "column", None)) for e in suite.expectations}
    assert ("ExpectColumnProportionOfNonNullValuesToBeBetween", "pg_name") in kinds
    columns = next(e for e in suite.expectations if type(e).__name__ == "ExpectTableColumnsToMatchSet")
    assert "pg_name" in columns.column_set
    # keys get not-null + unique, amounts ≥ 0, every timestamp an upper bound
    assert ("ExpectColumnValuesToBeUnique", "order_id") in kinds
    assert ("ExpectColumnValuesToBeBetween", "refund_amount") in kinds
    assert ("ExpectColumnValuesToBeBetween", "shipend_date") in kinds
    # on an empty batch the "not all null" checks are left out (nothing to judge)
    empty = table_suite(rules, QualityConfig().raw, empty=True)
    assert not any(
        type(e).__name__ == "ExpectColumnProportionOfNonNullValuesToBeBetween" for e in empty.expectations
    )


def test_thresholds_load_from_a_file(tmp_path):
    path = tmp_path / "quality.yml"
    path.write_text(
        "raw:\n  volume_high_factor: 3\nmarts:\n  segment_share_max_change: 0.05\n", encoding="utf-8"
    )
    cfg = load_config(path)
    assert cfg.raw.volume_high_factor == 3 and cfg.marts.segment_share_max_change == 0.05
    assert cfg.raw.phone_invalid_max_share == QualityConfig().raw.phone_invalid_max_share
