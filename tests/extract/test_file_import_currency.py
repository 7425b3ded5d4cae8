"""The shop's currency: ISO 4217 exponents, the dbt var, and the report's money display."""

from __future__ import annotations

from decimal import Decimal

import pytest

from include.core.currency import exponent, format_money, shop_currency
from outputs.report.build import fmt_money


def test_exponents_and_the_default_shop_currency() -> None:
    assert (exponent("krw"), exponent("USD"), exponent("JPY"), exponent("KWD")) == (0, 2, 0, 3)
    assert shop_currency() == "KRW"  # dbt_project.yml's var shop_currency
    with pytest.raises(ValueError, match="unknown currency 'XYZ'"):
        exponent("XYZ")


def test_report_shows_amounts_in_the_shop_currency() -> None:
    assert fmt_money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert fmt_money(Decimal("11.77"), "EUR") == "€11.77"
    assert fmt_money(1234, "CHF") == "1,234.00 CHF"
    assert fmt_money(12_000, "KRW") == "1만원" and fmt_money(9_900) == "9,900원"
    assert format_money(12_000) == "12,000원"
