"""Replaying a past night after later nights ran gives back exactly the tables of its first pass and sends nothing.

The operator procedure of docs/operations.md ("Re-run a bad night"): a 5-night history (nights 1-2 in one backfill
run, nights 3-5 nightly: extraction through the emulators, dbt, gates, publishing, campaigns); then night 3 is run again with ``pipeline.local`` while the storefront
is already at night 5 (the emulators' clock stays there, as a real shop's would). Every table dbt builds must equal
its state after the first pass of night 3, row for row, and the send ledger and the SMS provider must see no new
message. Re-running the later nights in order (step 2) is checked at the dbt level by tests/dbt/test_dbt_incremental.py
(every table, every night) and the ``--through`` loop by :func:`test_through_reruns_every_later_date_in_order`; their
campaign runs reuse the same idempotency keys as the replay checked here.
Kept small for CI (250 customers, 30 days of history, nights 1-2 in one backfill run): the nights are the cost,
about a minute each (about 5 minutes in all on 2 quiet cores).

Compared: every base table of the schemas dbt builds (staging, intermediate, marts, audiences), row for row.
Not compared: the raw layer (``raw_*``, ``raw_quarantine``: what extraction loaded, merged, never rolled back),
``quality`` (the gate log, one row per gate run), :data:`NOT_COMPARED`. Columns excluded: load metadata
(:data:`LOAD_METADATA`) and the storefront's current values the raw layer keeps no history of
(:data:`CURRENT_VALUE_COLUMNS`, docs/dbt.md "Replaying a date").
"""

from __future__ import annotations

import os
import shutil
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
LAST = date(2026, 11, 22)
NIGHTS = [LAST - timedelta(days=k) for k in range(4, -1, -1)]
MIDDLE = NIGHTS[2]
SCHEMAS = ("staging", "intermediate", "marts", "audiences")
# load metadata: when dlt loaded a row (load_id: the raw row's load id, carried as a watermark), not what the row says (dbt's snapshot columns are data-derived here:
# strategy timestamp on the storefront's updated_at, so they are compared)
LOAD_METADATA = frozenset({"_dlt_load_id", "_dlt_id", "load_id"})
# What a replay cannot give back (docs/dbt.md, "Replaying a date", limits; same list as tests/dbt/test_dbt_incremental.py):
# the raw storefront tables hold each row's CURRENT value, so undated values the shop changed after the date are seen
# as they are now. Excluded by name in every table that has them.
CURRENT_VALUE_COLUMNS = frozenset({
    # consent flags and their dates (current on purpose: a withdrawal after the date must stop a replay's sends)
    *(f"consent_{c}{s}" for c in ("sms", "kakao", "email", "push", "night") for s in ("", "_at")),
    "consent_reconfirmation_due_date", "is_consent_reconfirmation_due",
    "last_login_at",  # the storefront keeps only the last login
    "order_status", "order_status_group", "updated_at",  # status text and change time of an order
    "send_status",  # a message's ledger status: the ledger export keeps one row per intent, its latest state
    # the subscription's current status (no dated status history in the raw layer)
    "current_subscription_id", "subscription_state", "subscription_total_deliveries",
    "subscription_remaining_deliveries", "subscription_has_auto_renewal", "subscription_end_date",
    "active_subscription_count",
})  # fmt: skip
# tables made only of the subscriptions' current status; the consent snapshot (history, never rolled back: checked to
# lose no version instead)
NOT_COMPARED = frozenset({"audiences.audience_subscription_renewals", "marts.fct_subscription_funnel",
                          "marts.snp_customer_consents",
                          # the per-run change set of the event history (what that run wrote)
                          "intermediate.int_events_this_run"})  # fmt: skip


