"""Storefront file imports (CSV/Parquet) into ``raw_cafe24.*``, exact and unable to poison the warehouse.

Shapes understood: a Cafe24 admin export (Korean headers, values like ``12,000``, ``Y``/``N``, ``배송완료``), a
Shopify admin export (orders — one line per line item, split into orders and order items —, customers, products;
:mod:`include.extract.shopify_export`), our own contract names, or any file with a user column ``mapping``.
Encodings UTF-8 (with or without BOM), UTF-16 (BOM) and CP949; delimiters ``,`` ``;`` tab ``|``.

A file is checked whole before anything is written: a header with an empty, duplicate or junk name (``;``, control
characters such as U+0085), an undecodable byte, an unclosed quote or a missing required column rejects it with a
``ValueError`` naming the file (and the line). Rows are then validated one by one (:func:`validate_arrow`): money
exactly (minor units of the shop's currency; ``11.77`` in a KRW shop is quarantined, never rounded), dates in the
common export formats (naive ones in the shop's zone), a key seen twice in one import quarantined but once; every
reason names the file and line. Good rows are merged on the primary key (importing twice changes nothing).

:func:`load_tables` loads tables already in contract shape straight from Arrow (what the sample shop's
``testbed.shop.snapshot.load_snapshot`` uses at 1M-customer scale).
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from include.core.contracts import STOREFRONT_TABLES, RawTable
from include.core.timezone import TIMEZONE
from include.extract import shopify_export
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


def map_columns(table: str, names: list[str], user: Mapping[str, str] | None = None) -> list[str]:
    """Contract names for a file's headers (a user mapping first, then Korean admin headers or our own); unknown
    headers are kept as they are."""
    mapping = {_norm(k): v for k, v in COLUMN_MAP[table].items()}
    mapping.update({_norm(c): c for c in TABLES[table].columns})
    mapping.update({_norm(k): v for k, v in (user or {}).items()})
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


def normalise_timestamps(col: pa.Array) -> pa.Array:
    """Export date spellings → ISO text DuckDB reads: ``2026.11.22``/``2026/11/22`` → ``2026-11-22``,
    ``20261122`` → ``2026-11-22``, ``20261122093000`` → ``2026-11-22 09:30:00``, Shopify's ``… +0900`` →
    ``…+09:00``. A value with no zone stays naive (read in the shop's zone); one that matches nothing is left as
    it is and quarantined by validation with the reason."""
    col = pc.utf8_trim_whitespace(col)
    col = pc.replace_substring_regex(col, r"^(\d{4})[./](\d{1,2})[./](\d{1,2})\.?", r"\1-\2-\3")
    col = pc.replace_substring_regex(col, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    col = pc.replace_substring_regex(
        col, r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$", r"\1-\2-\3 \4:\5:\6"
    )
    return pc.replace_substring_regex(
        col, r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*([+-]\d{2}):?(\d{2})$", r"\1\2:\3"
    )


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
        if dtype == "bigint":  # thousands separators, currency signs/codes: 12,000원 · $1,234.50 · 11.77 USD
            col = pc.replace_substring_regex(col, r"(\d)\s*[A-Z]{3}$", r"\1")
            col = pc.replace_substring_regex(col, r"[,\s원₩$€£¥]", "")
        elif name in FLAG_COLUMNS:
            col = _lookup(col, FLAG_VALUES)
        elif name == "gender":
            col = _lookup(col, GENDER_VALUES)
        elif name == "order_status":
            col = _lookup(col, STATUS_VALUES, upper=False)
        elif dtype == "timestamp":
            col = normalise_timestamps(col)
        data = data.set_column(i, name, col)
    return data


DELIMITERS = (",", ";", "\t", "|")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Row-location columns added by the reader (file name, line number): in every reason, never loaded.
FILE_COL, LINE_COL = "__file", "__line"


def detect_encoding(path: Path) -> str:
    """The text encoding of an export: a BOM decides (UTF-8, UTF-16); else UTF-16 without BOM by its NUL bytes,
    else UTF-8 if it decodes, else CP949 (Korean Windows) if it decodes; else a ``ValueError`` naming the file."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) == 0:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4 and sample[1::2].count(0) == 0:
        return "utf-16-be"
    for name in ("utf-8-sig", "cp949"):
        try:
            head.decode(name)
            return name
        except UnicodeDecodeError as exc:
            if (
                exc.start > len(head) - 4 and len(head) == 1 << 20
            ):  # cut inside a character at the sample's end
                return name
    raise ValueError(f"{path.name}: neither UTF-8, UTF-16 nor CP949 text; pass encoding= with its encoding")


def detect_delimiter(header_line: str) -> str:
    """The delimiter of a file from its header line: the most frequent of ``,`` ``;`` tab ``|`` outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def check_header(path: Path, names: list[str], delimiter: str) -> list[str]:
    """The header's names, stripped; rejects the file (``ValueError`` naming it and the column) when a name is
    empty, repeated, or holds a control/format character or another delimiter (a sign of a broken export)."""
    raw = [n.replace("\ufeff", "") for n in names]
    out = [n.strip(" ") for n in raw]
    problems = []
    for i, name in enumerate(out, start=1):
        junk = [c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Zs") and c != " "]
        junk += [c for c in name if c in DELIMITERS and c != delimiter]
        if not name:
            problems.append(f"column {i} has no name")
        elif junk:
            problems.append(f"column {i} {name!r} holds {''.join(sorted(set(junk)))!r}")
    dupes = sorted({n for n in out if n and out.count(n) > 1})
    if dupes:
        problems.append(f"repeated column names {dupes}")
    if problems:
        raise ValueError(f"{path.name}: header rejected, nothing imported: {'; '.join(problems)}")
    return out


def read_csv(path: Path, *, encoding: str | None = None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Reads a CSV with every column as text plus its line number (:data:`LINE_COL`); returns the table and the
    lines that do not have the header's number of fields. Raises ``ValueError`` naming the file (and line) for a
    file that cannot be read whole: bad header, undecodable byte, unclosed quote."""
    path = Path(path)
    enc = encoding or detect_encoding(path)
    line = 0
    try:
        with open(path, encoding=enc, newline="") as fh:
            first = fh.readline()
            if not first.strip():
                raise ValueError(f"{path.name}: empty file (no header line)")
            delimiter = detect_delimiter(first)
            fh.seek(0)
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            names = check_header(path, next(reader), delimiter)
            width, rows, lines, rejected = len(names), [], [], []
            line = reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                if not record:  # a blank line is no record
                    continue
                if len(record) != width:
                    rejected.append({"line": start, "expected": width, "actual": len(record),
                                     "text": delimiter.join(record)})  # fmt: skip
                    continue
                rows.append(record)
                lines.append(start)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path.name} line {line + 1}: not {enc} text (byte {exc.object[exc.start : exc.start + 1]!r}); "
            "pass encoding= if it is another"
        ) from exc
    except csv.Error as exc:
        raise ValueError(f"{path.name} line {line + 1}: cannot be read as CSV: {exc}") from exc
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    data = {
        n: pa.array([v if v != "" else None for v in col], pa.string())
        for n, col in zip(names, columns, strict=True)
    }
    data[LINE_COL] = pa.array(lines, pa.int64())
    return pa.table(data), rejected


