"""The dbt project built on DuckDB against a generated shop: tests pass, and the marts say what the domain asks.

Expectations are recomputed here independently of the SQL (tiers from raw orders in Python, percentile thresholds,
lift statistics), so a wrong model cannot agree with itself.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

import duckdb
import pytest
from dbt_helpers import END, KST, ROOT, columns, run_dbt

pytestmark = pytest.mark.integration

TIER_BOUNDS = (("loyal", 10), ("repeat", 3), ("second", 2), ("first", 1))


def _con(build) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(build.warehouse), read_only=True)


def test_build_runs_models_data_tests_and_unit_tests(duckdb_build) -> None:
    summary = re.search(r"Finished running (.*) in ", duckdb_build.stdout)
    assert summary, duckdb_build.stdout[-2000:]
    counts = {
        kind: int(n)
        for n, kind in re.findall(r"(\d+) ((?:data tests|unit tests|incremental models))", summary[1])
    }
    assert counts["unit tests"] >= 12
    assert counts["data tests"] >= 250
    assert counts["incremental models"] >= 7
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0 SKIP=0", duckdb_build.stdout)


def _guest_key(phone: str | None, order_id: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return "guest_" + hashlib.md5((digits or f"order:{order_id}").encode()).hexdigest()[:12]


def test_tiers_match_orders_recounted_from_raw(duckdb_build) -> None:
    """Non-cancelled orders placed by the end of run_date, counted in Python from the raw layer, give each tier."""
    end = datetime.combine(END + timedelta(days=1), time(0), KST)
    with _con(duckdb_build) as con:
        raw = con.execute(
            "select order_id, member_id, buyer_cellphone, order_date, canceled, order_status, cancel_date, "
            "updated_date from raw_cafe24.orders"
        ).fetchall()
        dim = dict(con.execute("select customer_id, tier from marts.dim_customers").fetchall())
    counts: Counter[str] = Counter()
    for order_id, member, phone, ordered, canceled, status, cancel_date, updated in raw:
        if ordered >= end:
            continue
        cancelled_at = (
            (cancel_date or updated) if (canceled == "T" or (status or "").startswith("C")) else None
        )
        if cancelled_at is not None and cancelled_at < end:
            continue
        counts[member or _guest_key(phone, order_id)] += 1
    expected = {}
    for customer in dim:
        n = counts.get(customer, 0)
        expected[customer] = next((tier for tier, low in TIER_BOUNDS if n >= low), "prospect")
    assert dim == expected
    assert set(dim.values()) == {"prospect", "first", "second", "repeat", "loyal"}


def _percentile_disc(values: list, p: float):
    ordered = sorted(values)
    return ordered[max(math.ceil(p * len(ordered)) - 1, 0)]


def test_segments_follow_stored_scores_and_percentile_thresholds(duckdb_build) -> None:
    with _con(duckdb_build) as con:
        rows = con.execute(
            "select segment, interest_score, conversion_score, interest_threshold, conversion_threshold, "
            "threshold_mode from marts.dim_customers"
        ).fetchall()
    assert {r[5] for r in rows} == {"percentile"}
    interest_cut = _percentile_disc([r[1] for r in rows if r[1] > 0], 0.5)
    conversion_cut = _percentile_disc([r[2] for r in rows if r[2] > 0], 0.5)
    groups: Counter[str] = Counter()
    for segment, interest, conversion, i_cut, c_cut, _ in rows:
        assert (i_cut, c_cut) == (interest_cut, conversion_cut)
        high_i = interest > 0 and interest >= i_cut
        high_c = conversion > 0 and conversion >= c_cut
        assert (
            segment
            == {(False, False): "G1", (True, False): "G2", (False, True): "G3", (True, True): "G4"}[
                (high_i, high_c)
            ]
        )
        groups[segment] += 1
    assert set(groups) == {"G1", "G2", "G3", "G4"}, groups


def test_first_run_has_transitions_from_data(duckdb_build) -> None:
    """Transitions compare run_date with the day before recomputed from data, so even the first run has them."""
    with _con(duckdb_build) as con:
        moved = con.execute(
            "select count(*) from marts.fct_segment_transitions where transition_date = ? and not is_new_customer",
            [END],
        ).fetchone()[0]
        audience = con.execute("select count(*) from audiences.audience_segment_transitions").fetchone()[0]
        yesterday = dict(
            con.execute(
                "select customer_id, segment from marts.fct_customer_segments_daily where segment_date = ?",
                [END - timedelta(days=1)],
            ).fetchall()
        )
        today = dict(
            con.execute(
                "select customer_id, segment from marts.fct_customer_segments_daily where segment_date = ?",
                [END],
            ).fetchall()
        )
    changed = sum(1 for c, s in today.items() if c in yesterday and yesterday[c] != s)
    assert moved > 0 and moved == changed == audience


def _contract_columns() -> tuple[list[str], dict[str, list[str]]]:
    """Common audience columns and each kind's extra columns, read from docs/data_model.md."""
    text = (ROOT / "docs" / "data_model.md").read_text()
    section = text.split("## Audience contract", 1)[1]
    common = re.findall(r"^\| ([a-z_, ]+) \|", section.split("Kinds:", 1)[0], flags=re.M)
    names: list[str] = []
    for cell in common:
        if cell.strip() != "column":
            names += [c.strip() for c in cell.split(",")]
    kinds = {}
    for kind, extra in re.findall(r"`(audience_[a-z_]+)`(?: \(\+ ([^)]*)\))?", section.split("Kinds:", 1)[1]):
        kinds[kind] = re.findall(r"`([a-z_]+)`", extra)
    return names, kinds


