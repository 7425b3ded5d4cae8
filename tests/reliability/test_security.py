"""No secret or personal data leaks, and campaign configuration cannot inject SQL.

(a) The reference history ran every task with every logger at DEBUG, in every process: the workers' Python
logging, dbt's own debug log, and the emulators' threads in this process. Every line of it — and every log of the
fault and crash histories, whose error paths log the most — is scanned for the emulators' credentials and tokens
and for the phones and e-mails of the shop's actual customers (``rel_scan``). The run outputs meant for people
(reports, quality reports, audience exports, step summaries) are scanned too.

(b) Campaign filters reach SQL. Hostile column names must be rejected when the configuration is loaded; hostile
values must be bound as parameters: the audience read equals the filter evaluated independently in Python, and
the warehouse (a copy of the reference history's, with hostile values planted in it) is unchanged afterwards.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_harness import DATES
from rel_scan import Scanner, shop_contacts

pytestmark = [pytest.mark.reliability]


@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_no_secret_or_contact_in_any_log(histories) -> None:
    ref = histories["reference"].result()
    phones, emails = shop_contacts(ref.root / "shop")
    assert len(phones) > 900 and len(emails) > 900  # the scan knows every customer's contacts
    assert {"cafe24.secret", "solapi.secret", "channeltalk.secret", "webhook.secret"} <= set(ref.secrets)
    assert any(k.startswith("cafe24.access_token") for k in ref.secrets)  # tokens issued during the run too
    findings = []
    for name in ("reference", "faults", "crashes"):
        res = histories[name].result()
        scanner = Scanner(res.secrets, phones, emails)
        for path in res.logs:
            findings += scanner.scan_file(path)
        if name == "reference":
            debug_lines = scanner.lines
            assert {p.name for p in res.logs} >= {"dbt.log", "emulators.log", "worker-1.err"}
    # DEBUG everywhere is a lot of text: SQL with parameters, HTTP requests, dbt's queries
    assert debug_lines > 20_000, debug_lines
    assert findings == [], "\n".join(map(str, findings[:20]))


@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_no_contact_in_the_run_outputs(histories) -> None:
    import pyarrow.parquet as pq

    ref = histories["reference"].result()
    scanner = Scanner(ref.secrets, *shop_contacts(ref.root / "shop"))
    findings, kinds = [], set()
    for path in sorted((ref.root / "runs").rglob("*")):
        if path.suffix in (".html", ".json", ".csv", ".txt"):
            findings += scanner.scan_file(path)
        elif path.suffix == ".parquet":
            findings += scanner.scan_text(str(path), pq.read_table(path).to_pandas().to_csv())
        else:
            continue
        kinds.add(path.suffix)
    assert kinds == {".html", ".json", ".csv", ".txt", ".parquet"}, kinds
    assert findings == [], "\n".join(map(str, findings[:20]))


def test_international_phone_numbers_are_masked() -> None:
    """The regression the DEBUG scan found: Channel Talk's E.164 ``mobileNumber`` went through the log masking."""
    from include.core.pii import mask_text

    assert mask_text('{"mobileNumber": "+821061851069"}') == '{"mobileNumber": "+82-10-****-1069"}'
    assert mask_text("+82 10-6185-1069, +82(0)10 6185 1069") == "+82-10-****-1069, +82-10-****-1069"
    assert mask_text("010-6185-1069 / 01061851069") == "010-****-1069 / 010-****-1069"
    assert (
        mask_text("order 20261121-9000123, +8210 not a phone") == "order 20261121-9000123, +8210 not a phone"
    )


# --- (b) SQL built from campaign configuration -----------------------------------------------------------------

HOSTILE = [
    "'; drop table audiences.audience_customers; --",
    "서울특별시' OR '1'='1",
    '" OR 1=1 --',
    "/* comment */ 서울특별시",
    "서울특별시\x00",
    "\\'; select 1; --",
    "𝕤𝕖𝕠𝕦𝕝 😀",
    "?",
    "$1",
    "%",
]
TEXT_COLUMNS = ("region", "customer_name", "segment", "preferred_category_name")


def _campaign(filters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "probe",
        "name": "probe",
        "audience": {"model": "audience_customers", "filter": filters},
        "trigger": {"type": "schedule", "cron": "0 10 * * *", "timezone": "Asia/Seoul"},
        "channel": "sms",
        "kind": "advertising",
        "message": {"text": "#{이름}님 안녕하세요"},
    }


