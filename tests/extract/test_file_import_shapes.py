"""File imports in the shapes real shops export: exact money, date formats, Shopify headers, user mappings,
encodings and delimiters, and files that cannot poison the warehouse (issues 18 and 19)."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from include.extract.file_import import import_file, import_files

KST = ZoneInfo("Asia/Seoul")
ORDERS_HEAD = "주문번호,회원아이디,주문일시,총 결제금액,주문상태,통화,최종수정일\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _sql(wh: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql(query).fetchall()


def _quarantine(wh: Path) -> dict[str, str]:
    return dict(_sql(wh, "SELECT record_key, reason FROM raw_quarantine.records"))


def _kw(tmp_path: Path) -> dict:
    return {"destination": tmp_path / "w.duckdb", "pipelines_dir": tmp_path / "dlt"}


# --- exact money -------------------------------------------------------------------------------------------------


def test_decimal_amount_in_a_whole_unit_currency_is_quarantined_not_rounded(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "orders.csv",
        ORDERS_HEAD + 'o1,m1,2026-11-01 10:00:00,"12,000",N40,KRW,2026-11-01 10:00:00\n'
        "o2,m2,2026-11-01 11:00:00,11.77,N40,KRW,2026-11-01 11:00:00\n"
        "o3,m3,2026-11-01 12:00:00,11.00,N40,KRW,2026-11-01 12:00:00\n",
    )
    out = import_file(csv, **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"orders": 2} and out["quarantined"] == {"orders": 1}
    assert out["reasons"] == {"orders": {"inexact_amount": 1}}
    wh = tmp_path / "w.duckdb"
    assert _sql(wh, "SELECT order_id, payment_amount FROM raw_cafe24.orders ORDER BY 1") == [
        ("o1", 12000),
        ("o3", 11),
    ]
    reason = _quarantine(wh)["o2"]
    assert reason.startswith("orders.csv line 3: payment_amount: 11.77 ")  # file, line, column, value
    assert "not rounded" in reason


def test_usd_amounts_are_exact_to_the_cent(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "orders.csv",
        ORDERS_HEAD
        + "".join(
            f"o{i},m{i},2026-11-01 10:00:00,{amount},N40,USD,2026-11-01 10:00:00\n"
            for i, amount in enumerate(["11.77", "0.10", "0.20", '"$1,234.5"', "7"])
        )
        + "o9,m9,2026-11-01 10:00:00,1.005,N40,USD,2026-11-01 10:00:00\n"
        + "o8,m8,2026-11-01 10:00:00,5.00,N40,KRW,2026-11-01 10:00:00\n",
    )
    out = import_file(csv, **_kw(tmp_path), currency="USD")
    assert out["loaded"] == {"orders": 5}
    assert out["reasons"] == {"orders": {"inexact_amount": 1, "currency": 1}}
    # minor units: exact integers, summing to the cent
    assert _sql(tmp_path / "w.duckdb", "SELECT sum(payment_amount) FROM raw_cafe24.orders") == [(125357,)]
    assert "currency: KRW amounts in a USD shop" in _quarantine(tmp_path / "w.duckdb")["o8"]


def test_whole_numbers_are_not_rounded_either(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "order_items.csv",
        "order_item_code,order_id,product_no,quantity,product_price\ni1,o1,10,1.5,1000\ni2,o1,10,2.0,1000\n",
    )
    out = import_file(csv, **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"order_items": 1}
    assert "quantity: cannot convert 1.5 to bigint" in _quarantine(tmp_path / "w.duckdb")["i1"]


# --- dates -----------------------------------------------------------------------------------------------------------


def test_common_export_date_formats_read_in_the_shop_zone(tmp_path: Path) -> None:
    dates = ["20261101", "2026.11.01", "2026/11/01", "2026-11-01 00:00:00", "2026-10-31T15:00:00Z",
             "2026-11-01T00:00:00+09:00", "2026-10-31 10:00:00 -0500", "20261101000000"]  # fmt: skip
    body = (
        "".join(f"o{i},m1,{d},1000,N40,KRW,{d}\n" for i, d in enumerate(dates))
        + "ox,m1,11/01/2026x,1,N40,KRW,x\n"
    )
    out = import_file(_write(tmp_path / "orders.csv", ORDERS_HEAD + body), **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"orders": len(dates)} and out["quarantined"] == {"orders": 1}
    got = {r[0] for r in _sql(tmp_path / "w.duckdb", "SELECT DISTINCT order_date FROM raw_cafe24.orders")}
    midnight = datetime(2026, 11, 1, tzinfo=KST)
    assert got == {midnight} or {g.astimezone(KST) for g in got} == {midnight, midnight.replace(hour=1)}
    assert "order_date: cannot convert 11/01/2026x" in _quarantine(tmp_path / "w.duckdb")["ox"]


# --- headers: Shopify exports and user mappings ----------------------------------------------------------------------

SHOPIFY_ORDERS = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,"
    "Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,Phone,"
    "Cancelled at,Notes\n"
    "#1001,Ann@Example.com,paid,2026-11-01 10:05:00 +0900,fulfilled,USD,23.54,5.00,0.00,28.54,,0.00,"
    "2026-11-01 10:00:00 +0900,2,Mug,11.77,MUG-1,Ann Lee,+821012345678,,leave at door\n"
    "#1001,Ann@Example.com,,,,,,,,,,,2026-11-01 10:00:00 +0900,0,Gift card,0.00,,,,,\n"
    "#1002,bob@example.com,refunded,2026-11-02 09:00:00 +0900,,USD,10.00,0.00,0.00,10.00,SAVE,1.00,"
    "2026-11-02 08:00:00 +0900,1,Tea,10.00,12345,Bob Kim,,,\n"
)
SHOPIFY_CUSTOMERS = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Phone,"
    "Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\n"
    "7001,Ann,Lee,ann@example.com,yes,,+821012345678,no,28.54,1,,no,vip\n"
    "7002,Bob,Kim,,no,,+821098765432,yes,10.00,1,,no,\n"
)


def test_shopify_orders_export_becomes_orders_and_items_with_exact_sums(tmp_path: Path) -> None:
    seen: list[tuple[str, str, int]] = []
    out = import_files(
        [_write(tmp_path / "orders_export_1.csv", SHOPIFY_ORDERS),
         _write(tmp_path / "customers_export.csv", SHOPIFY_CUSTOMERS)],
        **_kw(tmp_path), currency="USD", on_file=lambda p, t, n: seen.append((p.name, t, n)),
    )  # fmt: skip
    assert out["loaded"] == {"orders": 2, "order_items": 3, "customers": 2} and out["quarantined_total"] == 0
    assert seen == [("orders_export_1.csv", "orders", 2), ("orders_export_1.csv", "order_items", 3),
                    ("customers_export.csv", "customers", 2)]  # fmt: skip
    assert "Notes" in out["ignored_columns"]["orders_export_1.csv"]
    wh = tmp_path / "w.duckdb"
    assert _sql(wh, "SELECT order_id, member_id, order_status, payment_amount, coupon_discount_price, currency "
                    "FROM raw_cafe24.orders ORDER BY 1") == [
        ("#1001", "ann@example.com", "N40", 2854, 0, "USD"), ("#1002", "bob@example.com", "R40", 1000, 100, "USD")]  # fmt: skip
    assert _sql(wh, "SELECT order_item_code, product_no, quantity, product_price FROM raw_cafe24.order_items "
                    "ORDER BY 1")[1:] == [("#1001-2", _sql(wh, "SELECT 0")[0][0] or
                                           _sql(wh, "SELECT product_no FROM raw_cafe24.order_items "
                                                    "WHERE order_item_code = '#1001-2'")[0][0], 0, 0),
                                          ("#1002-1", 12345, 1, 1000)]  # fmt: skip
    paid = _sql(wh, "SELECT payment_date FROM raw_cafe24.orders WHERE order_id = '#1001'")[0][0]
    assert paid == datetime(2026, 11, 1, 10, 5, tzinfo=KST)
    assert _sql(wh, "SELECT member_id, name, sms, news_mail FROM raw_cafe24.customers ORDER BY 1") == [
        ("ann@example.com", "Ann Lee", "F", "T"), ("shopify-7002", "Bob Kim", "T", "F")]  # fmt: skip
    # no Shopify column that is not mapped lands in the raw table
    cols = {
        r[0] for r in _sql(wh, "SELECT column_name FROM information_schema.columns WHERE table_name='orders'")
    }
    assert not {"Notes", "Taxes", "Discount Code"} & cols


def test_plain_file_with_a_user_mapping_dict_or_yaml(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "sales.csv",
        "OrderNo;Buyer;When;Paid;State;Cur;Changed;Comment\n"
        "A-1;m1;20261101;1.000;N40;KRW;20261102;x\nA-2;m2;20261101;2500;N10;KRW;20261102;y\n",
    )
    mapping = {"orders": {"OrderNo": "order_id", "Buyer": "member_id", "When": "order_date", "Paid": "payment_amount",
                          "State": "order_status", "Cur": "currency", "Changed": "updated_date"}}  # fmt: skip
    out = import_file(csv, table="orders", mapping=mapping, **_kw(tmp_path), currency="KRW")
    # "1.000" is not a thousands separator in a ';' file of a KRW shop: 1 won with three zero decimals, exact
    assert out["loaded"] == {"orders": 2} and out["ignored_columns"] == {"sales.csv": ["Comment"]}
    wh = tmp_path / "w.duckdb"
    assert _sql(wh, "SELECT sum(payment_amount) FROM raw_cafe24.orders") == [(2501,)]
    yml = tmp_path / "map.yml"
    yml.write_text(
        "orders:\n" + "".join(f"  {k}: {v}\n" for k, v in mapping["orders"].items()), encoding="utf-8"
    )
    again = import_file(csv, table="orders", mapping=yml, **_kw(tmp_path), currency="KRW")
    assert again["loaded"] == {"orders": 2} and _sql(wh, "SELECT count(*) FROM raw_cafe24.orders") == [(2,)]


def test_unmapped_required_columns_are_a_clear_error(tmp_path: Path) -> None:
    csv = _write(tmp_path / "orders.csv", "OrderNo,Total\nA-1,100\n")
    with pytest.raises(ValueError) as err:
        import_file(csv, **_kw(tmp_path))
    msg = str(err.value)
    assert "orders.csv" in msg and "['order_id', 'order_date', 'payment_amount'" in msg and "OrderNo" in msg
    with pytest.raises(ValueError, match="not columns of raw_cafe24.orders"):
        import_file(csv, mapping={"orders": {"OrderNo": "order_no"}}, **_kw(tmp_path))


# --- files that cannot poison state ----------------------------------------------------------------------------------

GOOD = ORDERS_HEAD + "o1,m1,2026-11-01 10:00:00,1000,N40,KRW,2026-11-01 10:00:00\n"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("주문번호,회원아이디;메모,주문일시,총 결제금액,주문상태,통화,최종수정일\n", "';'"),
        ("주문번호,회원아이디,주문일시\u0085,총 결제금액,주문상태,통화,최종수정일\n", "'\\x85'"),
        ("주문번호,,주문일시,총 결제금액,주문상태,통화,최종수정일\n", "column 2 has no name"),
        ("주문번호,주문번호,주문일시,총 결제금액,주문상태,통화,최종수정일\n", "repeated column names"),
    ],
)
def test_poisoned_header_is_rejected_and_the_next_import_succeeds(
    tmp_path: Path, header: str, why: str
) -> None:
    bad = _write(
        tmp_path / "orders-bad.csv", header + "o9,m9,2026-11-01 10:00:00,1000,N40,KRW,2026-11-01 10:00:00\n"
    )
    with pytest.raises(ValueError) as err:
        import_files([_write(tmp_path / "orders.csv", GOOD), bad], **_kw(tmp_path), currency="KRW")
    assert "orders-bad.csv" in str(err.value) and why in str(err.value)
    assert not (tmp_path / "w.duckdb").exists()  # rejected before anything was written
    out = import_file(tmp_path / "orders.csv", **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"orders": 1}
    cols = {r[0] for r in _sql(tmp_path / "w.duckdb", "SELECT column_name FROM information_schema.columns "
                                                       "WHERE table_schema = 'raw_cafe24'")}  # fmt: skip
    assert not any(";" in c or "\x85" in c or "메모" in c for c in cols)


def test_a_failed_load_package_never_blocks_the_next_import(tmp_path: Path) -> None:
    """A load the destination refuses (here a CHECK constraint on one order id) is aborted, not left pending: the
    next import of another file succeeds (before, dlt retried the failed package first, on every later run)."""
    wh = tmp_path / "w.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "CREATE SCHEMA raw_cafe24; CREATE TABLE raw_cafe24.orders (order_id VARCHAR CHECK (order_id <> 'o9'))"
        )
    refused = _write(tmp_path / "orders-refused.csv", GOOD.replace("o1,", "o9,"))
    with pytest.raises(Exception):  # noqa: B017 - dlt's own exception type; what matters is what comes next
        import_file(refused, **_kw(tmp_path), currency="KRW")
    assert not list((tmp_path / "dlt").rglob("normalized/*/new_jobs/*"))  # nothing pending
    out = import_file(_write(tmp_path / "orders.csv", GOOD), **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"orders": 1} and _sql(wh, "SELECT order_id FROM raw_cafe24.orders") == [("o1",)]


def test_duplicate_keys_in_one_import_are_quarantined_and_counted(tmp_path: Path) -> None:
    body = ("o1,m1,2026-11-01 10:00:00,1000,N40,KRW,2026-11-01 10:00:00\n"
            "o1,m1,2026-11-01 10:00:00,1000,C40,KRW,2026-11-02 10:00:00\n"
            "o2,m2,2026-11-01 10:00:00,2000,N40,KRW,2026-11-01 10:00:00\n"
            "o2,m2,2026-11-01 10:00:00,2500,N40,KRW,2026-11-01 10:00:00\n")  # fmt: skip
    out = import_file(_write(tmp_path / "orders.csv", ORDERS_HEAD + body), **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"orders": 2} and out["quarantined"] == {"orders": 2}
    assert out["reasons"] == {"orders": {"duplicate_key": 2}}
    wh = tmp_path / "w.duckdb"
    # the latest version (by updated_date, then the later line) is kept, the other is quarantined with its line
    assert _sql(wh, "SELECT order_id, order_status, payment_amount FROM raw_cafe24.orders ORDER BY 1") == [
        ("o1", "C40", 1000), ("o2", "N40", 2500)]  # fmt: skip
    reasons = sorted(_sql(wh, "SELECT reason FROM raw_quarantine.records"))
    assert reasons == [("orders.csv line 2: order_id: duplicate key in this import; kept orders.csv line 3",),
                       ("orders.csv line 4: order_id: duplicate key in this import; kept orders.csv line 5",)]  # fmt: skip


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-16", ","), ("utf-8", ";"), ("cp949", "\t"),
                                                     ("utf-8-sig", "|"), ("utf-16-le", ",")])  # fmt: skip
def test_encodings_and_delimiters_are_detected(tmp_path: Path, encoding: str, delimiter: str) -> None:
    text = (ORDERS_HEAD + "o1,m1,2026-11-01 10:00:00,12000원,배송완료,KRW,2026-11-01 10:00:00\n").replace(
        ",", delimiter
    )
    out = import_file(_write(tmp_path / "orders.csv", text, encoding), **_kw(tmp_path), currency="KRW")
    assert out["loaded"] == {"orders": 1}
    assert _sql(tmp_path / "w.duckdb", "SELECT order_status, payment_amount FROM raw_cafe24.orders") == [
        ("N40", 12000)
    ]


def test_unclosed_quote_and_bad_bytes_name_the_file_and_line(tmp_path: Path) -> None:
    quoted = _write(tmp_path / "orders.csv", GOOD + 'o2,"m2,2026-11-01 10:00:00,1000,N40,KRW,x\n')
    with pytest.raises(ValueError, match=r"orders.csv line \d+: cannot be read as CSV"):
        import_file(quoted, **_kw(tmp_path))
    mixed = _write(tmp_path / "orders.csv", GOOD)
    mixed.write_bytes(mixed.read_bytes() + "o2,김,x\n".encode("cp949") + b"\xff\xfe\n")
    with pytest.raises(ValueError, match=r"orders.csv"):
        import_file(mixed, **_kw(tmp_path))


# --- retention and permissions ---------------------------------------------------------------------------------------


def test_load_packages_are_pruned_and_files_are_private(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "customers.csv",
        "아이디,이름,휴대폰번호,회원가입일,최종수정일,SMS 수신여부,이메일 수신여부\n"
        "m1,김하늘,010-1234-5678,2025-01-02,2026-11-01,Y,N\n,빈키,010-9999-8888,2025-01-02,2026-11-01,Y,N\n",
    )
    out = import_file(csv, **_kw(tmp_path))
    assert out["loaded"] == {"customers": 1} and out["quarantined"] == {"customers": 1}
    files = [p for p in (tmp_path / "dlt").rglob("*") if p.is_file()]
    assert files  # the pipelines' state stays
    for path in files:
        data = path.read_bytes()
        assert b"1234-5678" not in data and b"9999-8888" not in data, (
            path
        )  # neither loaded nor quarantined rows
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    for path in [tmp_path / "dlt", *(p for p in (tmp_path / "dlt").rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert json.loads(json.dumps(out))["loaded_total"] == 1


def test_load_packages_are_kept_when_retention_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_LOAD_PACKAGES", "keep")
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    import_file(_write(tmp_path / "orders.csv", GOOD), **_kw(tmp_path), currency="KRW")
    assert any(p.suffix == ".parquet" for p in (tmp_path / "dlt").rglob("completed_jobs/*"))