def test_audiences_follow_the_contract(duckdb_build) -> None:
    common, kinds = _contract_columns()
    assert len(common) == 28 and len(kinds) == 6
    with _con(duckdb_build) as con:
        for kind, extra in kinds.items():
            cols = columns(con, "audiences", kind)
            assert cols[: len(common)] == common, kind
            assert set(extra) <= set(cols[len(common) :]), kind
            total, distinct, dates = con.execute(
                f"select count(*), count(distinct customer_id), list(distinct run_date) from audiences.{kind}"
            ).fetchone()
            assert total == distinct, f"{kind}: customer_id not unique"
            assert dates in ([], [END]), kind
        # everyone in audience_customers is reachable
        unreachable = con.execute(
            "select count(*) from audiences.audience_customers where not has_valid_phone and email is null"
        ).fetchone()[0]
        assert unreachable == 0


def test_campaign_results_statistics(duckdb_build) -> None:
    """Lift, its 95 % intervals and the Welch revenue interval, recomputed from the attributed outcomes."""
    with _con(duckdb_build) as con:
        outcomes = con.execute(
            "select campaign_id, variant, arm, has_conversion, revenue_in_window_krw "
            "from intermediate.int_campaign_outcomes_attributed where not is_suppressed"
        ).fetchall()
        results = con.execute(
            "select campaign_id, variant, recipients, comparison_recipients, conversions, absolute_lift, "
            "absolute_lift_ci_low, absolute_lift_ci_high, relative_lift, relative_lift_ci_low, "
            "revenue_per_recipient_lift, revenue_lift_ci_low, revenue_lift_ci_high "
            "from marts.fct_campaign_results"
        ).fetchall()
    arms: dict[tuple, list] = defaultdict(list)
    for campaign, variant, arm, converted, revenue in outcomes:
        key = (campaign, variant) if arm == "treatment" else (campaign, None)
        arms[key].append((converted, float(revenue)))
    assert {r[0] for r in results} == {"g2_time_limited_coupon", "review_request_3d"}
    for campaign, variant, n1, n0, conv, lift, lo, hi, rel, rel_lo, rev_lift, rev_lo, rev_hi in results:
        t, c = arms[(campaign, variant)], arms[(campaign, None)]
        assert (n1, n0, conv) == (len(t), len(c), sum(x for x, _ in t))
        p1, p0 = conv / n1, sum(x for x, _ in c) / n0
        se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        assert math.isclose(lift, p1 - p0, abs_tol=1e-12)
        assert math.isclose(lo, p1 - p0 - 1.96 * se, abs_tol=1e-9)
        assert math.isclose(hi, p1 - p0 + 1.96 * se, abs_tol=1e-9)
        if p0 > 0:
            rel_se = math.sqrt(p1 * (1 - p1) / n1 / p0**2 + p1**2 * p0 * (1 - p0) / n0 / p0**4)
            assert math.isclose(rel, p1 / p0 - 1, abs_tol=1e-9)
            assert math.isclose(rel_lo, p1 / p0 - 1 - 1.96 * rel_se, abs_tol=1e-9)
        r1, r0 = [r for _, r in t], [r for _, r in c]
        welch = math.sqrt(statistics.variance(r1) / n1 + statistics.variance(r0) / n0)
        diff = statistics.fmean(r1) - statistics.fmean(r0)
        assert math.isclose(rev_lift, diff, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(rev_lo, diff - 1.96 * welch, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(rev_hi, diff + 1.96 * welch, rel_tol=1e-9, abs_tol=1e-6)


def test_message_funnel_accounts_for_every_intent(duckdb_build) -> None:
    with _con(duckdb_build) as con:
        intents = con.execute(
            "select count(*) from raw_messaging.send_log where run_date < ?", [END]
        ).fetchone()[0]
        planned, no_send = con.execute(
            "select sum(planned), sum(case when arm <> 'treatment' then sent + delivered + fallback end) "
            "from marts.fct_message_funnel"
        ).fetchone()
        review_requested = con.execute(
            "select sum(review_requested_orders) from marts.fct_review_funnel"
        ).fetchone()[0]
    assert planned == intents > 0
    assert no_send == 0
    assert review_requested > 0


def test_run_date_is_required(duckdb_build, tmp_path) -> None:
    proc = run_dbt(
        ["compile", "--select", "int_as_of_dates"],
        run_date=None,
        workdir=tmp_path,
        warehouse=tmp_path / "empty.duckdb",
        check=False,
    )
    assert proc.returncode != 0
    assert "var 'run_date' is required" in proc.stdout
