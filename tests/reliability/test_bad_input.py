"""Bad input, property-based: every input gets a clear error or a quarantine record, and no row goes missing.

The seams are the ones production data passes through:

- API pages: a real HTTP server on loopback answers a generated body; the extractors' own client and page loop
  (:func:`include.extract.rest.iterate_pages`) read it, and each source's batch mapping
  (``cafe24.batch_tables``, ``shopify.batch_tables``, ``messaging.report_tables``) turns the items into contract
  rows and quarantine records;
- event drop files (:func:`include.extract.events.read_drops`, then the de-duplication and row validation
  ``load_event_drops`` runs before its dlt load);
- CSV exports (:func:`include.extract.file_import.read_export`, then the same row validation);
- campaign configuration files other than campaigns (``settings.yml``, ``templates.yml``; the campaign files have
  their own property tests in ``tests/activation/test_config.py``).

"Clear error" means an exception of the module's declared kind whose message names what was being read (endpoint
and page, or file); anything else is an unexplained crash and fails the property. "No silent loss" means rows in
= rows loaded + rows quarantined (+ repeats the loader dropped on purpose and counted).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.core.contracts import CAFE24_CUSTOMERS, CAFE24_ORDERS, EVENTS, MESSAGE_REPORTS, RawTable
from include.core.http import HttpPolicy, HttpStats, Throttle, rest_client
from include.extract import cafe24, messaging, shopify
from include.extract.common import validate_arrow
from include.extract.resources import PageLoader
from include.extract.rest import ExtractionError, iterate_pages

pytestmark = [pytest.mark.reliability]

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- value strategies -----------------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "null",
            "NaN",
            "2026-13-45 25:61:00",
            "12,000원",
            "0x1F",
            "\u0000",
            "\ud800",
            "😀",
            "'; drop --",
        ]
    ),
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
)
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def plausible(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """An item with the fields a source expects (each maybe missing, maybe garbage) plus unknown extras."""
    return st.fixed_dictionaries(
        {},
        optional={
            **{k: st.one_of(v, scalar, json_value) for k, v in fields.items()},
            "extra_field": json_value,
        },
    )


ts = st.sampled_from(["2026-11-20T10:00:00+09:00", "2026-11-20 10:00:00", "2026-11-20T01:00:00Z"])
ids = st.sampled_from(["A1", "A2", "A3", "1", "2"])  # few ids: repeats inside a page happen
money = st.one_of(st.integers(0, 10**7), st.sampled_from(["12000", "12,000"]))
cafe24_item = plausible(
    {
        "order_item_code": ids,
        "product_no": st.integers(1, 99),
        "quantity": st.integers(0, 5),
        "product_price": money,
    }
)
cafe24_order = plausible(
    {
        "order_id": ids,
        "order_date": ts,
        "updated_date": ts,
        "payment_amount": money,
        "order_status": st.sampled_from(["N40", "C40"]),
        "currency": st.just("KRW"),
        "items": st.one_of(st.lists(cafe24_item, max_size=3), json_value),
        "actual_order_amount": st.one_of(st.fixed_dictionaries({"payment_amount": money}), json_value),
    }
)
cafe24_customer = plausible(
    {
        "member_id": ids,
        "created_date": ts,
        "updated_date": ts,
        "sms": st.sampled_from(["T", "F"]),
        "news_mail": st.just("F"),
    }
)
shopify_line = plausible({"id": ids, "quantity": st.integers(0, 5), "price": st.sampled_from(["1.00", "x"])})
shopify_order = plausible(
    {
        "id": st.one_of(st.integers(1, 3), ids),
        "created_at": ts,
        "updated_at": ts,
        "total_price": st.sampled_from(["10.00", "ten"]),
        "customer": st.one_of(st.fixed_dictionaries({"id": st.integers(1, 3)}), json_value),
        "line_items": st.one_of(st.lists(shopify_line, max_size=3), json_value),
    }
)
shopify_product = plausible(
    {
        "id": st.integers(1, 3),
        "title": odd_text,
        "updated_at": ts,
        "variants": st.one_of(
            st.lists(st.fixed_dictionaries({"price": st.just("9.90")}), max_size=2), json_value
        ),
    }
)
solapi_report = plausible(
    {
        "messageId": ids,
        "statusCode": st.sampled_from(["2000", "4000", 4000]),
        "dateCreated": ts,
        "dateUpdated": ts,
        "to": st.sampled_from(["010-1234-5678", 1012345678]),
        "customFields": json_value,
    }
)


def items_of(item: st.SearchStrategy) -> st.SearchStrategy[list]:
    return st.lists(st.one_of(item, item, item, json_value), max_size=8)


def body_of(key: str, item: st.SearchStrategy, *, keyed: bool = False) -> st.SearchStrategy[bytes]:
    """A page body: mostly ``{key: [items]}`` (or ``{key: {id: item}}``), sometimes anything at all."""
    items = items_of(item)
    page = items.map(lambda xs: {key: {f"k{i}": x for i, x in enumerate(xs)} if keyed else xs})
    shapes = st.one_of(
        page,
        page,
        page,
        st.fixed_dictionaries({key: json_value}),
        st.dictionaries(st.text(max_size=5), json_value, max_size=2),
        json_value,
    )
    encoded = st.tuples(shapes, st.booleans()).map(
        lambda d: json.dumps(d[0], ensure_ascii=d[1]).encode("utf-8", "surrogatepass")
    )
    broken = st.one_of(
        encoded.map(lambda b: b[: max(1, len(b) // 2)]),  # cut off
        st.binary(max_size=40),
        st.just(b"\xff\xfe{}"),
        st.just(b""),
    )
    return st.one_of(encoded, encoded, encoded, broken)


# --- a loopback server answering whatever the example says ------------------------------------------------------


class _Page:
    body: bytes = b"{}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = _Page.body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_server() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def read_page(url: str, body: bytes, selector: str, label: str) -> list[Any] | ExtractionError:
    """One page through the extractors' client and page loop; the items, or the extraction error raised."""
    from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

    _Page.body = body
    stats = HttpStats()
    policy = HttpPolicy(max_attempts=1, timeout_s=5, pacing=False)
    client = rest_client(url, stats=stats, policy=policy, throttle=Throttle(pacing=False, stats=stats))
    try:
        pages = iterate_pages(
            client, "/list", params={"limit": 100}, paginator=SinglePagePaginator(), data_selector=selector,
            key=lambda item: item.get("id") if isinstance(item, dict) else None, stats=stats, memory={}, label=label,
        )  # fmt: skip
        return [item for page in pages for item in page]
    except ExtractionError as exc:
        return exc