def _folder(tmp: Path, filters: list[dict[str, Any]], settings_patch: dict | None = None) -> Path:
    from include.core.settings import REPO_ROOT

    folder = tmp / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    shipped = REPO_ROOT / "include" / "campaigns"
    shutil.copy(shipped / "templates.yml", folder / "templates.yml")
    base = yaml.safe_load((shipped / "settings.yml").read_text(encoding="utf-8"))
    base.update(settings_patch or {})
    (folder / "settings.yml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    (folder / "probe.yml").write_text(
        yaml.safe_dump(_campaign(filters), allow_unicode=True), encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize(
    "column",
    ["region; drop table x", 'region"', "region --", "1=1", "Region", "지역", "region OR 1=1", "a" * 70, ""],
)
def test_hostile_filter_columns_are_rejected_by_validation(tmp_path: Path, column: str) -> None:
    from activation.config import ConfigError, load_config

    bad = [{"column": column, "op": "eq", "value": "x"}]
    sync = {"id": "probe_sync", "destination": "channeltalk", "audience": {"model": "audience_customers",
            "filter": bad}, "profile": {"name": "customer_name"}}  # fmt: skip
    conversions = {
        "purchase": {"table": "marts.fct_orders", "customer_column": column, "time_column": "ordered_at"}
    }
    for folder, field in (
        (_folder(tmp_path / "c", bad), "audience.filter[0].column"),
        (_folder(tmp_path / "s", [], {"syncs": [sync]}), "syncs[0].audience.filter[0].column"),
        (_folder(tmp_path / "v", [], {"conversions": conversions}), "conversions.purchase.customer_column"),
    ):
        with pytest.raises(ConfigError) as exc:
            load_config(folder)
        assert any(i.field == field for i in exc.value.issues), exc.value.issues


def _wh_fingerprint(path: Path) -> dict[str, tuple]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(
                f'select count(*), sum(hash(t)::hugeint) from "{s}"."{t}" as t'
            ).fetchone()
            for s, t in tables
        }


@pytest.fixture(scope="module")
def hostile_warehouse(histories, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], date]:
    """A copy of the reference warehouse whose audience also holds customers with the hostile values."""
    import duckdb

    ref = histories["reference"].result()
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    shutil.copy(ref.root / "warehouse.duckdb", path)
    with duckdb.connect(str(path)) as con:
        for i, value in enumerate(HOSTILE):
            con.execute(
                "insert into audiences.audience_customers by name (select * replace ("
                "? as customer_id, ? as region, ? as customer_name, ? as segment) "
                "from audiences.audience_customers order by customer_id limit 1)",
                [f"zz{i:04d}", value, value[::-1], value[:8]],
            )
        cur = con.execute("select * from audiences.audience_customers order by customer_id")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return path, rows, DATES[-1]


def _intended(rows: list[dict], column: str, op: str, value: Any) -> list[str]:
    def keep(v: Any) -> bool:
        if op == "eq":
            return v is not None and v == value
        if op == "ne":
            return v != value
        if op == "in":
            return v is not None and v in value
        if op == "not_in":
            return v is None or v not in value
        if op == "contains":
            return v is not None and value in str(v)
        return v is not None and str(v).startswith(value)  # starts_with

    return sorted(r["customer_id"] for r in rows if keep(r[column]))


hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))


@pytest.mark.integration
@pytest.mark.timeout(1800)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    column=st.sampled_from(TEXT_COLUMNS),
    op=st.sampled_from(["eq", "ne", "in", "not_in", "contains", "starts_with"]),
    value=hostile_text,
    more=st.lists(hostile_text, min_size=1, max_size=3),
)
def test_hostile_filter_values_are_bound_parameters(
    hostile_warehouse: tuple,
    tmp_path_factory: pytest.TempPathFactory,
    column: str,
    op: str,
    value: str,
    more: list,
) -> None:
    from activation.audience import AudienceReader
    from activation.config import load_config

    path, rows, run_date = hostile_warehouse
    target = [value, *more] if op in ("in", "not_in") else value
    folder = _folder(tmp_path_factory.mktemp("c"), [{"column": column, "op": op, "value": target}])
    campaign = load_config(folder).campaign("probe")  # hostile values are data: the configuration is valid
    before = _wh_fingerprint(path)
    audience = AudienceReader(path).read("audience_customers", list(campaign.audience.filter), run_date)
    assert sorted(r["customer_id"] for r in audience.rows) == _intended(rows, column, op, target)
    assert _wh_fingerprint(path) == before
