"""Nightly incremental runs equal a full refresh of the same data, and a one-run backfill equals the nightly runs.

A warehouse is driven like production for three data dates: each night the shop is loaded as of the end of the date
(new orders, status changes, refunds, consent changes) with the drop folders of the date and the day before (late
events), then dbt runs for the date. A third of the devices send no session id (an imported clickstream), so their
sessions are derived by inactivity across drops, midnight and late events. The result is compared with (1) ``dbt
build --full-refresh`` of the same warehouse — every table dbt builds, not only the facts — and (2) a fresh warehouse
with the same raw data built in ONE run with ``backfill_start_date``. The same nights with ``event_lookback_days: 0``
must NOT equal their full refresh: the test would not notice a broken lookback otherwise.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import pytest
from dbt_helpers import BUILD_MODELS, END, OUTPUT_SCHEMAS, assert_same_rows, columns, fetch, load_raw, run_dbt

pytestmark = pytest.mark.integration

NIGHTS = [END - timedelta(days=2), END - timedelta(days=1), END]
INCREMENTAL_FACTS = ["marts.fct_events", "marts.fct_orders", "marts.fct_inflow_funnel_daily"]
HISTORY = [
    "marts.fct_customer_segments_daily",
    "marts.fct_customer_tiers_daily",
    "marts.fct_segment_transitions",
    "marts.fct_tier_transitions",
]


def _tables(warehouse, names: list[str]) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {name: fetch(con, f"select * from {name}") for name in names}


def _drop_session_ids(warehouse) -> None:
    """A third of the devices lose their session id (as in a clickstream export without one): staging derives
    their sessions by inactivity, which the incremental history must rebuild exactly across nights."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update raw_events.events set session_id = null where hash(device_id) % 3 = 0")


def _run_nights(shop, work, lookback: int | None = None) -> object:
    """The nightly runs of :data:`NIGHTS` on a growing raw layer (a copy of the warehouse after each night's first
    pass: ``first_pass_<D>.duckdb``); returns the warehouse."""
    warehouse = work / "nightly.duckdb"
    extra = {"event_lookback_days": lookback} if lookback is not None else None
    for i, night in enumerate(NIGHTS):
        load_raw(warehouse, shop.shop_dir, shop.drops_dir, night, lookback_days=70 if i == 0 else 1)
        _drop_session_ids(warehouse)
        run_dbt(BUILD_MODELS, run_date=night, workdir=work, warehouse=warehouse, extra_vars=extra)
        shutil.copy(warehouse, work / f"first_pass_{night}.duckdb")
    return warehouse


def _differing_from_full_refresh(warehouse, work, lookback: int | None = None) -> dict[str, str]:
    """Every table dbt builds, after the nightly runs vs after ``--full-refresh`` of a copy: ``{table: how}``."""
    refreshed = work / "refreshed.duckdb"
    shutil.copy(warehouse, refreshed)
    extra = {"event_lookback_days": lookback} if lookback is not None else None
    run_dbt(
        [*BUILD_MODELS, "--full-refresh"], run_date=END, workdir=work, warehouse=refreshed, extra_vars=extra
    )
    nightly, full = _all_built_tables(warehouse), _all_built_tables(refreshed)
    assert sorted(nightly) == sorted(full)
    differ = {}
    for name in full:
        try:
            assert_same_rows(nightly[name], full[name], name)
        except AssertionError as exc:
            differ[name] = str(exc)[:300]
    return differ


@pytest.fixture(scope="module")
def nightly(shop, tmp_path_factory):
    """Three nightly runs; returns the work folder and the warehouse."""
    work = tmp_path_factory.mktemp("dbt_nightly")
    return work, _run_nights(shop, work)