def table_for(path: Path) -> str:
    """The storefront table a file holds, from its name (``orders.csv``, ``order_items-2026.parquet``,
    Shopify's ``orders_export_1.csv`` …)."""
    stem = path.name.split(".")[0].lower()
    for name in sorted(TABLES, key=len, reverse=True):
        if stem == name or stem.startswith(name + "-") or stem.startswith(name + "_"):
            return name
    raise ValueError(
        f"cannot tell which table {path.name} holds; name it after one of {sorted(TABLES)} or pass table="
    )


def load_mapping(mapping: Mapping | str | Path | None, table: str | None = None) -> dict[str, dict[str, str]]:
    """A user column mapping ``{table: {"their header": "contract column"}}`` from a dict or a YAML file; a flat
    ``{"their header": "contract column"}`` is for ``table``. Targets must be contract columns."""
    if mapping is None:
        return {}
    if isinstance(mapping, str | Path):
        path = Path(mapping)
        try:
            mapping = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"column mapping {path}: cannot be read: {exc}") from exc
    if not isinstance(mapping, Mapping):
        raise ValueError("column mapping: expected {table: {their header: contract column}}")
    if mapping and not all(isinstance(v, Mapping) for v in mapping.values()):
        if table is None:
            raise ValueError(
                "column mapping: a flat {header: column} mapping needs table=; else nest it by table"
            )
        mapping = {table: dict(mapping)}
    out: dict[str, dict[str, str]] = {}
    for table, cols in mapping.items():
        if table not in TABLES:
            raise ValueError(f"column mapping: unknown table {table!r}; expected some of {sorted(TABLES)}")
        wrong = sorted(str(v) for v in cols.values() if v not in TABLES[table].columns)
        if wrong:
            raise ValueError(
                f"column mapping for {table}: {wrong} are not columns of {TABLES[table].qualified} "
                f"(columns: {list(TABLES[table].columns)})"
            )
        out[table] = {str(k): str(v) for k, v in cols.items()}
    return out