def check_page(
    url: str, body: bytes, selector: str, mapper: Any, main: RawTable, child: RawTable | None
) -> None:
    got = read_page(url, body, selector, "probe")
    if isinstance(got, ExtractionError):
        assert "probe: GET /list page 1" in str(got), f"the error does not say where: {got}"
        return
    loader = PageLoader("probe")
    tables = list(mapper(loader, got))
    rows = _rows_per_table(tables, main)
    loaded = rows.get(main.name, 0)
    assert loaded + loader.quarantined[main.name] + loader.repeats[main.name] == len(got), (
        loaded,
        dict(loader.quarantined),
        dict(loader.repeats),
        len(got),
    )
    for _table, bad in loader.bad:
        assert all(bad.column("reason").to_pylist()), "a quarantine record without a reason"
    if child is not None:  # nested rows of the orders that were well-shaped objects: loaded or quarantined
        nested = "items" if main is CAFE24_ORDERS else "line_items"
        firsts, seen = [], set()
        for o in got:
            key = o.get(main.primary_key[0]) if isinstance(o, dict) else None
            if isinstance(o, dict) and json.dumps(key, default=str) not in seen:
                seen.add(json.dumps(key, default=str))
                firsts.append(o)
        shaped = [
            o
            for o in firsts
            if isinstance(o.get(nested), list) and all(isinstance(i, dict) for i in o[nested])
        ]
        expected = sum(len(o[nested]) for o in shaped if _shape_ok(o, main))
        child_rows = rows.get(child.name, 0)
        handled = child_rows + loader.quarantined[child.name] + loader.repeats[child.name]
        assert handled == expected, (handled, expected)


