"""Storefront file imports (CSV/Parquet/Arrow) into ``raw_cafe24.*``.

For shops without API access and for backfills: a Cafe24 admin export (Korean headers, CP949 or UTF-8, values like
``12,000``, ``Y``/``N``, ``배송완료``) or our own Parquet/CSV (contract column names) is mapped onto the raw contract
(:data:`COLUMN_MAP`, :func:`normalise_values`), validated row by row, merged on the primary key (importing the same
file twice changes nothing) and bad rows are quarantined with the reason — unparsable CSV lines included.

:func:`load_tables` loads tables already in contract shape straight from Arrow (what the sample shop's
``testbed.shop.snapshot.load_snapshot`` uses at 1M-customer scale).
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from include.core.contracts import STOREFRONT_TABLES, RawTable
from include.core.timezone import TIMEZONE
from include.extract.common import LoadResult, load_arrow, make_pipeline

log = logging.getLogger(__name__)

TABLES: dict[str, RawTable] = {t.name: t for t in STOREFRONT_TABLES}

# Cafe24 admin export headers (and common variants) → contract columns, per table. Our own names map to themselves.
COLUMN_MAP: dict[str, dict[str, str]] = {
    "customers": {
        "아이디": "member_id", "회원아이디": "member_id", "회원 아이디": "member_id", "이름": "name", "회원명": "name",
        "휴대폰번호": "cellphone", "휴대전화": "cellphone", "휴대폰": "cellphone", "이메일": "email", "성별": "gender",
        "생년월일": "birthday", "주소": "address1", "주소1": "address1", "회원가입일": "created_date",
        "가입일": "created_date", "최종수정일": "updated_date", "수정일": "updated_date",
        "최근접속일": "last_login_date", "최종접속일": "last_login_date", "SMS 수신여부": "sms",
        "SMS수신여부": "sms", "이메일 수신여부": "news_mail", "뉴스메일 수신여부": "news_mail",
        "SMS 수신동의일": "sms_consent_date", "이메일 수신동의일": "news_mail_consent_date",
        "카카오 수신여부": "kakao_consent", "앱푸시 수신여부": "push_consent", "야간 수신여부": "night_consent",
        "카카오 수신동의일": "kakao_consent_date", "앱푸시 수신동의일": "push_consent_date",
        "야간 수신동의일": "night_consent_date",
    },
    "products": {
        "상품번호": "product_no", "상품코드": "product_code", "상품명": "product_name", "분류번호": "category_no",
        "카테고리번호": "category_no", "분류명": "category_name", "카테고리": "category_name", "판매가": "price",
        "진열상태": "display", "진열여부": "display", "판매상태": "selling", "판매여부": "selling",
        "상품등록일": "created_date", "등록일": "created_date", "최종수정일": "updated_date", "수정일": "updated_date",
    },
    "orders": {
        "주문번호": "order_id", "회원아이디": "member_id", "주문자 아이디": "member_id",
        "회원인증여부": "member_authentication", "주문자명": "buyer_name", "주문자 휴대전화": "buyer_cellphone",
        "주문자 휴대폰": "buyer_cellphone", "주문자 이메일": "buyer_email", "주문일시": "order_date",
        "주문일": "order_date", "결제일시": "payment_date", "입금확인일": "payment_date", "결제일": "payment_date",
        "통화": "currency", "총 상품구매금액": "order_price_amount", "상품구매금액": "order_price_amount",
        "총 배송비": "shipping_fee", "배송비": "shipping_fee", "쿠폰 할인금액": "coupon_discount_price",
        "쿠폰할인금액": "coupon_discount_price", "총 결제금액": "payment_amount", "실결제금액": "payment_amount",
        "결제금액": "payment_amount", "주문상태": "order_status", "취소여부": "canceled", "취소일시": "cancel_date",
        "환불금액": "refund_amount", "환불완료일": "refund_date", "환불일시": "refund_date",
        "배송시작일": "shipbegin_date", "배송완료일": "shipend_date", "첫주문여부": "first_order",
        "모바일주문여부": "order_from_mobile", "유입 캠페인": "utm_campaign", "최종수정일": "updated_date",
    },
    "order_items": {
        "품목별 주문번호": "order_item_code", "품목주문번호": "order_item_code", "주문번호": "order_id",
        "상품번호": "product_no", "상품명": "product_name", "수량": "quantity", "판매가": "product_price",
        "상품가격": "product_price", "주문상태": "order_status", "품목 주문상태": "order_status",
    },
    "reviews": {
        "게시물번호": "article_no", "글번호": "article_no", "게시판번호": "board_no", "상품번호": "product_no",
        "회원아이디": "member_id", "작성자 아이디": "member_id", "주문번호": "order_id", "평점": "rating",
        "작성일": "created_date", "수정일": "updated_date",
    },
    "subscriptions": {
        "정기배송번호": "subscription_id", "회원아이디": "member_id", "상품번호": "product_no",
        "정기배송상태": "subscription_state", "상태": "subscription_state", "배송주기": "delivery_cycle",
        "총 배송횟수": "total_delivery_count", "배송완료횟수": "used_delivery_count", "자동연장": "auto_renewal",
        "시작일": "start_date", "종료일": "end_date", "신청일": "created_date", "최종수정일": "updated_date",
    },
}  # fmt: skip

# Value spellings of admin exports → contract codes.
FLAG_VALUES = {"T": "T", "Y": "T", "YES": "T", "TRUE": "T", "1": "T", "예": "T", "동의": "T", "수신": "T",
               "수신동의": "T", "F": "F", "N": "F", "NO": "F", "FALSE": "F", "0": "F", "아니오": "F", "거부": "F",
               "수신거부": "F", "미동의": "F"}  # fmt: skip
GENDER_VALUES = {
    "M": "M",
    "남": "M",
    "남자": "M",
    "MALE": "M",
    "F": "F",
    "여": "F",
    "여자": "F",
    "FEMALE": "F",
}
STATUS_VALUES = {"입금전": "N00", "상품준비중": "N10", "배송준비중": "N20", "배송대기": "N21", "배송보류": "N22",
                 "배송중": "N30", "배송완료": "N40", "구매확정": "N50", "취소": "C40", "취소완료": "C40",
                 "반품": "R40", "반품완료": "R40", "환불완료": "R40", "교환": "E40", "교환완료": "E40"}  # fmt: skip
FLAG_COLUMNS = {"sms", "news_mail", "kakao_consent", "push_consent", "night_consent", "display", "selling",
                "canceled", "first_order", "order_from_mobile", "member_authentication", "auto_renewal"}  # fmt: skip


def _norm(header: str) -> str:
    return header.replace("\ufeff", "").replace(" ", "").strip().lower()


def map_columns(table: str, names: list[str]) -> list[str]:
    """Contract names for a file's headers (Korean admin headers or our own); unknown headers are kept as they are."""
    mapping = {_norm(k): v for k, v in COLUMN_MAP[table].items()}
    mapping.update({_norm(c): c for c in TABLES[table].columns})
    out, seen = [], set()
    for name in names:
        target = mapping.get(_norm(name), name.replace("\ufeff", "").strip())
        if target in seen:  # a second header mapping to the same column keeps its own name
            target = name
        seen.add(target)
        out.append(target)
    return out