def _end_of(d: date) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=KST)


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_catalog = '{db}' and table_type = 'BASE TABLE' and table_schema in {SCHEMAS} order by 1, 2"
    ).fetchall()
    out = {}
    for schema, table in rows:
        cols = con.execute(
            "select column_name from information_schema.columns where table_catalog = ? and table_schema = ? "
            "and table_name = ? order by ordinal_position",
            [db, schema, table],
        ).fetchall()
        if f"{schema}.{table}" not in NOT_COMPARED:
            out[f"{schema}.{table}"] = [c for (c,) in cols if c not in LOAD_METADATA | CURRENT_VALUE_COLUMNS]
    return out


def diff_warehouses(expected: Path, actual: Path) -> dict[str, str]:
    """Tables whose rows differ (multiset difference both ways), missing tables and column changes."""
    out: dict[str, str] = {}
    with duckdb.connect(str(actual), read_only=True) as con:
        con.execute(f"attach '{expected}' as expected (read_only)")
        db = con.execute("select current_database()").fetchone()[0]
        want, got = _tables(con, "expected"), _tables(con, db)
        for name in sorted(set(want) | set(got)):
            if name not in got or name not in want:
                out[name] = "only in " + ("first pass" if name in want else "replay")
                continue
            if want[name] != got[name]:
                out[name] = f"columns {want[name]} != {got[name]}"
                continue
            schema, table = name.split(".")
            cols = ", ".join(f'"{c}"' for c in want[name])
            a = f'select {cols} from expected."{schema}"."{table}"'
            b = f'select {cols} from "{db}"."{schema}"."{table}"'
            missing = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
            extra = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
            if missing or extra:
                sample = con.execute(f"select * from ({b} except all {a}) limit 2").fetchall()
                out[name] = f"{missing} rows missing, {extra} rows extra, e.g. {sample}"[:600]
    return out


def ledger_state(path: Path) -> dict[str, list[tuple]]:
    """Every intent (by idempotency key: status, provider message id, send time) and every batch."""
    with sqlite3.connect(path) as con:
        intents = con.execute(
            "select idempotency_key, status, message_id, sent_at from intents order by 1"
        ).fetchall()
        batches = con.execute("select batch_id, status, message_count from batches order by 1").fetchall()
    return {"intents": intents, "batches": batches}


def consent_versions(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0] for r in con.execute("select dbt_scd_id from marts.snp_customer_consents").fetchall()}


def consents_as_of_end(warehouse: Path, d: date) -> list[tuple]:
    """The consent snapshot as of the end of ``d`` (docs/dbt.md, "Replaying a date"): each member's version valid
    then, ``dbt_valid_to`` left out (a later run closes the version ``d`` saw as current)."""
    end = d + timedelta(days=1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = [
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' "
                "and table_name = 'snp_customer_consents' and column_name <> 'dbt_valid_to' order by ordinal_position"
            ).fetchall()
        ]
        return sorted(
            con.execute(
                f"select {', '.join(cols)} from marts.snp_customer_consents where dbt_valid_from < '{end}' "
                f"and (dbt_valid_to is null or dbt_valid_to >= '{end}')"
            ).fetchall(),
            key=repr,
        )


def solapi_accepted(url: str) -> int:
    resp = requests.get(f"{url}/_emulator/stats", params={"prefix": "solapi.messages.accepted"}, timeout=10)
    resp.raise_for_status()
    counts = resp.json()
    counts = counts.get("stats", counts) if isinstance(counts, dict) else {}
    return sum(int(v) for k, v in counts.items() if k.startswith("solapi.messages.accepted"))


