"""Marts-gate suites: what dbt built, checked before audiences are published.

dbt's own tests guard structure (keys, relationships, accepted values per model). These suites check what only
makes sense across models or across days: every customer of ``dim_customers`` has exactly one segment and tier
today, segment/tier shares move within a sane band from yesterday, funnel steps never grow, and the audience
models carry the contract columns and today's ``run_date``.
"""

from __future__ import annotations

from typing import Any

from expectations.config import FunnelCheck, MartsGateConfig
from expectations.result import WARNING
from expectations.suites import Suite
from include.core.rules import audience_columns

SUITE_VERSION = "v1"


def _m(rule: str, **extra: Any) -> dict[str, Any]:
    return {"rule": rule, **extra}


def dim_customers_suite(cfg: MartsGateConfig) -> Any:
    """``dim_customers``: one row per customer."""
    import great_expectations as gx

    E = gx.expectations
    suite = Suite(name=f"marts.{SUITE_VERSION}.{cfg.dim_customers}")
    suite.add_expectation(
        E.ExpectColumnValuesToNotBeNull(column="customer_id", meta=_m("every row is a customer"))
    )
    suite.add_expectation(
        E.ExpectColumnValuesToBeUnique(column="customer_id", meta=_m("one row per customer"))
    )
    return suite


def coverage_suite(cfg: MartsGateConfig) -> Any:
    """The frame dim_customers ⟗ today's segment rows (``in_dim``, ``segment_rows``, ``segment``, ``tier``)."""
    import great_expectations as gx

    E = gx.expectations
    suite = Suite(name=f"marts.{SUITE_VERSION}.{cfg.segments_daily}.coverage")
    add = suite.add_expectation
    add(
        E.ExpectColumnValuesToNotBeNull(
            column="segment_rows", meta=_m("every customer of dim_customers has a segment today")
        )
    )
    add(
        E.ExpectColumnValuesToBeBetween(
            column="segment_rows",
            min_value=1,
            max_value=1,
            meta=_m("exactly one segment row per customer today"),
        )
    )
    add(E.ExpectColumnValuesToNotBeNull(column="segment", meta=_m("segment is filled")))
    add(
        E.ExpectColumnValuesToBeInSet(
            column="segment",
            value_set=list(cfg.segments),
            meta=_m("segment is one of " + "/".join(cfg.segments)),
        )
    )
    add(E.ExpectColumnValuesToNotBeNull(column="tier", meta=_m("tier is filled")))
    add(
        E.ExpectColumnValuesToBeInSet(
            column="tier", value_set=list(cfg.tiers), meta=_m("tier is one of " + "/".join(cfg.tiers))
        )
    )
    add(
        E.ExpectColumnValuesToBeInSet(
            column="in_dim", value_set=[True], meta=_m("every segmented customer is in dim_customers")
        )
    )
    return suite


def shares_suite(cfg: MartsGateConfig, kind: str, *, has_previous: bool) -> Any:
    """Frame of shares per segment (or tier): ``share_today``, ``share_previous``, ``share_change``, ``has_previous``."""
    import great_expectations as gx

    E = gx.expectations
    band = cfg.segment_share_max_change if kind == "segment" else cfg.tier_share_max_change
    suite = Suite(name=f"marts.{SUITE_VERSION}.{cfg.segments_daily}.{kind}_shares")
    suite.add_expectation(
        E.ExpectColumnValuesToBeInSet(
            column="has_previous",
            value_set=[True],
            severity=WARNING,
            meta=_m(
                f"{kind} shares of the previous day exist to compare with (else the band is not checked)"
            ),
        )
    )
    if has_previous:
        suite.add_expectation(
            E.ExpectColumnValuesToBeBetween(
                column="share_change",
                max_value=band,
                meta=_m(
                    f"each {kind}'s share of customers moves at most {band:.0%} points from the previous day"
                ),
            )
        )
    return suite


def funnel_suite(check: FunnelCheck) -> Any:
    """Each funnel step ≤ the step before it, per group."""
    import great_expectations as gx

    E = gx.expectations
    suite = Suite(name=f"marts.{SUITE_VERSION}.{check.model}.monotone")
    for a, b in zip(check.steps, check.steps[1:], strict=False):
        suite.add_expectation(
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a,
                column_B=b,
                or_equal=True,
                meta=_m(f"funnel step {b} never exceeds {a} (per {', '.join(check.group_by)})"),
            )
        )
    return suite


def audience_suite(name: str, run_date_iso: str) -> Any:
    """One row per ``run_date`` of an audience model: contract columns exist, only today's run_date."""
    import great_expectations as gx

    E = gx.expectations
    suite = Suite(name=f"marts.{SUITE_VERSION}.{name}")
    for col in audience_columns():
        suite.add_expectation(E.ExpectColumnToExist(column=col, meta=_m("audience contract column exists")))
    suite.add_expectation(
        E.ExpectColumnValuesToBeInSet(
            column="run_date_text",
            value_set=[run_date_iso],
            meta=_m("built for this run's date (no stale audience)"),
        )
    )
    return suite
