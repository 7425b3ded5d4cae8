"""The marketing-cycle report against the real small warehouse: every number equals an independent query, the page
is self-contained, and empty, missing, stale and failed-quality states render as messages, not broken charts."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from outputs import labels as L
from outputs.report import build_report
from outputs.report.build import fmt_krw, fmt_pp
from outputs.report.data import verdict

KST = ZoneInfo("Asia/Seoul")
SEG = ("G1", "G2", "G3", "G4")


def q(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def blob(html: str, element_id: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert m, element_id
    return json.loads(m.group(1))


def build(warehouse: Path, built, out: Path, **kw) -> tuple[dict, str]:
    path = build_report(warehouse, kw.pop("data_date", built.data_date), kw.pop("run_id", built.run_id),
                        out / "report.html", **kw)  # fmt: skip
    return json.loads((out / "report.json").read_text("utf-8")), path.read_text("utf-8")


@pytest.fixture(scope="module")
def full(built, tmp_path_factory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("report")
    report, html = build(
        built.warehouse, built, out, quality_dir=built.quality_dir, extras={"note": "010-1234-5678"}
    )
    return report, html, out


@pytest.mark.integration
def test_kpis_segments_and_transitions_equal_the_warehouse(built, full) -> None:
    report, _, _ = full
    s, d, wh = report["sections"], built.data_date, built.warehouse
    k = s["kpis"]
    assert k["customers"] == q(wh, "select count(*) from marts.dim_customers")[0][0]
    buyers, orders, revenue = q(wh, "select count(distinct customer_id), count(*), sum(net_revenue_krw) "
                                    "from marts.fct_orders where order_date = ? and not is_cancelled", [d])[0]  # fmt: skip
    assert (k["buyers"], k["orders"], k["revenue_krw"]) == (buyers, orders, revenue)
    (sent,) = q(wh, "select sum(sent) from marts.fct_message_funnel where arm = 'treatment'")[0]
    assert k["messages_sent"] == sent > 0
    cards = {c["key"]: c for c in report["kpi_cards"]}
    assert (
        cards["customers"]["value"] == k["customers"]
        and cards["customers"]["display"] == f"{k['customers']:,}명"
    )

    seg = s["segments"]
    rows = q(wh, "select segment_date, segment, count(*) from marts.fct_customer_segments_daily "
                 "where segment_date <= ? group by all", [d])  # fmt: skip
    by = {(x.isoformat(), g): n for x, g, n in rows}
    assert seg["dates"] == sorted({x for x, _ in by})
    assert len(seg["dates"]) >= 20 and seg["has_history"]
    for g in SEG:
        assert seg["series"][g] == [by.get((x, g), 0) for x in seg["dates"]]
        assert seg["today"][g] == by[(d.isoformat(), g)]

    tr = s["transitions"]
    moved = dict(((f, t), n) for f, t, n in q(wh, "select coalesce(from_segment, 'new'), to_segment, count(*) from "
                 "marts.fct_segment_transitions where transition_date = ? group by all", [d]))  # fmt: skip
    stayed = dict(q(wh, "select t.segment, count(*) from marts.fct_customer_segments_daily t "
                        "join marts.fct_customer_segments_daily y on y.customer_id = t.customer_id "
                        "and y.segment_date = t.segment_date - 1 and y.segment = t.segment "
                        "where t.segment_date = ? group by all", [d]))  # fmt: skip
    assert tr["from"] == ["new", *SEG] and tr["to"] == list(SEG)
    for i, f in enumerate(tr["from"]):
        for j, t in enumerate(tr["to"]):
            expect = stayed.get(t, 0) if f == t else moved.get((f, t), 0)
            assert tr["matrix"][i][j] == expect, (f, t)
    assert tr["moved"] == sum(n for (f, _), n in moved.items() if f != "new") > 0


@pytest.mark.integration
def test_tiers_inflow_reviews_subscriptions_and_coviews_equal_the_warehouse(built, full) -> None:
    report, _, _ = full
    s, d, wh = report["sections"], built.data_date, built.warehouse
    tiers = dict(q(wh, "select tier, count(*) from marts.dim_customers group by all"))
    policy = {t: (code, pct) for t, code, pct in q(wh, "select tier, benefit_code, benefit_discount_pct "
                                                       "from marts.tier_benefit_policy")}  # fmt: skip
    assert [t["tier"] for t in s["tiers"]["tiers"]] == list(L.TIER_ORDER)
    for t in s["tiers"]["tiers"]:
        assert t["customers"] == tiers.get(t["tier"], 0)
        assert (t["benefit_code"], t["benefit_discount_pct"]) == policy[t["tier"]]

    inflow = {c["acquisition_channel"]: c for c in s["inflow"]["channels"]}
    rows = q(wh, "select acquisition_channel, sum(sessions), sum(product_view_sessions), sum(purchase_sessions) "
                 "from marts.fct_inflow_funnel_daily where funnel_date between ? and ? group by all",
             [d - timedelta(days=6), d])  # fmt: skip
    assert set(inflow) == {r[0] for r in rows} and "organic_search" in inflow
    for ch, sessions, views, purchases in rows:
        c = inflow[ch]
        assert (c["sessions"], c["product_view_sessions"], c["purchase_sessions"]) == (
            sessions,
            views,
            purchases,
        )
        assert c["step_rates"]["product_view_sessions"] == pytest.approx(views / sessions)
        assert c["reach_rates"]["purchase_sessions"] == pytest.approx(purchases / sessions)

    rv = s["reviews"]
    hist = q(wh, "select delivered_date, share_products_at_review_target from marts.fct_review_funnel "
                 "where delivered_date <= ? and delivered_date > ? order by 1", [d, d - timedelta(days=180)])  # fmt: skip
    assert rv["dates"] == [x.isoformat() for x, _ in hist]
    assert rv["share"] == pytest.approx([v for _, v in hist])
    delivered, requested, reviewed = q(wh, "select sum(delivered_orders), sum(review_requested_orders), "
                                           "sum(reviewed_orders) from marts.fct_review_funnel "
                                           "where delivered_date between ? and ?", [d - timedelta(days=29), d])[0]  # fmt: skip
    assert (rv["funnel"]["delivered_orders"], rv["funnel"]["review_requested_orders"],
            rv["funnel"]["reviewed_orders"]) == (delivered, requested, reviewed)  # fmt: skip
    assert requested > 0  # the review-request campaign of the history fed the funnel

    subs = {b["remaining_bucket"]: b for b in s["subscriptions"]["buckets"]}
    for bucket, active, auto in q(wh, "select remaining_bucket, active, active_auto_renewal "
                                      "from marts.fct_subscription_funnel"):  # fmt: skip
        assert (subs[bucket]["active"], subs[bucket]["active_auto_renewal"]) == (active, auto)

    got = {(h["hero_product_no"], c["coview_rank"]): c["coview_sessions"] for h in s["coviews"]["heroes"]
           for c in h["coviews"]}  # fmt: skip
    expect = {(h, r): n for h, r, n in q(wh, "select hero_product_no, coview_rank, coview_sessions "
                                             "from marts.fct_hero_product_coviews where coview_rank <= 5")}  # fmt: skip
    assert got == expect and got


@pytest.mark.integration
def test_campaigns_lift_and_verdicts_follow_the_confidence_interval(built, full) -> None:
    report, _, _ = full
    s, wh = report["sections"], built.warehouse
    funnel = {(r[0], r[1], r[2]): r[3:] for r in q(wh, "select campaign_id, variant, arm, sent, delivered, clicked, "
                                                       "converted from marts.fct_message_funnel")}  # fmt: skip
    assert {(r["campaign_id"], r["variant"], r["arm"]): (r["sent"], r["delivered"], r["clicked"], r["converted"])
            for r in s["message_funnel"]["rows"]} == funnel  # fmt: skip
    results = {(r[0], r[1]): r[2:] for r in q(wh, "select campaign_id, variant, recipients, comparison_recipients, "
                                                  "absolute_lift, absolute_lift_ci_low, absolute_lift_ci_high, "
                                                  "relative_lift from marts.fct_campaign_results")}  # fmt: skip
    verdicts = set()
    for r in s["campaign_results"]["rows"]:
        n, m, lift, low, high, rel = results[(r["campaign_id"], r["variant"])]
        assert (r["recipients"], r["comparison_recipients"]) == (n, m)
        assert (r["absolute_lift"], r["absolute_lift_ci_low"], r["absolute_lift_ci_high"]) == pytest.approx(
            (lift, low, high)
        )
        assert r["relative_lift"] == pytest.approx(rel)
        assert (r["verdict"] == L.VERDICT_UP) == (low > 0)
        verdicts.add(r["verdict"])
    assert r["campaign_name"] != r["campaign_id"]  # Korean names from the campaign files
    assert {
        L.VERDICT_UP,
        L.VERDICT_UNCLEAR,
    } <= verdicts  # the history has a campaign that works and one that does not


@pytest.mark.integration
def test_quality_section_reads_this_runs_gates(built, full) -> None:
    report, html, out = full
    q_ = report["sections"]["quality"]
    gates = {g["gate"]: g for g in q_["gates"]}
    rows = q(built.warehouse, "select gate, count(*), count(case when success then 1 end), "
                              "count(case when not success and severity = 'critical' then 1 end) "
                              "from quality.gate_results where run_id = ? group by all", [built.run_id])  # fmt: skip
    for gate, n, ok, critical in rows:
        assert (gates[gate]["checks"], gates[gate]["passed"]) == (n, ok)
        assert gates[gate]["status"] == ("FAIL" if critical else "WARN" if ok < n else "PASS")
        assert (out / gates[gate]["report_href"]).resolve() == (
            built.quality_dir / f"{gate}_gate.html"
        ).resolve()
        assert f'href="{gates[gate]["report_href"]}"' in html
    assert set(gates) == {"raw", "marts"} and q_["overall"] == "PASS"
    assert 'id="quality-badge">데이터 품질 통과' in html


@pytest.mark.integration
def test_page_is_self_contained_and_carries_the_same_numbers(full) -> None:
    report, html, _ = full
    assert blob(html, "report-data") == report
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html), (
        "the page must not load anything"
    )
    assert "@import" not in html and "plotly.js v" in html
    assert 'lang="ko"' in html and "Nanum Gothic" in html
    figures = blob(html, "report-figures")
    assert sorted(figures) == sorted(report["charts"]) and len(figures) == 9
    for chart_id in figures:
        assert f'id="{chart_id}" data-chart="{chart_id}" data-section="{report["charts"][chart_id]}"' in html
    seg = report["sections"]["segments"]
    assert [t["y"] for t in figures["chart-segments"]["data"]] == [seg["series"][g] for g in SEG]
    lift = figures["chart-campaign-lift"]["data"][0]
    rows = [r for r in report["sections"]["campaign_results"]["rows"] if r["absolute_lift"] is not None]
    assert lift["x"] == [r["absolute_lift"] for r in rows]
    assert [x + e for x, e in zip(lift["x"], lift["error_x"]["array"], strict=True)] == pytest.approx(
        [r["absolute_lift_ci_high"] for r in rows])  # fmt: skip
    assert "010-****-5678" in html and "010-1234-5678" not in html  # extras are masked


@pytest.mark.integration
def test_rebuilding_gives_identical_files(built, tmp_path) -> None:
    files = {}
    for attempt in ("first", "second"):
        build(built.warehouse, built, tmp_path, quality_dir=built.quality_dir)
        files[attempt] = [(tmp_path / n).read_bytes() for n in ("report.html", "report.json")]
    assert files["first"] == files["second"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.integration
def test_no_campaigns_and_first_run_render_messages(built, wh_copy, tmp_path) -> None:
    d = built.data_date
    with duckdb.connect(str(wh_copy)) as con:
        con.execute("delete from marts.fct_message_funnel")
        con.execute("delete from marts.fct_campaign_results")
        con.execute("delete from marts.fct_customer_segments_daily where segment_date < ?", [d])
        con.execute("delete from marts.fct_segment_transitions")
    report, html = build(wh_copy, built, tmp_path)
    s = report["sections"]
    assert s["message_funnel"]["status"] == s["campaign_results"]["status"] == "empty"
    assert s["transitions"]["status"] == "empty" and "첫 실행" in s["transitions"]["message"]
    assert s["segments"]["status"] == "ok" and not s["segments"]["has_history"]
    assert {"chart-message-funnel", "chart-campaign-lift", "chart-transitions"}.isdisjoint(report["charts"])
    assert "chart-segments" in report["charts"]  # today's bars instead of the area chart
    for key in ("message_funnel", "campaign_results", "transitions"):
        assert s[key]["message"] in html
    assert html.count('class="empty-state"') >= 3
    assert "아직 홀드아웃과 비교할 캠페인 결과가 없습니다." in report["headlines"]


@pytest.mark.integration
def test_missing_tables_and_missing_warehouse_render_messages(built, wh_copy, tmp_path) -> None:
    with duckdb.connect(str(wh_copy)) as con:
        con.execute("drop table marts.fct_inflow_funnel_daily")
    report, html = build(wh_copy, built, tmp_path / "a")
    assert report["sections"]["inflow"]["status"] == "missing"
    assert "marts.fct_inflow_funnel_daily" in report["sections"]["inflow"]["message"]
    assert report["sections"]["kpis"]["status"] == "ok"
    report, html = build(tmp_path / "never-built.duckdb", built, tmp_path / "b")
    assert {v["status"] for v in report["sections"].values()} == {"missing"}
    assert report["charts"] == {} and report["kpi_cards"] == []
    assert "데이터 품질 결과 없음" in html


@pytest.mark.integration
def test_marts_of_another_date_are_not_shown_as_this_dates(built, tmp_path) -> None:
    d = built.data_date - timedelta(days=1)
    report, _ = build(built.warehouse, built, tmp_path, data_date=d)
    s = report["sections"]
    for key in ("kpis", "tiers", "campaign_results", "message_funnel", "subscriptions", "coviews"):
        assert s[key]["status"] == "empty" and s[key].get("stale"), key
    assert s["segments"]["status"] == "ok" and s["segments"]["dates"][-1] == d.isoformat()


@pytest.mark.integration
def test_failed_quality_gate_is_shown_with_its_fault(built, wh_copy, tmp_path) -> None:
    from expectations import run_marts_gate

    with duckdb.connect(str(wh_copy)) as con:
        con.execute(
            "insert into marts.dim_customers select * from marts.dim_customers order by customer_id limit 1"
        )
    end = datetime.combine(built.data_date + timedelta(days=1), time(0), KST)
    result = run_marts_gate(
        wh_copy, built.data_date, "manual__rerun", reference_time=end, report_dir=tmp_path / "q"
    )
    assert result.status == "FAIL"
    report, html = build(wh_copy, built, tmp_path / "r", run_id="manual__rerun", quality_dir=tmp_path / "q")
    q_ = report["sections"]["quality"]
    gates = {g["gate"]: g for g in q_["gates"]}
    assert q_["overall"] == "FAIL" and gates["marts"]["status"] == "FAIL" and gates["marts"]["from_this_run"]
    assert not gates["raw"]["from_this_run"] and gates["raw"]["run_id"] == built.run_id
    faults = gates["marts"]["faults"]
    assert any(f["severity"] == "critical" and f["table_name"] == "marts.dim_customers" for f in faults)
    assert 'class="alert FAIL"' in html and "품질 검사 실패" in html
    assert "데이터 품질 검사: 실패." in report["headlines"]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"comparison_recipients": 100, "absolute_lift_ci_low": 0.001, "absolute_lift_ci_high": 0.05}, L.VERDICT_UP),
        ({"comparison_recipients": 100, "absolute_lift_ci_low": -0.001, "absolute_lift_ci_high": 0.05}, L.VERDICT_UNCLEAR),
        ({"comparison_recipients": 100, "absolute_lift_ci_low": 0.0, "absolute_lift_ci_high": 0.05}, L.VERDICT_UNCLEAR),
        ({"comparison_recipients": 100, "absolute_lift_ci_low": -0.09, "absolute_lift_ci_high": -0.01}, L.VERDICT_DOWN),
        ({"comparison_recipients": 0, "absolute_lift_ci_low": 0.1, "absolute_lift_ci_high": 0.2}, L.VERDICT_NO_COMPARISON),
        ({"comparison_recipients": 50, "absolute_lift_ci_low": None, "absolute_lift_ci_high": None},
         L.VERDICT_NOT_MEASURABLE),
    ],
)  # fmt: skip
def test_verdict_says_significant_only_when_the_ci_excludes_zero(row: dict, expected: str) -> None:
    assert verdict(row) == expected


def test_korean_number_formats() -> None:
    assert fmt_krw(123_456_789) == "1.23억원"
    assert fmt_krw(1_234_567) == "123만원"
    assert fmt_krw(9_900) == "9,900원"
    assert fmt_krw(None) == "–"
    assert fmt_pp(0.0123) == "+1.23%p" and fmt_pp(-0.005) == "-0.50%p"
