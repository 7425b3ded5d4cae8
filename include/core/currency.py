"""Currencies: the shop's currency (dbt var ``shop_currency``) and ISO 4217 minor-unit exponents.

Raw storefront amounts are stored exactly, as integers in the currency's minor unit (KRW/JPY have none, so a won
amount is stored as is; USD/EUR have cents: ``11.77`` USD is stored as ``1177``). A value with more decimals than
the currency has (``11.77`` KRW) is not representable and is quarantined, never rounded. dbt's staging divides by
``10 ** exponent`` (macro ``shop_money``), so marts hold major units (integers for a whole-unit currency, exact
decimals otherwise).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from include.core.rules import dbt_vars

# ISO 4217 minor-unit exponents of the currencies a shop is likely to sell in (codes not listed are unknown).
EXPONENTS: dict[str, int] = {
    "KRW": 0, "JPY": 0, "VND": 0, "CLP": 0, "ISK": 0, "PYG": 0, "UGX": 0, "XAF": 0, "XOF": 0, "TWD": 2,
    "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "HKD": 2, "SGD": 2, "AUD": 2, "CAD": 2, "NZD": 2, "CHF": 2,
    "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "THB": 2, "MYR": 2, "PHP": 2, "IDR": 2,
    "INR": 2, "MXN": 2, "BRL": 2, "ZAR": 2, "TRY": 2, "ILS": 2, "AED": 2, "SAR": 2, "RUB": 2, "MNT": 2,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}  # fmt: skip

SYMBOLS: dict[str, str] = {"KRW": "원", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥"}


def exponent(code: str) -> int:
    """Decimals of ``code``'s minor unit; raises ``ValueError`` for a code not in :data:`EXPONENTS`."""
    key = (code or "").strip().upper()
    if key not in EXPONENTS:
        raise ValueError(f"unknown currency {code!r}; expected an ISO 4217 code such as KRW, USD, EUR")
    return EXPONENTS[key]


def shop_currency() -> str:
    """The shop's currency: the dbt var ``shop_currency`` (default ``KRW``)."""
    code = str(dbt_vars().get("shop_currency") or "KRW").strip().upper()
    exponent(code)
    return code


def format_money(value: Any, code: str | None = None) -> str:
    """``value`` (major units) with its currency: ``9,900원`` for KRW, ``$11.77``/``11.77 CHF`` for others."""
    if value is None:
        return "–"
    code = (code or shop_currency()).upper()
    places = exponent(code)
    amount = f"{Decimal(str(value)):,.{places}f}"
    symbol = SYMBOLS.get(code)
    if code == "KRW":
        return f"{amount}원"
    return f"{symbol}{amount}" if symbol else f"{amount} {code}"