def test_nightly_history_covers_the_recomputed_days(nightly) -> None:
    _, warehouse = nightly
    with duckdb.connect(str(warehouse), read_only=True) as con:
        dates = [
            r[0]
            for r in con.execute(
                "select distinct segment_date from marts.fct_customer_segments_daily"
            ).fetchall()
        ]
        late = con.execute("select count(*) from marts.fct_events where drop_date > event_date").fetchone()[0]
    # first night: D-2 and the 3 days before it; every later night adds its date
    assert sorted(dates) == [END - timedelta(days=n) for n in range(5, -1, -1)]
    assert late > 0, "the drops carry late events: the lookback has something to catch"


def test_every_table_equals_a_full_refresh(nightly, tmp_path) -> None:
    _, warehouse = nightly
    incremental = _tables(warehouse, INCREMENTAL_FACTS + HISTORY + ["intermediate.int_sessions_aggregated"])
    for name, rows in incremental.items():
        assert rows, f"{name} is empty"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        derived = con.execute(
            "select count(*) from intermediate.int_sessions_aggregated where is_derived_session "
            "and cast(ended_at as date) > session_date"
        ).fetchone()[0]
    assert derived > 0, "derived sessions across midnight: the re-sessionizing has something to get right"
    assert _differing_from_full_refresh(warehouse, tmp_path) == {}


def test_without_the_lookback_the_nights_do_not_equal_a_full_refresh(shop, tmp_path) -> None:
    """The control of the test above: with ``event_lookback_days: 0`` the late events of a drop are not folded into
    the day they belong to, so the same comparison must find differences."""
    warehouse = _run_nights(shop, tmp_path, lookback=0)
    differ = _differing_from_full_refresh(warehouse, tmp_path, lookback=0)
    assert "marts.fct_inflow_funnel_daily" in differ, differ


def test_one_backfill_run_equals_the_nightly_runs(nightly, tmp_path) -> None:
    _, warehouse = nightly
    nightly_tables = _tables(warehouse, INCREMENTAL_FACTS + HISTORY)
    backfill = tmp_path / "backfill.duckdb"
    shutil.copy(warehouse, backfill)
    with duckdb.connect(str(backfill)) as con:  # keep the raw layer only
        for schema in OUTPUT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
    first = min(NIGHTS) - timedelta(days=2)  # the first night recomputed from D-2 - lookback
    run_dbt(BUILD_MODELS, run_date=END, workdir=tmp_path, warehouse=backfill,
            extra_vars={"backfill_start_date": first.isoformat()})  # fmt: skip
    backfilled = _tables(backfill, INCREMENTAL_FACTS + HISTORY)
    for name in INCREMENTAL_FACTS + HISTORY:
        assert_same_rows(backfilled[name], nightly_tables[name], name)


# What a replay cannot give back (docs/dbt.md, "Replaying a date", limits): the raw storefront tables hold each row's
# CURRENT value, so undated values the shop changed after the date are seen as they are now. Excluded by name, in
# every table that has them; each is either a storefront value without a date or computed only from such values.
CURRENT_VALUE_COLUMNS = frozenset({
    # consent flags and their dates (current on purpose: a withdrawal after the date must stop a replay's sends)
    *(f"consent_{c}{s}" for c in ("sms", "kakao", "email", "push", "night") for s in ("", "_at")),
    "consent_reconfirmation_due_date", "is_consent_reconfirmation_due",
    "last_login_at",  # the storefront keeps only the last login: an older one is gone
    "order_status", "order_status_group", "updated_at",  # status text and change time of an order
    "send_status",  # a message's ledger status: the ledger export keeps one row per intent, its latest state
    # the subscription's current status (no dated status history in the raw layer)
    "current_subscription_id", "subscription_state", "subscription_total_deliveries",
    "subscription_remaining_deliveries", "subscription_has_auto_renewal", "subscription_end_date",
    "active_subscription_count",
})  # fmt: skip
# load metadata: the dlt load id of a raw event row changes when a later night re-reads its drop folder
LOAD_METADATA_COLUMNS = frozenset({"load_id"})
# the per-run change set of the event history (what THIS run wrote): empty on a first pass, not on a replay
PER_RUN_TABLES = frozenset({"intermediate.int_events_this_run"})
# tables made only of the subscriptions' current status (compared on nothing else)
CURRENT_VALUE_TABLES = frozenset(
    {"audiences.audience_subscription_renewals", "marts.fct_subscription_funnel"}
)
# the consent snapshot is history, never rolled back (legal proof): checked to lose no version instead
SNAPSHOT = "marts.snp_customer_consents"


