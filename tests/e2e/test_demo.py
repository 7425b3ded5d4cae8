"""The README's main job end to end: Airflow runs crm_nightly and the due campaign DAGs against the emulators; a second
run of the same date sends nothing and leaves every dbt-built table identical; no log line carries a secret or a raw
contact; the run's own report renders in headless Chromium with the run's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from browser_support import DRAWN_JS, launch, open_report

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def test_first_run_succeeds_and_prints_the_summary(demo) -> None:
    run = demo.first
    assert run.returncode == 0, run.stdout[-4000:]
    out = run.stdout
    assert "=== CRM nightly · data date 2026-11-22 · OK ===" in out
    for label in ("extracted", "quality", "segments", "tiers", "audiences", "messages", "outputs"):
        assert re.search(rf"^{label}\s", out, re.M), label
    states = {r["dag_id"]: r["state"] for r in run.result["runs"]}
    assert states["crm_nightly"] == "success"
    campaigns = [d for d in states if d.startswith("crm_campaign__")]
    assert campaigns and all(states[d] == "success" for d in campaigns)
    assert run.result["sends"]["new_sent"] > 0
    # the summary's numbers are the warehouse's
    with duckdb.connect(str(demo.warehouse), read_only=True) as con:
        segments = dict(
            con.execute(
                "select segment, count(*) from marts.fct_customer_segments_daily "
                "where segment_date = '2026-11-22' group by 1"
            ).fetchall()
        )
    for code, n in segments.items():
        assert f"{code} {n:,}" in out
    for path in (
        "report.html",
        "report.json",
        "summary.json",
        "dbt_docs/static_index.html",
        "audiences/manifest.json",
    ):
        assert (demo.run_dir / path).is_file(), path
    assert list((demo.run_dir / "quality").glob("*.html"))


def test_second_run_sends_nothing_and_rebuilds_identical_tables(demo) -> None:
    first, second = demo.first, demo.second
    assert second.returncode == 0, second.stdout[-4000:]
    assert second.result["sends"]["new_sent"] == 0
    assert (
        "0 accepted by the messaging provider during this run (a rerun sends nothing twice)" in second.stdout
    )
    assert second.result["sends"]["by_status"] == first.result["sends"]["by_status"]
    assert len(first.fingerprint) >= 30
    changed = {t for t in first.fingerprint if first.fingerprint[t] != second.fingerprint.get(t)}
    assert changed == set(), changed


def _shop_contacts(shop: Path) -> set[str]:
    contacts: set[str] = set()
    for name, cols in (("customers", ("cellphone", "email")), ("orders", ("buyer_cellphone", "buyer_email"))):
        for path in shop.glob(f"{name}*.parquet"):
            table = pq.read_table(path, columns=[c for c in cols if c in pq.read_schema(path).names])
            for col in table.column_names:
                for value in table.column(col).to_pylist():
                    if value and len(value) >= 8:
                        contacts.add(value)
                        digits = re.sub(r"\D", "", value)
                        if "@" not in value and len(digits) >= 10:
                            contacts.add(digits)
    return contacts


def test_logs_carry_no_secret_and_no_raw_contact(demo) -> None:
    logs = [*demo.run_dir.glob("logs/*.log"), demo.root / "demo_first.log", demo.root / "demo_second.log"]
    logs += list((demo.root / "airflow" / "logs").rglob("*.log"))
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())
    assert len(text) > 10_000, "the run should have logged something"
    for secret in demo.secrets:
        assert secret not in text, "an emulator credential reached a log"
    contacts = _shop_contacts(demo.data_dir / "shop")
    assert len(contacts) > 500
    leaked = [c for c in contacts if c in text]
    assert leaked == [], f"{len(leaked)} raw contacts in logs, e.g. {leaked[:1]!r}"


def test_the_runs_report_renders_in_chromium_with_the_runs_numbers(demo) -> None:
    import json

    from playwright.sync_api import sync_playwright

    report = json.loads((demo.run_dir / "report.json").read_text("utf-8"))
    with sync_playwright() as p:
        browser = launch(p)
        page, errors, outside = open_report(browser, demo.run_dir / "report.html")
        try:
            drawn = {c["id"]: c for c in page.evaluate(DRAWN_JS)}
            assert set(report["charts"]) <= set(drawn) and len(drawn) >= 6
            for chart in drawn.values():
                assert chart["traces"] >= 1 and chart["shapes"] >= 1, chart
            with duckdb.connect(str(demo.warehouse), read_only=True) as con:
                (customers,) = con.execute("select count(*) from marts.dim_customers").fetchone()
                segments = dict(
                    con.execute(
                        "select segment, count(*) from marts.fct_customer_segments_daily "
                        "where segment_date = '2026-11-22' group by 1"
                    ).fetchall()
                )
                (sent,) = con.execute(
                    "select coalesce(sum(sent), 0) from marts.fct_message_funnel where arm = 'treatment'"
                ).fetchone()
            assert page.locator('[data-kpi="customers"]').get_attribute("data-value") == str(customers)
            for code, n in segments.items():
                assert page.locator(f'[data-segment="{code}"]').get_attribute("data-value") == str(n)
            assert report["sections"]["kpis"]["messages_sent"] == sent
            assert errors == [] and outside == []
            shot = ROOT / "artifacts" / "e2e" / "report.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
        finally:
            page.close()
            browser.close()


def test_the_demo_leaves_airflow_quiet(demo) -> None:
    """Issue 18: after the demo, starting a scheduler (`make airflow-ui`) must start no campaign run by itself — every
    DAG the demo registered is paused and no asset event is left queued for a triggered campaign."""
    import sqlite3

    assert "Airflow left quiet:" in demo.second.stdout
    with sqlite3.connect(demo.root / "airflow" / "airflow.db") as con:
        dags = dict(con.execute("select dag_id, is_paused from dag").fetchall())
        queued = con.execute("select count(*) from asset_dag_run_queue").fetchone()[0]
    assert "crm_nightly" in dags and any(d.startswith("crm_campaign__") for d in dags)
    assert [d for d, paused in dags.items() if not paused] == []
    assert queued == 0
