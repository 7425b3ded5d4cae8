"""A backfill of seven past dates produces the same marts as seven separate nightly runs.

Both sides go through the storefront/messaging emulators and the same task functions (pipeline/local.py):
side A runs the nightly cycle for each of the seven dates in turn, the emulators' clock at each date's end; side B
extracts once up to the last date and rebuilds all seven dates in one dbt build (``backfill_start_date``). Tables whose
rows are per date are compared on the seven dates; all others in full. The consent snapshot is left out: it records
when each run saw a change, so seven runs rightly hold more versions than one.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from include.core.settings import get_settings

pytestmark = [pytest.mark.integration]

KST = ZoneInfo("Asia/Seoul")
LAST = date(2026, 11, 22)
DATES = [LAST - timedelta(days=k) for k in range(6, -1, -1)]
# per-date tables and their date column: compared on the backfilled dates only
PER_DATE = {
    "fct_customer_segments_daily": "segment_date",
    "fct_customer_tiers_daily": "tier_date",
    "fct_segment_transitions": "transition_date",
    "fct_tier_transitions": "transition_date",
    "fct_inflow_funnel_daily": "funnel_date",
    "fct_review_funnel": "delivered_date",
}
SKIP = {"snp_customer_consents"}


def _use(monkeypatch, data_dir: Path, shop: Path, drops: Path) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CRM_SHOP_DIR", str(shop))
    monkeypatch.setenv("CRM_EVENT_DROP_URL", str(drops))
    get_settings.cache_clear()


def _table_hashes(warehouse: Path) -> dict[str, tuple]:
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            "and table_schema in ('marts', 'audiences') order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            if table in SKIP:
                continue
            # load_id: the raw row's dlt load (a watermark), not data; seven extractions vs one differ there
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall() if c != "load_id"]  # fmt: skip
            where = ""
            if table in PER_DATE:
                where = f"where {PER_DATE[table]} between '{DATES[0]}' and '{DATES[-1]}'"
            expr = ", ".join(f'"{c}"' for c in cols)
            out[f"{schema}.{table}"] = con.execute(
                f'select count(*), coalesce(sum(hash({expr})), 0) from "{schema}"."{table}" {where}'
            ).fetchone()
    return out


def test_backfill_of_seven_dates_equals_seven_nightly_runs(tmp_path, monkeypatch) -> None:
    from pipeline import local
    from testbed.emulators.runner import run_emulators
    from testbed.shop import generate_shop

    shop, drops = tmp_path / "shop", tmp_path / "drops"
    generate_shop(shop, drops, customers=600, days=40, end_date=LAST + timedelta(days=3), seed=17)
    options = {"solapi_auth_clock": "wall", "channeltalk_rate_limit": 1000}
    env_before = dict(os.environ)

    def end_of(d: date) -> datetime:
        return datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=KST)

    try:
        _use(monkeypatch, tmp_path / "nightly", shop, drops)
        with run_emulators(
            shop, tmp_path / "nightly" / "emu", drops, end_of(DATES[0]), options=options
        ) as emu:
            os.environ.update(emu.connection_env())
            for d in DATES:
                emu.ctx.clock.set(end_of(d))
                local.run_nightly(d, with_report=False)
        nightly = _table_hashes(tmp_path / "nightly" / "warehouse.duckdb")

        _use(monkeypatch, tmp_path / "backfill", shop, drops)
        with run_emulators(shop, tmp_path / "backfill" / "emu", drops, end_of(LAST), options=options) as emu:
            os.environ.update(emu.connection_env())
            local.run_backfill(DATES[0], LAST)
        backfill = _table_hashes(tmp_path / "backfill" / "warehouse.duckdb")
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        get_settings.cache_clear()

    assert set(nightly) == set(backfill) and len(nightly) >= 20
    for table in PER_DATE:
        assert nightly[f"marts.{table}"][0] > 0, f"{table} has no rows on the backfilled dates"
    differ = {t: (nightly[t], backfill[t]) for t in nightly if nightly[t] != backfill[t]}
    assert differ == {}, differ