def _shape_ok(order: dict, main: RawTable) -> bool:
    from include.extract.resources import shape_problem

    shape = cafe24.ORDER_SHAPE if main is CAFE24_ORDERS else shopify.SHAPES["orders"]
    return shape_problem(order, shape) is None


def _rows_per_table(tables: list[Any], main: RawTable) -> dict[str, int]:
    """Rows per table of what a mapper yielded (Arrow tables; nested ones marked with their table name)."""
    out: dict[str, int] = {}
    for t in tables:
        data, meta = getattr(t, "data", t), getattr(t, "meta", None)
        name = getattr(meta, "table_name", None) or main.name
        out[name] = out.get(name, 0) + data.num_rows
    return out


@FAST
@given(body=body_of("orders", cafe24_order))
def test_cafe24_order_pages(page_server: str, body: bytes) -> None:
    check_page(
        page_server, body, "orders", lambda lo, items: cafe24.batch_tables(lo, "orders", items), CAFE24_ORDERS,
        cafe24.ORDER_ITEMS,
    )  # fmt: skip


@FAST
@given(body=body_of("customersprivacy", cafe24_customer))
def test_cafe24_member_pages(page_server: str, body: bytes) -> None:
    check_page(
        page_server, body, "customersprivacy", lambda lo, items: cafe24.batch_tables(lo, "customers", items),
        CAFE24_CUSTOMERS, None,
    )  # fmt: skip


@FAST
@given(body=body_of("orders", shopify_order))
def test_shopify_order_pages(page_server: str, body: bytes) -> None:
    check_page(
        page_server, body, "orders", lambda lo, items: shopify.batch_tables(lo, "orders", items),
        shopify.SHOPIFY_ORDERS, shopify.SHOPIFY_ORDER_LINE_ITEMS,
    )  # fmt: skip


@FAST
@given(body=body_of("products", shopify_product))
def test_shopify_product_pages(page_server: str, body: bytes) -> None:
    check_page(
        page_server, body, "products", lambda lo, items: shopify.batch_tables(lo, "products", items),
        shopify.SHOPIFY_PRODUCTS, None,
    )  # fmt: skip


@FAST
@given(body=body_of("messageList", solapi_report, keyed=True))
def test_solapi_report_pages(page_server: str, body: bytes) -> None:
    check_page(page_server, body, "messageList.*", messaging.report_tables, MESSAGE_REPORTS, None)


def test_a_page_without_its_data_is_an_error_not_the_end(page_server: str) -> None:
    """The regression the page property found: a body without the list used to read as "no more rows"."""
    for body in (b'{"error": "maintenance"}', b'{"orders": null}', b"[]", b'"orders"'):
        got = read_page(page_server, body, "orders", "cafe24 orders")
        assert isinstance(got, ExtractionError), body
        assert "without a list under 'orders'" in str(got) and "page 1" in str(got)
    assert read_page(page_server, b'{"orders": []}', "orders", "cafe24 orders") == []


def test_a_malformed_count_is_an_error_not_an_empty_window() -> None:
    from include.extract.rest import MalformedResponseError, count_value

    assert count_value({"count": 12}, "x") == 12 and count_value({"count": "3"}, "x") == 3
    for doc in ({}, {"count": None}, {"count": "many"}, {"count": -1}, {"count": True}, [], "12"):
        with pytest.raises(MalformedResponseError, match="cafe24 orders count"):
            count_value(doc, "cafe24 orders count: GET orders/count")


# --- event drops ------------------------------------------------------------------------------------------------

good_event = st.fixed_dictionaries(
    {
        "$insert_id": st.sampled_from(["e1", "e2", "e3", "e4"]),
        "event_type": st.sampled_from(["view_item", "purchase"]),
        "event_time": st.one_of(
            st.sampled_from(["2026-11-20 01:00:00.000000", "2026-11-20T01:00:00Z"]), scalar
        ),
        "device_id": st.sampled_from(["d1", "d2"]),
        "session_id": st.one_of(st.integers(1, 10**6), scalar),
    },
    optional={
        "user_id": st.one_of(st.none(), st.sampled_from(["m0000001"])),
        "event_properties": json_value,
        "platform": scalar,
        "city": st.text(max_size=5),
    },
)
garbled = st.text(
    alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30
)
drop_line = st.one_of(
    good_event.map(lambda d: json.dumps(d, ensure_ascii=False)),
    good_event.map(lambda d: json.dumps(d, ensure_ascii=False)),
    json_value.map(lambda v: json.dumps(v, ensure_ascii=False).replace("\n", " ")),
    garbled,
    good_event.map(lambda d: json.dumps(d)[:-3]),  # cut off
    st.just(""),
).map(lambda s: s.encode("utf-8", "surrogatepass"))
bad_bytes_line = st.sampled_from([b'\xff\xfe{"a": 1}', b'{"$insert_id": "\xc3"}', b"\x00"])