@dataclass
class Read:
    """One table read from a file: contract-named text columns (+ :data:`FILE_COL`/:data:`LINE_COL`), the lines
    quarantined while reading, and the file's columns that are not loaded."""

    table: str
    data: pa.Table
    bad: pa.Table
    ignored: list[str]


def _require(path: Path, table: str, data: pa.Table, headers: list[str]) -> None:
    missing = [c for c in TABLES[table].required if c not in data.column_names]
    if missing:
        raise ValueError(
            f"{path.name}: required {table} column(s) {missing} not found; headers found: {headers}. "
            f"Pass mapping={{'{table}': {{'<their header>': '<column>'}}}} (or a YAML file) to name them"
        )


def read_file(
    path: Path, table: str | None = None, *, encoding: str | None = None, mapping: Mapping | None = None
) -> list[Read]:
    """Reads one export file into contract names/values (a Shopify orders export gives orders and order items).

    ``mapping`` is this table's ``{"their header": "contract column"}``; with it, headers neither mapped nor
    contract/Cafe24 names are not loaded (listed in :attr:`Read.ignored`)."""
    path = Path(path)
    table = table or table_for(path)
    if table not in TABLES:
        raise ValueError(f"unknown storefront table {table!r}; expected one of {sorted(TABLES)}")
    user = dict(mapping) if mapping else None
    if path.suffix.lower() == ".parquet":
        try:
            data, rejected = pq.read_table(path), []
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{path.name}: cannot be read as Parquet: {exc}") from exc
        check_header(path, data.column_names, ",")
        data = data.append_column(LINE_COL, pa.array(range(1, data.num_rows + 1), pa.int64()))
    elif path.suffix.lower() in (".csv", ".txt", ".tsv"):
        data, rejected = read_csv(path, encoding=encoding)
    else:
        raise ValueError(f"{path.name}: only .csv/.tsv/.txt and .parquet exports are supported")
    headers = [c for c in data.column_names if c != LINE_COL]
    data = data.append_column(FILE_COL, pa.array([path.name] * data.num_rows, pa.string()))
    bad = _bad_lines(path, rejected)
    kind = shopify_export.kind(headers) if not user else None
    if kind:
        if kind != table and not (kind == "orders" and table == "order_items"):
            raise ValueError(f"{path.name}: a Shopify {kind} export, not {table}")
        reads = []
        for name, part in shopify_export.to_contract(kind, data, path).items():
            part = normalise_values(name, part)
            _require(path, name, part, headers)
            reads.append(
                Read(
                    name,
                    part,
                    bad if name == kind else bad.slice(0, 0),
                    shopify_export.ignored(kind, headers),
                )
            )
        return reads
    names = map_columns(table, headers, user)
    ignored = []
    if user:  # a mapped file loads what is mapped (or already a contract/Cafe24 name), nothing else
        known = set(TABLES[table].columns)
        keep = [i for i, n in enumerate(names) if n in known]
        ignored = [headers[i] for i in range(len(headers)) if i not in keep]
        data = data.select([*keep, len(headers), len(headers) + 1])
        names = [names[i] for i in keep]
    data = data.rename_columns([*names, LINE_COL, FILE_COL])
    data = normalise_values(table, data)
    _require(path, table, data, headers)
    return [Read(table, data, bad, ignored)]


