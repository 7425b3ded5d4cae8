"""`crm forget` on a real pipeline (개인정보 보호법 §36): after it, no file under the data folder holds the customer's
contacts, and a rerun of the same date sends nothing twice.

A small shop goes through the real nightly (pipeline/local.py: dlt extraction from the Cafe24 emulator, the raw gate
with its quarantine, dbt, exports, the Channel Talk sync) and the campaigns due (sent through the Solapi emulator).
The customer erased is one who got a message and is in the audience sync, so the ledger holds their address and
profile. The scan reads every file under the data folder as bytes, decompresses gzip and decodes Parquet, and looks
for each stored form of the phone (``01012345678``, ``010-1234-5678``, ``+821012345678``) and the e-mail; the
DuckDB warehouse is also queried column by column (its storage compresses strings, so bytes alone prove little).
The shop and the event drops (the sources) live outside the data folder.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import requests

from include.core.settings import get_settings

pytestmark = [pytest.mark.integration]

KST = ZoneInfo("Asia/Seoul")
DAY = date(2026, 11, 22)
OPTIONS = {"solapi_auth_clock": "wall", "channeltalk_rate_limit": 1000}


def _end(d: date) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=KST)


class _Env:
    """Points the settings at one root (data folder, shop, drops) for the test and restores the environment after."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.saved = dict(os.environ)

    def __enter__(self) -> _Env:
        os.environ.update(
            CRM_DATA_DIR=str(self.root / "data"),
            CRM_SHOP_DIR=str(self.root / "shop"),
            CRM_EVENT_DROP_URL=str(self.root / "drops"),
        )
        get_settings.cache_clear()
        return self

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)
        get_settings.cache_clear()


def _accepted(emu) -> int:
    stats = requests.get(f"{emu.urls['solapi']}/_emulator/stats", params={"prefix": "solapi.messages"},
                         timeout=10).json()["stats"]  # fmt: skip
    return sum(v for k, v in stats.items() if k.startswith("solapi.messages.accepted"))


def _night(root: Path) -> int:
    """The nightly and the campaigns of DAY; returns how many messages the Solapi emulator accepted meanwhile."""
    from pipeline import local
    from testbed.emulators.runner import run_emulators

    with run_emulators(root / "shop", root / "emu", root / "drops", _end(DAY), options=OPTIONS) as emu:
        os.environ.update(emu.connection_env())
        before = _accepted(emu)
        local.run_nightly(DAY, with_report=True)
        local.run_campaigns(DAY)
        return _accepted(emu) - before


@pytest.fixture(scope="module")
def pipeline_root(tmp_path_factory) -> Path:
    from testbed.shop import generate_shop

    root = tmp_path_factory.mktemp("forget")
    generate_shop(
        root / "shop", root / "drops", customers=200, days=35, end_date=DAY + timedelta(days=3), seed=23
    )
    with _Env(root):
        sent = _night(root)
    assert sent > 0, "the first night should send messages"
    return root


def _forms(phone: str, email: str) -> list[str]:
    d = re.sub(r"\D", "", phone)
    return [d, f"{d[:3]}-{d[3:-4]}-{d[-4:]}", f"+82{d[1:]}", email]


def _file_hits(data_dir: Path, needles: list[str]) -> dict[str, list[str]]:
    """Files under ``data_dir`` holding any needle: raw bytes, gzip content, decoded Parquet."""
    import pyarrow.parquet as pq

    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        views = [raw]
        if raw[:2] == b"\x1f\x8b":
            views.append(gzip.decompress(raw))
        if raw[:4] == b"PAR1":
            views.append(
                json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str).encode()
            )
        found = [n for n in needles if any(n.encode() in v for v in views)]
        if found:
            hits[str(path.relative_to(data_dir))] = found
    return hits


def _warehouse_hits(warehouse: Path, needles: list[str]) -> list[str]:
    out = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns c "
            "join information_schema.tables t using (table_schema, table_name) "
            "where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, col in cols:
            for n in needles:
                q = f'select count(*) from "{schema}"."{table}" where contains("{col}", ?)'
                if con.execute(q, [n]).fetchone()[0]:
                    out.append(f"{schema}.{table}.{col}")
    return out


def _ledger(data_dir: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(data_dir / "ledger.sqlite") as con:
        return con.execute(sql, args).fetchall()


def test_forget_erases_every_copy_and_a_rerun_sends_nothing_twice(pipeline_root: Path, capsys) -> None:
    from pipeline.cli import main

    root, data = pipeline_root, pipeline_root / "data"
    # a member who was sent a message (open intent: raw address kept) and whose profile was synced
    member, phone = _ledger(data, "select i.member_id, i.recipient from intents i join sync_state s "
                            "on s.member_key = i.member_id where i.recipient is not null and i.member_id is not null "
                            "order by i.member_id limit 1")[0]  # fmt: skip
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        (email,) = con.execute(
            "select email from raw_cafe24.customers where member_id = ?", [member]
        ).fetchone()
    needles = _forms(phone, email)
    assert _file_hits(data, needles), (
        "the contacts should be on disk before the erasure (else the scan proves nothing)"
    )
    assert _warehouse_hits(data / "warehouse.duckdb", needles)
    keys_before = _ledger(data, "select idempotency_key from intents order by 1")

    with _Env(root):
        assert main(["forget", "--customer", member, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ledger"]["intents_recipient_cleared"] >= 1 and out["ledger"]["sync_state"] >= 1
    assert out["warehouse"]["raw_cafe24.customers"]["personal_fields"] >= 2
    assert out["files"].get("exports", {}).get("rows", 0) >= 1
    assert phone not in json.dumps(out) and email not in json.dumps(out), (
        "the report shows contacts masked only"
    )

    assert _file_hits(data, needles) == {}
    assert _warehouse_hits(data / "warehouse.duckdb", needles) == []
    assert _ledger(data, "select idempotency_key from intents order by 1") == keys_before
    assert (
        _ledger(
            data, "select count(*) from opt_outs where source = 'erasure' and customer_id = ?", (member,)
        )[0][0]
        >= 2
    )
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute("select name, cellphone, email, address1 from raw_cafe24.customers where member_id = ?",
                          [member]).fetchone()  # fmt: skip
    assert row == (None, None, None, None), "the customer row stays (ids, counts) without personal fields"

    with _Env(root):  # idempotent
        assert main(["forget", "--customer", member]) == 0
    capsys.readouterr()

    with _Env(root):  # the same date again: nothing is sent twice, the erased customer is never targeted
        assert _night(root) == 0
    assert _ledger(data, "select idempotency_key from intents order by 1") == keys_before
    assert _ledger(
        data, "select count(*) from intents where member_id = ? and recipient is not null", (member,)
    ) == [(0,)]
    with _Env(root):
        assert main(["forget", "--customer", member, "--phone", phone, "--email", email]) == 0
    capsys.readouterr()
    assert _file_hits(data, needles) == {}
