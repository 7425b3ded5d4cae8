"""Imported amounts stay exact through dbt staging, in the shop's currency (var shop_currency)."""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from include.extract.bootstrap import ensure_raw_tables_duckdb
from include.extract.file_import import import_files

_spec = importlib.util.spec_from_file_location(
    "dbt_helpers", Path(__file__).parents[1] / "dbt" / "dbt_helpers.py"
)
dbt_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dbt_helpers)

HEAD = "주문번호,회원아이디,주문일시,총 상품구매금액,배송비,총 결제금액,주문상태,통화,최종수정일\n"


@pytest.mark.parametrize(
    ("currency", "amounts", "expected"),
    [
        ("USD", ["11.77", "0.10", "0.20", '"1,234.56"'], Decimal("1246.63")),
        ("KRW", ['"12,000"', "990", "1", "0"], 12991),
    ],
)
def test_amounts_sum_exactly_through_staging(
    tmp_path: Path, currency: str, amounts: list[str], expected
) -> None:
    rows = "".join(
        f"o{i},m{i},2026-11-01 10:00:00,{a},0,{a},N40,{currency},2026-11-01 10:00:00\n"
        for i, a in enumerate(amounts)
    )
    orders = tmp_path / "orders.csv"
    orders.write_text(HEAD + rows, encoding="utf-8")
    items = tmp_path / "order_items.csv"
    items.write_text(
        "order_item_code,order_id,product_no,quantity,product_price\n"
        + "".join(f"i{i},o{i},1,3,{a}\n" for i, a in enumerate(amounts)),
        encoding="utf-8",
    )
    wh = tmp_path / "w.duckdb"
    out = import_files([orders, items], destination=wh, pipelines_dir=tmp_path / "dlt", currency=currency)
    assert out["quarantined_total"] == 0
    ensure_raw_tables_duckdb(str(wh))
    dbt_helpers.run_dbt(
        ["run", "--select", "stg_cafe24__orders", "stg_cafe24__order_items"],
        run_date=date(2026, 11, 1), workdir=tmp_path, warehouse=wh, extra_vars={"shop_currency": currency},
    )  # fmt: skip
    with duckdb.connect(str(wh), read_only=True) as con:
        total, items_total, currencies = con.sql(
            "SELECT sum(payment_amount_krw), sum(items_amount_krw), list(DISTINCT currency) "
            "FROM staging.stg_cafe24__orders"
        ).fetchall()[0]
        lines = con.sql("SELECT sum(line_amount_krw) FROM staging.stg_cafe24__order_items").fetchall()[0][0]
    assert total == expected and items_total == expected and currencies == [currency]
    assert lines == expected * 3
    assert type(total) is (Decimal if currency == "USD" else int)