def _bad_lines(path: Path, rejected: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
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


def read_export(
    path: Path, table: str | None = None, *, encoding: str | None = None, mapping: Mapping | None = None
) -> tuple[str, pa.Table, pa.Table]:
    """Reads one export file into contract names/values; returns (table, data, quarantine rows for bad lines) of
    its first table (see :func:`read_file` for files holding several)."""
    first = read_file(path, table, encoding=encoding, mapping=mapping)[0]
    return first.table, first.data.drop_columns([FILE_COL, LINE_COL]), first.bad


def _paths(paths: Iterable[Path | str] | Path | str) -> list[Path]:
    if isinstance(paths, Path | str):
        if Path(paths).is_dir():
            suffixes = (".csv", ".tsv", ".parquet")
            return sorted(p for p in Path(paths).iterdir() if p.suffix.lower() in suffixes)
        return [Path(paths)]
    return [Path(p) for p in paths]


def import_files(
    paths: Iterable[Path | str] | Path | str,
    *,
    table: str | None = None,
    mapping: Mapping | str | Path | None = None,
    destination: Any = None,
    pipelines_dir: Path | None = None,
    pipeline_name: str = "cafe24_file_import",
    encoding: str | None = None,
    on_file: Callable[[Path, str, int], None] | None = None,
    currency: str | None = None,
) -> dict:
    """Imports export files (or every ``.csv``/``.tsv``/``.parquet`` of a folder) into ``raw_cafe24`` in one load.

    Every file is read and checked before anything is written: one bad file (header, encoding, quoting, missing
    required columns) raises ``ValueError`` naming it and nothing of the import is loaded.

    Args:
        paths: files or one folder.
        table: the table every file holds (else from each file name, :func:`table_for`).
        mapping: ``{table: {"their header": "contract column"}}`` or a YAML file of it (:func:`load_mapping`).
        destination, pipelines_dir, pipeline_name: see :func:`include.extract.common.make_pipeline`.
        encoding: force a text encoding (else detected per file).
        on_file: called as ``on_file(path, table, rows)`` after each file is read (progress).
        currency: the shop's currency (default the dbt var ``shop_currency``).

    Returns:
        ``{"loaded": {table: n}, "quarantined": {table: n}, "loaded_total", "quarantined_total", "load_id",
        "reasons": {table: {kind: n}}, "ignored_columns": {file: [headers not loaded]}}``.
    """
    resolved = load_mapping(mapping, table)
    batches, pre, ignored = [], [], {}
    for path in _paths(paths):
        name = table or table_for(path)
        for read in read_file(path, name, encoding=encoding, mapping=resolved.get(name)):
            batches.append((TABLES[read.table], read.data))
            if read.bad.num_rows:
                pre.append((TABLES[read.table], read.bad))
            if read.ignored:
                ignored[path.name] = read.ignored
            if on_file:
                on_file(path, read.table, read.data.num_rows + read.bad.num_rows)
    pipeline = make_pipeline(pipeline_name, destination, "raw_cafe24", pipelines_dir=pipelines_dir)
    result = load_arrow(
        pipeline, batches, source="cafe24_file", naive_tz=TIMEZONE, pre_quarantined=pre, naming="duck_case",
        currency=currency, location=(FILE_COL, LINE_COL), dedupe=True,
    )  # fmt: skip
    out = result.as_dict()
    out["ignored_columns"] = ignored
    return out


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
