"""Storefront file import: Cafe24 export mapping, merge idempotency, quarantine with reasons, snapshots."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import psycopg
import pytest

from include.core.contracts import STOREFRONT_TABLES
from include.extract.common import apply_contract, make_pipeline, validate_arrow
from include.extract.file_import import import_file, import_files, map_columns
from testbed.shop import ShopStore, generate_shop
from testbed.shop.snapshot import export_snapshot, load_snapshot

KST = ZoneInfo("Asia/Seoul")
AS_OF = datetime(2026, 11, 20, tzinfo=KST)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ShopStore:
    root = tmp_path_factory.mktemp("fi_shop")
    generate_shop(
        root / "shop", root / "drops", customers=1_000, days=10, end_date=date(2026, 11, 22), seed=11
    )
    s = ShopStore(root / "shop")
    yield s
    s.close()


def counts(warehouse: Path, schema: str = "raw_cafe24") -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [t.name for t in STOREFRONT_TABLES]
        return {n: con.sql(f"SELECT count(*) FROM {schema}.{n}").fetchall()[0][0] for n in names}


def quarantine(warehouse: Path) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return (
            con.sql("SELECT * FROM raw_quarantine.records ORDER BY record_key").to_arrow_table().to_pylist()
        )


def test_contract_hints_and_pipeline_paths(tmp_path: Path) -> None:
    from include.core.contracts import CAFE24_ORDERS

    hints = apply_contract(CAFE24_ORDERS)
    assert hints["primary_key"] == ["order_id"] and hints["write_disposition"] == "merge"
    assert hints["columns"]["order_date"]["data_type"] == "timestamp"
    p = make_pipeline("x", tmp_path / "w.duckdb", "raw_cafe24", pipelines_dir=tmp_path / "dlt")
    assert p.dataset_name == "raw_cafe24" and Path(p.pipelines_dir) == tmp_path / "dlt"


def test_korean_headers_map_to_contract_names() -> None:
    got = map_columns("orders", ["\ufeff주문번호", "주문자 휴대전화", "총결제금액", "order_date", "메모"])
    assert got == ["order_id", "buyer_cellphone", "payment_amount", "order_date", "메모"]


def test_csv_export_with_korean_headers_imports_and_reimport_changes_nothing(
    store: ShopStore, tmp_path: Path
) -> None:
    paths = export_snapshot(store, AS_OF, tmp_path / "export", "csv", korean_headers=True)
    assert "주문번호" in paths["orders"].read_text(encoding="utf-8").splitlines()[0]
    wh, dlt_dir = tmp_path / "w.duckdb", tmp_path / "dlt"
    first = import_files(tmp_path / "export", destination=wh, pipelines_dir=dlt_dir)
    snapshot = {n: store.query_asof(n, AS_OF).num_rows for n in paths}
    assert first["loaded"] == snapshot and first["quarantined_total"] == 0
    assert counts(wh) == snapshot
    with duckdb.connect(str(wh), read_only=True) as con:
        before = con.sql(
            "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_cafe24.orders ORDER BY order_id"
        ).fetchall()
    second = import_files(tmp_path / "export", destination=wh, pipelines_dir=dlt_dir)
    assert second["loaded"] == snapshot and counts(wh) == snapshot
    with duckdb.connect(str(wh), read_only=True) as con:
        after = con.sql(
            "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_cafe24.orders ORDER BY order_id"
        ).fetchall()
        tz = con.sql("SELECT typeof(order_date) FROM raw_cafe24.orders LIMIT 1").fetchall()[0][0]
    assert before == after and tz == "TIMESTAMP WITH TIME ZONE"
    # the CSV's KST strings land as the same instants the store holds
    direct = store.query_asof("orders", AS_OF).sort_by("order_id").column("order_date").to_pylist()
    assert [r[6] for r in after] == direct


def test_parquet_snapshot_with_our_own_names_imports(store: ShopStore, tmp_path: Path) -> None:
    paths = export_snapshot(store, AS_OF, tmp_path / "pq", "parquet")
    out = import_file(paths["customers"], destination=tmp_path / "w.duckdb", pipelines_dir=tmp_path / "dlt")
    assert out["loaded"] == {"customers": store.query_asof("customers", AS_OF).num_rows}


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_malformed_csv_rows_are_quarantined_with_reasons_and_nothing_is_lost(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "orders.csv",
        "주문번호,회원아이디,주문일시,총 결제금액,주문상태,통화,최종수정일,메모\n"
        '20261101-0000001,m0000001,2026-11-01 10:00:00,"12,000원",배송완료,KRW,2026-11-03 10:00:00,ok\n'
        ",m0000002,2026-11-01 11:00:00,5000,N10,KRW,2026-11-01 11:00:00,no id\n"
        "20261101-0000003,m0000003,2026-11-01 12:00:00,abc,N10,KRW,2026-11-01 12:00:00,bad amount\n"
        "20261101-0000004,m0000004,not a date,5000,N10,KRW,2026-11-01 12:00:00,bad date\n"
        "20261101-0000005,m0000005,2026-11-01 13:00:00\n"
        "20261101-0000006,m0000006,2026.11.02 09:30:00,7000,구매확정,KRW,2026-11-09T09:30:00+09:00,ok\n",
    )
    wh = tmp_path / "w.duckdb"
    out = import_file(csv, destination=wh, pipelines_dir=tmp_path / "dlt")
    assert out["loaded"] == {"orders": 2} and out["quarantined"] == {"orders": 4}
    with duckdb.connect(str(wh), read_only=True) as con:
        good = con.sql("SELECT order_id, payment_amount, order_status, order_date, 메모 FROM raw_cafe24.orders "
                       "ORDER BY 1").fetchall()  # fmt: skip
    assert [(g[0], g[1], g[2], g[4]) for g in good] == [
        ("20261101-0000001", 12000, "N40", "ok"),
        ("20261101-0000006", 7000, "N50", "ok"),
    ]
    assert good[0][3] == datetime(2026, 11, 1, 10, tzinfo=KST)  # naive export time read as KST
    bad = quarantine(wh)
    reasons = {r["record_key"]: r["reason"] for r in bad}
    assert "order_id: required value missing" in reasons["<null>"]
    assert "payment_amount: cannot convert abc" in reasons["20261101-0000003"]
    assert "order_date: cannot convert not a date" in reasons["20261101-0000004"]
    assert reasons["orders.csv:6"] == "csv: expected 8 columns, got 3"
    assert {r["source"] for r in bad} == {"cafe24_file"} and {r["table_name"] for r in bad} == {
        "raw_cafe24.orders"
    }
    assert (
        json.loads(next(r for r in bad if r["record_key"] == "20261101-0000003")["payload"])["메모"]
        == "bad amount"
    )
    assert all(r["load_id"] == out["load_id"] for r in bad)
    # importing the same bad file again adds no twin quarantine rows
    import_file(csv, destination=wh, pipelines_dir=tmp_path / "dlt")
    assert len(quarantine(wh)) == 4


def test_cp949_admin_export_with_korean_values(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "customers-export.csv",
        "아이디,이름,휴대폰번호,성별,회원가입일,최종수정일,SMS 수신여부,이메일 수신여부\n"
        "m0000001,김하늘,010-1234-5678,여,2025-01-02 03:04:05,2026-11-01 00:00:00,수신,수신거부\n"
        "m0000002,박바다,010-2345-6789,남,2025-02-03 03:04:05,2026-11-01 00:00:00,Y,N\n",
        encoding="cp949",
    )
    wh = tmp_path / "w.duckdb"
    out = import_file(csv, destination=wh, pipelines_dir=tmp_path / "dlt")
    assert out["loaded"] == {"customers": 2}
    with duckdb.connect(str(wh), read_only=True) as con:
        got = con.sql(
            "SELECT member_id, name, gender, sms, news_mail FROM raw_cafe24.customers ORDER BY 1"
        ).fetchall()
    assert got == [("m0000001", "김하늘", "F", "T", "F"), ("m0000002", "박바다", "M", "T", "F")]


def test_unknown_file_and_table_names_are_clear_errors(tmp_path: Path) -> None:
    odd = _write(tmp_path / "misc.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match="cannot tell which table"):
        import_file(odd, destination=tmp_path / "w.duckdb", pipelines_dir=tmp_path / "dlt")
    with pytest.raises(ValueError, match="unknown storefront table"):
        import_file(odd, table="nope", destination=tmp_path / "w.duckdb", pipelines_dir=tmp_path / "dlt")


def test_validate_keeps_unknown_columns_and_types_values() -> None:
    import pyarrow as pa

    from include.core.contracts import CAFE24_PRODUCTS

    data = pa.table(
        {"product_no": ["1", "x"], "product_name": ["a", "b"], "price": ["100", "200"], "new_col": [1, 2]}
    )
    out = validate_arrow(data, CAFE24_PRODUCTS)
    assert out.good.column_names[: len(CAFE24_PRODUCTS.columns)] == list(CAFE24_PRODUCTS.columns)
    assert out.good.column("new_col").to_pylist() == [1] and out.good.column("product_no").to_pylist() == [1]
    assert out.bad.column("reason").to_pylist() == ["product_no: cannot convert x to bigint"]


def test_load_snapshot_is_idempotent_and_counts_match(store: ShopStore, tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    first = load_snapshot(store, AS_OF, destination=wh, pipelines_dir=tmp_path / "dlt")
    expected = {n: store.query_asof(n, AS_OF).num_rows for n in first["loaded"]}
    assert first["loaded"] == expected and first["quarantined_total"] == 0 and first["rows_per_second"] > 0
    later = datetime(2026, 11, 23, tzinfo=KST)
    load_snapshot(store, later, destination=wh, pipelines_dir=tmp_path / "dlt")
    assert counts(wh) == {n: store.query_asof(n, later).num_rows for n in first["loaded"]}
    with duckdb.connect(str(wh), read_only=True) as con:
        staged = con.sql("SELECT count(*) FROM raw_cafe24_staging.orders").fetchall()[0][0]
    assert staged == 0  # the merge staging copy is emptied after each load


@pytest.mark.postgres
def test_load_snapshot_into_postgresql(store: ShopStore, tmp_path: Path) -> None:
    db = f"crm_extract_{uuid.uuid4().hex[:10]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {db}")
    try:
        url = f"postgresql://postgres@127.0.0.1:5432/{db}"
        out = load_snapshot(store, AS_OF, destination=url, pipelines_dir=tmp_path / "dlt")
        with psycopg.connect(url) as con:
            n = con.execute("SELECT count(*) FROM raw_cafe24.orders").fetchone()[0]
            kind = con.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = 'raw_cafe24' "
                "AND table_name = 'orders' AND column_name = 'order_date'"
            ).fetchone()[0]
        assert n == out["loaded"]["orders"] > 0 and kind == "timestamp with time zone"
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