def _lookup(arr: pa.Array, mapping: dict[str, str], upper: bool = True) -> pa.Array:
    key = pc.utf8_trim_whitespace(arr)
    if upper:
        key = pc.utf8_upper(key)
    keys = pa.array(list(mapping), pa.string())
    idx = pc.index_in(key, value_set=keys)
    mapped = pc.take(pa.array(list(mapping.values()), pa.string()), idx)
    return pc.if_else(pc.is_null(idx), arr, mapped)


def normalise_values(table: str, data: pa.Table) -> pa.Table:
    """Admin-export spellings → contract values, on text columns only (typed Parquet columns pass untouched).

    Amounts lose thousands separators and ``원``; flags become ``T``/``F``; genders ``M``/``F``; Korean order-status
    names their Cafe24 codes; dates written ``2026.11.22``/``2026/11/22`` get dashes.
    """
    contract = TABLES[table]
    for i, name in enumerate(data.column_names):
        col = data.column(i)
        if not pa.types.is_string(col.type) or name not in contract.columns:
            continue
        dtype = contract.columns[name]
        if dtype == "bigint":
            col = pc.replace_substring_regex(col, r"[,\s원]", "")
        elif name in FLAG_COLUMNS:
            col = _lookup(col, FLAG_VALUES)
        elif name == "gender":
            col = _lookup(col, GENDER_VALUES)
        elif name == "order_status":
            col = _lookup(col, STATUS_VALUES, upper=False)
        elif dtype == "timestamp":
            col = pc.replace_substring_regex(col, r"^(\d{4})[./](\d{1,2})[./](\d{1,2})", r"\1-\2-\3")
        data = data.set_column(i, name, col)
    return data


def _detect_encoding(path: Path) -> str:
    head = path.read_bytes()[: 1 << 20]
    try:
        head.decode("utf-8")
        return "utf8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # cut in the middle of a character at the sample's end
            return "utf8"
        return "cp949"


