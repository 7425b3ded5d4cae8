"""The report in headless Chromium (Debian's /usr/bin/chromium through Playwright; no browser is ever downloaded):
no JS errors or network, every chart drawn as SVG, the numbers on screen equal the warehouse's, Hangul rendered
with a Korean font. Saves full-page screenshots under artifacts/report/ (and docs/img/report.png when
CRM_UPDATE_DOC_IMAGES=1)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from browser_support import DRAWN_JS, launch, open_report, platform_fonts

from outputs import labels as L
from outputs.report import build_report

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def q(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def test_full_report_renders_every_chart_with_the_warehouse_numbers(
    browser, built, artifacts_dir, tmp_path
) -> None:
    out = tmp_path / "report.html"
    build_report(built.warehouse, built.data_date, built.run_id, out, quality_dir=built.quality_dir)
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    page, errors, outside = open_report(browser, out)
    try:
        assert page.get_attribute("body", "data-charts-ready") == "true"
        # every chart: a plotly graph div with its traces drawn as SVG paths or heatmap images
        drawn = {c["id"]: c for c in page.evaluate(DRAWN_JS)}
        assert sorted(drawn) == sorted(report["charts"]) and len(drawn) == 9
        for c in drawn.values():
            assert c["traces"] >= 1 and c["groups"] >= c["traces"] and c["shapes"] >= 1, c

        # the numbers on screen equal the warehouse's
        d, wh = built.data_date, built.warehouse
        (customers,) = q(wh, "select count(*) from marts.dim_customers")[0]
        kpi = page.locator('[data-kpi="customers"]')
        assert kpi.get_attribute("data-value") == str(customers)
        assert kpi.locator(".value").inner_text() == f"{customers:,}명"
        seg = dict(q(wh, "select segment, count(*) from marts.fct_customer_segments_daily "
                         "where segment_date = ? group by all", [d]))  # fmt: skip
        for code in ("G1", "G2", "G3", "G4"):
            card = page.locator(f'[data-segment="{code}"]')
            assert card.get_attribute("data-value") == str(seg[code])
            assert f"{seg[code]:,}명" in card.inner_text() and L.SEGMENTS[code]["name"] in card.inner_text()
        last = page.evaluate(
            "() => document.getElementById('chart-segments').data.map(t => [t.meta, t.y.at(-1)])"
        )
        assert dict(last) == seg
        moved = dict(((f, t), n) for f, t, n in q(wh, "select coalesce(from_segment, 'new'), to_segment, count(*) "
                     "from marts.fct_segment_transitions where transition_date = ? group by all", [d]))  # fmt: skip
        z = page.evaluate("() => document.getElementById('chart-transitions').data[0].z")
        for i, f in enumerate(("new", "G1", "G2", "G3", "G4")):
            for j, t in enumerate(("G1", "G2", "G3", "G4")):
                assert z[i][j] == (None if f == t else moved.get((f, t), 0)), (f, t)
        lifts = {(c, v): (lift, low, high) for c, v, lift, low, high in q(wh, "select campaign_id, variant, "
                 "absolute_lift, absolute_lift_ci_low, absolute_lift_ci_high from marts.fct_campaign_results")}  # fmt: skip
        rows = page.locator("#lift-table tr[data-campaign]")
        assert rows.count() == len(lifts)
        x = page.evaluate("() => document.getElementById('chart-campaign-lift').data[0].x")
        for i in range(rows.count()):
            row = rows.nth(i)
            lift, low, high = lifts[(row.get_attribute("data-campaign"), row.get_attribute("data-variant"))]
            assert float(row.get_attribute("data-lift")) == pytest.approx(lift) == pytest.approx(x[i])
            verdict = row.get_attribute("data-verdict")
            assert (verdict == L.VERDICT_UP) == (low > 0) and verdict in row.inner_text()
        coviews = {(h, p): n for h, p, n in q(wh, "select hero_product_no, coviewed_product_no, coview_sessions "
                                                  "from marts.fct_hero_product_coviews where coview_rank <= 5")}  # fmt: skip
        cells = page.evaluate("""() => Array.from(document.querySelectorAll('.hero tr[data-rank]')).map(tr =>
            [tr.closest('.hero').dataset.hero, tr.dataset.product, tr.dataset.sessions])""")
        assert {(int(h), int(p)): int(n) for h, p, n in cells} == coviews
        assert page.evaluate("() => JSON.parse(document.getElementById('report-data').textContent)") == report

        # Hangul is drawn with a Korean font, in HTML and inside the SVG charts
        for selector in ("header.top h1", "#chart-segments g.legend text"):
            fonts = platform_fonts(page, selector)
            assert any("Nanum" in f["familyName"] and f["glyphCount"] > 0 for f in fonts), (selector, fonts)
        assert page.evaluate("() => document.fonts.check('16px NanumGothic', '가나다')")
        assert "Nanum Gothic" in page.evaluate("() => getComputedStyle(document.body).fontFamily")
        width = page.evaluate("""() => { const r = document.createRange();
            r.selectNodeContents(document.querySelector('header.top h1')); return r.getBoundingClientRect().width; }""")
        assert width > 100  # "마케팅 사이클 리포트" at 28px

        assert errors == [] and outside == []
        shot = artifacts_dir / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000
        if os.environ.get("CRM_UPDATE_DOC_IMAGES") == "1":  # the README's picture: header to the tier section
            bottom = page.locator("#tiers").bounding_box()
            height = bottom["y"] + bottom["height"] + 24 + page.evaluate("() => window.scrollY")
            page.screenshot(path=str(ROOT / "docs" / "img" / "report.png"), full_page=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": height})  # fmt: skip
    finally:
        page.close()


def test_empty_states_render_as_messages(browser, built, wh_copy, artifacts_dir, tmp_path) -> None:
    with duckdb.connect(str(wh_copy)) as con:
        con.execute("delete from marts.fct_message_funnel")
        con.execute("delete from marts.fct_campaign_results")
        con.execute("delete from marts.fct_customer_segments_daily where segment_date < ?", [built.data_date])
        con.execute("delete from marts.fct_segment_transitions")
        con.execute("drop table quality.gate_results")
    out = tmp_path / "report.html"
    build_report(wh_copy, built.data_date, built.run_id, out)
    page, errors, outside = open_report(browser, out)
    try:
        assert errors == [] and outside == []
        for chart_id in ("chart-message-funnel", "chart-campaign-lift", "chart-transitions"):
            assert page.locator(f"#{chart_id}").count() == 0
            box = page.locator(f'[data-empty-for="{chart_id}"]').bounding_box()
            assert box and box["height"] > 40, chart_id
        assert "아직 발송된 캠페인이 없습니다" in page.inner_text("#campaigns")
        assert page.locator('[data-empty-for="quality"]').is_visible()
        drawn = {c["id"]: c for c in page.evaluate(DRAWN_JS)}
        assert drawn["chart-segments"]["shapes"] >= 4  # first run: today's bars
        page.screenshot(path=str(artifacts_dir / "report_empty_states.png"), full_page=True)
    finally:
        page.close()
    missing = tmp_path / "missing" / "report.html"
    build_report(tmp_path / "nothing.duckdb", built.data_date, built.run_id, missing)
    page, errors, outside = open_report(browser, missing)
    try:
        assert errors == [] and outside == [] and page.get_attribute("body", "data-charts-ready") == "true"
        assert page.locator(".empty-state").count() >= 10
    finally:
        page.close()
    shutil.rmtree(tmp_path / "missing")