def _comparable(con, name: str) -> str:
    schema, table = name.split(".")
    cols = [c for c in columns(con, schema, table) if c not in CURRENT_VALUE_COLUMNS | LOAD_METADATA_COLUMNS]
    return f"select {', '.join(cols)} from {name}"


def _all_built_tables(warehouse) -> dict[str, list[tuple]]:
    """Every base table dbt builds, all columns, except the per-run change set :data:`PER_RUN_TABLES`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and table_schema in {OUTPUT_SCHEMAS} order by 1"
        ).fetchall()
        return {name: fetch(con, f"select * from {name}") for (name,) in names if name not in PER_RUN_TABLES}


def _built_tables(warehouse) -> dict[str, list[tuple]]:
    """Every base table dbt builds (staging tables, intermediate, marts, audiences), current values left out."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and table_schema in {OUTPUT_SCHEMAS} order by 1"
        ).fetchall()
        return {
            name: fetch(con, _comparable(con, name))
            for (name,) in names
            if name not in CURRENT_VALUE_TABLES | PER_RUN_TABLES | {SNAPSHOT}
        }


def _snapshot_versions(warehouse) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0] for r in con.execute(f"select dbt_scd_id from {SNAPSHOT}").fetchall()}


def _snapshot_as_of(warehouse, night) -> list[tuple]:
    """The consent snapshot read as of the end of ``night`` (docs/dbt.md, "Replaying a date"): the version valid
    then of each member. ``dbt_valid_to`` is left out (a later run closes the version D saw as current)."""
    end = night + timedelta(days=1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = [c for c in columns(con, *SNAPSHOT.split(".")) if c != "dbt_valid_to"]
        return fetch(
            con,
            f"select {', '.join(cols)} from {SNAPSHOT} where dbt_valid_from < '{end}' "
            f"and (dbt_valid_to is null or dbt_valid_to >= '{end}')",
        )


def test_replaying_a_past_night_gives_its_first_pass_back(nightly, tmp_path) -> None:
    """Re-running the first night after the two later ones (raw layer already at the last night: later orders,
    status changes, refunds, later drops) rebuilds every table as its first pass left it; re-running the later
    nights in order then gives back theirs; the consent snapshot loses no version. Columns that are the storefront's
    current value (:data:`CURRENT_VALUE_COLUMNS`) are left out: the raw layer has no history of them."""
    work, warehouse = nightly
    replay = tmp_path / "replay.duckdb"
    shutil.copy(warehouse, replay)
    differ: dict[str, str] = {}
    versions = _snapshot_versions(replay)
    for night in NIGHTS:
        run_dbt(BUILD_MODELS, run_date=night, workdir=tmp_path, warehouse=replay)
        want, got = _built_tables(work / f"first_pass_{night}.duckdb"), _built_tables(replay)
        assert sorted(got) == sorted(want), night
        assert want["marts.fct_inflow_funnel_daily"] and want["intermediate.int_events_sessionized"]
        for name in want:
            try:
                assert_same_rows(got[name], want[name], f"{name} replayed for {night}")
            except AssertionError as exc:
                differ[f"{night} {name}"] = str(exc)[:300]
        assert versions <= _snapshot_versions(replay), f"the replay of {night} lost consent versions"
        assert_same_rows(
            _snapshot_as_of(replay, night),
            _snapshot_as_of(work / f"first_pass_{night}.duckdb", night),
            f"consent snapshot as of {night}",
        )
    assert differ == {}, "\n".join(f"{k}: {v}" for k, v in differ.items())