def test_replaying_a_middle_night_gives_its_first_pass_back_and_sends_nothing(tmp_path, monkeypatch) -> None:
    from pipeline import local
    from testbed.emulators.runner import run_emulators
    from testbed.shop import generate_shop

    shop, drops, data = tmp_path / "shop", tmp_path / "drops", tmp_path / "data"
    generate_shop(shop, drops, customers=250, days=30, end_date=LAST + timedelta(days=3), seed=17)
    monkeypatch.setenv("CRM_DATA_DIR", str(data))
    monkeypatch.setenv("CRM_SHOP_DIR", str(shop))
    monkeypatch.setenv("CRM_EVENT_DROP_URL", str(drops))
    get_settings.cache_clear()
    options = {"solapi_auth_clock": "wall", "channeltalk_rate_limit": 1000}
    env_before = dict(os.environ)
    warehouse, ledger = data / "warehouse.duckdb", data / "ledger.sqlite"
    first = tmp_path / f"first_{MIDDLE}.duckdb"  # the warehouse after the first pass of the middle night

    def night(d: date) -> None:
        local.run_nightly(d, with_report=False)
        local.run_campaigns(d)

    try:
        with run_emulators(shop, data / "emu", drops, _end_of(NIGHTS[0]), options=options) as emu:
            os.environ.update(emu.connection_env())
            # nights 1-2 in one backfill run (identical tables, tests/e2e/test_backfill.py; no sends), then 3-5 nightly
            emu.ctx.clock.set(_end_of(NIGHTS[1]))
            local.run_backfill(NIGHTS[0], NIGHTS[1])
            for d in NIGHTS[2:]:
                emu.ctx.clock.set(_end_of(d))
                night(d)
                if d == MIDDLE:
                    shutil.copyfile(warehouse, first)
            ledger_before = ledger_state(ledger)
            versions_before = consent_versions(warehouse)
            accepted_before = solapi_accepted(emu.urls["solapi"])
            assert accepted_before > 0, "the history sent nothing: the no-new-sends check would be vacuous"

            # the bad night is re-run while the shop is already two days further (the clock stays at night 5)
            night(MIDDLE)
            replay_diff = diff_warehouses(first, warehouse)
            versions_after = consent_versions(warehouse)
            consents_as_of = (
                consents_as_of_end(first, MIDDLE),
                consents_as_of_end(warehouse, MIDDLE),
            )
            ledger_after = ledger_state(ledger)
            accepted_after = solapi_accepted(emu.urls["solapi"])
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        get_settings.cache_clear()

    assert replay_diff == {}, replay_diff
    assert versions_before <= versions_after, "the replay deleted recorded consent versions"
    assert consents_as_of[0] == consents_as_of[1], (
        "the consent snapshot read as of the replayed night changed"
    )
    assert consents_as_of[0], "no consent version as of the night: the check would be vacuous"
    assert ledger_after == ledger_before
    assert accepted_after == accepted_before


def test_through_reruns_every_later_date_in_order(monkeypatch, capsys) -> None:
    """Step 2 of the procedure: ``nightly --date D --through D2 --campaigns`` runs each date from D to D2, oldest
    first, each night before its campaigns; ``--through`` before ``--date`` is refused."""
    from pipeline import local

    calls: list[tuple[str, date]] = []
    monkeypatch.setattr(local, "run_nightly", lambda d, **_: calls.append(("nightly", d)) or {})
    monkeypatch.setattr(local, "run_campaigns", lambda d, **_: calls.append(("campaigns", d)) or {})
    assert local.main(["nightly", "--date", "2026-11-20", "--through", "2026-11-22", "--campaigns"]) == 0
    days = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    assert calls == [(step, d) for d in days for step in ("nightly", "campaigns")]
    with pytest.raises(SystemExit):
        local.main(["nightly", "--date", "2026-11-22", "--through", "2026-11-21"])
    capsys.readouterr()


def test_the_comparison_sees_a_changed_row(tmp_path) -> None:
    """The comparison itself: one changed value in one table is reported, an identical copy is not."""
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    with duckdb.connect(str(a)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.t (k int, v text, _dlt_load_id text)")
        con.execute("insert into marts.t values (1, 'x', 'l1'), (1, 'x', 'l1'), (2, 'y', 'l1')")
    shutil.copyfile(a, b)
    with duckdb.connect(str(b)) as con:
        con.execute("update marts.t set _dlt_load_id = 'l2'")
    assert diff_warehouses(a, b) == {}
    with duckdb.connect(str(b)) as con:
        con.execute("delete from marts.t where k = 1")
        con.execute("insert into marts.t values (1, 'x', 'l2')")
    assert "1 rows missing" in diff_warehouses(a, b)["marts.t"]