def read_csv(path: Path, *, encoding: str | None = None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Reads a CSV with every column as text; returns the table and the lines that could not be parsed."""
    enc = encoding or _detect_encoding(path)
    try:
        with open(path, encoding="utf-8-sig" if enc == "utf8" else enc, newline="") as fh:
            names = next(csv.reader(fh), [])
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path.name}: not {'UTF-8' if enc == 'utf8' else enc.upper()} text "
            f"(byte {exc.object[exc.start : exc.start + 1]!r} at offset {exc.start}); pass encoding= if it is another"
        ) from exc
    except csv.Error as exc:
        raise ValueError(f"{path.name}: the header line is not CSV: {exc}") from exc
    if not names:
        raise ValueError(f"{path.name}: empty file (no header line)")
    rejected: list[dict[str, Any]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        rejected.append({"line": row.number, "expected": row.expected_columns, "actual": row.actual_columns,
                         "text": row.text})  # fmt: skip
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            # single-threaded so rejected rows know their line number
            read_options=pacsv.ReadOptions(encoding=enc, skip_rows=1, column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
            ),
        )
    except (
        pa.ArrowInvalid,
        UnicodeDecodeError,
    ) as exc:  # e.g. a quote never closed, a byte of another encoding
        raise ValueError(f"{path.name}: cannot be read as CSV ({enc}): {exc}") from exc
    return table, rejected


def table_for(path: Path) -> str:
    """The storefront table a file holds, from its name (``orders.csv``, ``order_items-2026.parquet`` …)."""
    stem = path.name.split(".")[0].lower()
    for name in sorted(TABLES, key=len, reverse=True):
        if stem == name or stem.startswith(name + "-") or stem.startswith(name + "_"):
            return name
    raise ValueError(
        f"cannot tell which table {path.name} holds; name it after one of {sorted(TABLES)} or pass table="
    )


def read_export(
    path: Path, table: str | None = None, *, encoding: str | None = None
) -> tuple[str, pa.Table, pa.Table]:
    """Reads one export file into contract names/values; returns (table, data, quarantine rows for bad lines)."""
    path = Path(path)
    table = table or table_for(path)
    if table not in TABLES:
        raise ValueError(f"unknown storefront table {table!r}; expected one of {sorted(TABLES)}")
    if path.suffix.lower() == ".parquet":
        data, rejected = pq.read_table(path), []
    elif path.suffix.lower() in (".csv", ".txt"):
        data, rejected = read_csv(path, encoding=encoding)
    else:
        raise ValueError(f"{path.name}: only .csv and .parquet exports are supported")
    data = data.rename_columns(map_columns(table, data.column_names))
    data = normalise_values(table, data)
    bad = pa.table(
        {
            "record_key": pa.array([f"{path.name}:{r['line']}" for r in rejected], pa.string()),
            "reason": pa.array(
                [f"csv: expected {r['expected']} columns, got {r['actual']}" for r in rejected], pa.string()
            ),
            "payload": pa.array(
                [json.dumps({"file": path.name, **r}, ensure_ascii=False) for r in rejected], pa.string()
            ),
        }
    )
    return table, data, bad


def import_files(
    paths: list[Path] | Path,
    *,
    table: str | None = None,
    destination: Any = None,
    pipelines_dir: Path | None = None,
    pipeline_name: str = "cafe24_file_import",
    encoding: str | None = None,
) -> dict:
    """Imports export files (or every ``.csv``/``.parquet`` of a folder) into ``raw_cafe24`` in one merge load.

    Returns ``{"loaded": {table: n}, "quarantined": {table: n}, "loaded_total", "quarantined_total", "load_id"}``.
    """
    if isinstance(paths, Path | str) and Path(paths).is_dir():
        paths = sorted(p for p in Path(paths).iterdir() if p.suffix.lower() in (".csv", ".parquet"))
    elif isinstance(paths, Path | str):
        paths = [Path(paths)]
    batches, pre = [], []
    for path in paths:
        name, data, bad = read_export(Path(path), table, encoding=encoding)
        batches.append((TABLES[name], data))
        if bad.num_rows:
            pre.append((TABLES[name], bad))
    pipeline = make_pipeline(pipeline_name, destination, "raw_cafe24", pipelines_dir=pipelines_dir)
    result = load_arrow(
        pipeline, batches, source="cafe24_file", naive_tz=TIMEZONE, pre_quarantined=pre, naming="duck_case"
    )
    return result.as_dict()


def import_file(path: Path, table: str | None = None, **kwargs: Any) -> dict:
    """One file; see :func:`import_files`."""
    return import_files([Path(path)], table=table, **kwargs)


def load_tables(
    tables: dict[str, pa.Table],
    destination: Any = None,
    *,
    pipelines_dir: Path | None = None,
    pipeline_name: str = "shop_snapshot",
    source: str = "shop_snapshot",
    write_disposition: str = "merge",
) -> dict:
    """Storefront tables already in contract shape (Arrow, one per table name) merged into ``raw_cafe24``.

    ``write_disposition="replace"`` swaps each table instead of merging (same result on a warehouse that only holds
    these rows, about twice as fast). Returns the counts of :func:`import_files` plus ``seconds`` and
    ``rows_per_second``.
    """
    started = time.perf_counter()
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown storefront table(s) {unknown}; expected some of {sorted(TABLES)}")
    pipeline = make_pipeline(pipeline_name, destination, "raw_cafe24", pipelines_dir=pipelines_dir)
    result: LoadResult = load_arrow(
        pipeline,
        [(TABLES[n], t) for n, t in tables.items()],
        source=source,
        naive_tz=TIMEZONE,
        write_disposition=write_disposition,
    )
    out = result.as_dict()
    seconds = time.perf_counter() - started
    out["seconds"] = round(seconds, 3)
    out["rows_per_second"] = round(out["loaded_total"] / seconds) if seconds else None
    return out
