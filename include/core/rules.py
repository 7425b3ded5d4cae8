"""Business rules that SQL and Python share, each defined once: the ``vars`` of ``dbt_project/dbt_project.yml``.

dbt reads them as ``var(...)``; the pipeline's Python reads the same file here, so a rule changed in one place is
changed for the models, the quality gates, the planner and the exports together:

- ``business_timezone``: the shop's calendar (dates are local days; :mod:`include.core.timezone`);
- ``korean_mobile_regex``: a Korean mobile number after normalisation to digits;
- ``consent_reconfirmation_years``: advertising consent must be re-confirmed this many years after it was given
  (정보통신망법 §50 ⑧: two years); :func:`consent_expired` is the one test both sides apply;
- ``audience_contract_columns``: the columns every ``audiences.audience_*`` model starts with, in order.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

DBT_PROJECT_FILE = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"


@functools.cache
def dbt_vars() -> dict[str, Any]:
    """The project-level ``vars`` of the dbt project (read once per process)."""
    import yaml

    try:
        doc = yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"the dbt project's {DBT_PROJECT_FILE} holds the shared business rules; it is missing"
        ) from exc
    return dict(doc.get("vars") or {})


def rule(name: str) -> Any:
    """One var; raises naming the file when it is not declared (a rule is never defaulted in Python)."""
    values = dbt_vars()
    if values.get(name) is None:
        raise RuntimeError(f"var '{name}' is not set in {DBT_PROJECT_FILE}")
    return values[name]


def business_timezone() -> str:
    return str(rule("business_timezone"))


@functools.cache
def korean_mobile_regex() -> str:
    """The regex a phone (digits only) must fully match to be a Korean mobile number."""
    return str(rule("korean_mobile_regex"))


@functools.cache
def korean_mobile() -> re.Pattern[str]:
    return re.compile(korean_mobile_regex())


def consent_reconfirmation_years() -> int:
    return int(rule("consent_reconfirmation_years"))


def consent_due_date(given: date | datetime) -> date:
    """The day a consent given on ``given`` must have been re-confirmed by (29 Feb → 28 Feb, as SQL's date math)."""
    day = given.date() if isinstance(given, datetime) else given
    years = consent_reconfirmation_years()
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def consent_expired(given: date | datetime | None, on: date) -> bool:
    """True when consent given on ``given`` is no longer valid on ``on`` (``dim_customers.is_consent_reconfirmation_due``
    computes the same for the oldest consent of a customer)."""
    return given is not None and consent_due_date(given) <= on


@functools.cache
def audience_columns() -> tuple[str, ...]:
    """The audience contract: columns every ``audiences.audience_*`` model starts with (dbt macro
    ``audience_columns`` writes them, activation and exports read them, the marts gate checks them)."""
    return tuple(str(c) for c in rule("audience_contract_columns"))