@FAST
@given(
    lines=st.lists(st.one_of(drop_line, drop_line, drop_line, bad_bytes_line), max_size=25), gz=st.booleans()
)
def test_event_drop_lines(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], gz: bool) -> None:
    from include.extract.events import _dedupe, read_drops

    root = tmp_path_factory.mktemp("drops")
    folder = root / "dt=2026-11-20"
    folder.mkdir()
    raw = b"\n".join(lines) + b"\n"
    name = "events-000.jsonl.gz" if gz else "events-000.jsonl"
    (folder / name).write_bytes(gzip.compress(raw) if gz else raw)
    rows_in = sum(1 for line in lines if line.strip(b" "))
    events, bad, files = read_drops(str(root), [date(2026, 11, 20)])
    assert files == [f"dt=2026-11-20/{name}"]
    assert all(bad.column("reason").to_pylist())
    deduped, duplicates = _dedupe(events) if events.num_rows else (events, 0)
    checked = validate_arrow(deduped, EVENTS, naive_tz="UTC", payload_column="line")
    assert all(checked.bad.column("reason").to_pylist())
    assert checked.good.num_rows + checked.bad.num_rows + bad.num_rows + duplicates == rows_in


def test_a_garbled_drop_file_loads_every_good_line_and_quarantines_the_rest(tmp_path: Path) -> None:
    """The same property end to end once: dlt load into a DuckDB warehouse, counted in the tables."""
    import duckdb

    from include.extract.events import load_event_drops

    folder = tmp_path / "drops" / "dt=2026-11-20"
    folder.mkdir(parents=True)
    good = [
        {"$insert_id": f"e{i}", "event_type": "view_item", "event_time": "2026-11-20T01:00:00Z", "device_id": "d",
         "session_id": i} for i in range(5)
    ]  # fmt: skip
    lines = [json.dumps(g).encode() for g in good]
    lines += [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        b'{"$insert_id": "e9", "event_time": "yesterday", "device_id": "d"}',
    ]
    lines += [json.dumps(good[0]).encode()]  # a duplicate
    (folder / "events-000.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    wh = tmp_path / "wh.duckdb"
    out = load_event_drops(str(tmp_path / "drops"), date(2026, 11, 20), lookback_days=0, destination=wh,
                           pipelines_dir=tmp_path / "dlt")  # fmt: skip
    assert (out["loaded_total"], out["quarantined_total"], out["duplicates"]) == (5, 4, 1)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select count(*) from raw_events.events").fetchone()[0] == 5
        reasons = [
            r[0] for r in con.execute("select reason from raw_quarantine.records order by 1").fetchall()
        ]
    assert len(reasons) == 4 and all(reasons)
    assert any("not valid UTF-8" in r for r in reasons) and any("event_time" in r for r in reasons)


# --- CSV exports ------------------------------------------------------------------------------------------------

CSV_COLUMNS = {
    "customers": [
        "member_id",
        "name",
        "cellphone",
        "email",
        "created_date",
        "updated_date",
        "sms",
        "news_mail",
    ],
    "orders": [
        "order_id",
        "member_id",
        "order_date",
        "payment_amount",
        "order_status",
        "currency",
        "updated_date",
    ],
}
KOREAN = {"member_id": "아이디", "name": "이름", "cellphone": "휴대폰번호", "created_date": "회원가입일",
          "order_id": "주문번호", "payment_amount": "총 결제금액", "order_status": "주문상태"}  # fmt: skip
cell = st.one_of(
    st.sampled_from(
        ["m1", "m2", "A1", "2026-11-20 10:00:00", "2026.11.20", "12,000원", "Y", "N", "배송완료", "KRW"]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10),
)


@st.composite
def csv_files(draw: Any) -> tuple[str, list[str], list[list[str]], str]:
    table = draw(st.sampled_from(sorted(CSV_COLUMNS)))
    cols = draw(st.lists(st.sampled_from(CSV_COLUMNS[table] + ["비고"]), min_size=1, max_size=8, unique=True))
    header = [KOREAN.get(c, c) if draw(st.booleans()) else c for c in cols]
    width = len(header)
    rows = draw(
        st.lists(
            st.one_of(
                st.lists(cell, min_size=width, max_size=width),
                st.lists(cell, min_size=width, max_size=width),
                st.lists(cell, min_size=0, max_size=width + 2),  # ragged
            ),
            max_size=12,
        )
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp949"]))
    return table, header, rows, encoding


@FAST
@given(spec=csv_files())
def test_csv_exports(tmp_path_factory: pytest.TempPathFactory, spec: tuple) -> None:
    from include.extract.file_import import TABLES, read_export

    table, header, rows, encoding = spec
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")  # not representable in CP949: the shop would export UTF-8
    path = tmp_path_factory.mktemp("csv") / f"{table}.csv"
    path.write_bytes(raw)
    records = [r for r in csv.reader(io.StringIO(text)) if r != []][1:]  # a blank line is no record
    try:
        name, data, bad = read_export(path)
    except ValueError as exc:
        assert path.name in str(exc), f"unclear error: {type(exc).__name__}: {exc}"
        return
    assert name == table
    checked = validate_arrow(data, TABLES[table], naive_tz="Asia/Seoul")
    assert all(checked.bad.column("reason").to_pylist()) and all(bad.column("reason").to_pylist())
    assert checked.good.num_rows + checked.bad.num_rows + bad.num_rows == len(records)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff\xfe\x00\x00garbage\x81", '회원아이디,이름\nm1,"김\n'.encode("cp949"), b'a,b\n"x,y\n'],
)
def test_broken_csv_files_name_the_file(tmp_path: Path, raw: bytes) -> None:
    from include.extract.file_import import import_files

    path = tmp_path / "customers.csv"
    path.write_bytes(raw)
    try:
        out = import_files(path, destination=tmp_path / "wh.duckdb", pipelines_dir=tmp_path / "dlt")
    except ValueError as exc:
        assert "customers.csv" in str(exc), f"{type(exc).__name__}: {exc}"
    else:  # readable after all: every line is loaded or quarantined
        assert out["loaded_total"] + out["quarantined_total"] >= 1


# --- campaign configuration: settings.yml and templates.yml -----------------------------------------------------


def _check_config(folder: Path) -> None:
    from activation.config import ConfigError, load_config

    try:
        load_config(folder)
    except ConfigError as exc:
        assert exc.issues and all(i.file and i.reason for i in exc.issues), exc.issues
        assert str(exc)


yaml_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
SETTINGS_KEYS = ["shop_name", "sender_phone", "optout_080", "kakao_pf_id", "timezone", "control_group_pct",
                 "assignment_salt", "frequency_cap", "daily_limit", "retry", "unit_costs", "variables", "syncs",
                 "conversions", "channel_destinations", "max_send_delay_hours"]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["settings.yml", "templates.yml"]),
    mutate=st.dictionaries(st.sampled_from(SETTINGS_KEYS + ["templates"]), yaml_value, max_size=3),
    raw=st.one_of(st.none(), st.binary(max_size=60)),
)
def test_settings_and_templates_files(
    tmp_path_factory: pytest.TempPathFactory, which: str, mutate: dict, raw: bytes | None
) -> None:
    import shutil

    from include.core.settings import REPO_ROOT

    folder = tmp_path_factory.mktemp("campaigns")
    for f in (REPO_ROOT / "include" / "campaigns").glob("*.yml"):
        shutil.copy(f, folder / f.name)
    if raw is not None:
        (folder / which).write_bytes(raw)
    else:
        doc = yaml.safe_load((folder / which).read_text(encoding="utf-8"))
        doc.update(mutate)
        (folder / which).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _check_config(folder)
