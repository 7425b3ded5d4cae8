"""A snapshot streamed in batches (what the benchmarks' raw load does at 10M members) lands what one load lands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from include.core.contracts import STOREFRONT_TABLES
from testbed.shop.snapshot import load_snapshot, snapshot_batches
from testbed.shop.store import ShopStore

AS_OF = datetime(2026, 11, 20, tzinfo=ZoneInfo("Asia/Seoul"))


def test_batches_cover_every_row_once_within_the_size(small_shop) -> None:
    store, streamed = ShopStore(small_shop[0]), ShopStore(small_shop[0], customers_in_memory=False)
    con = store.connect()
    expected = {
        t.name: con.sql(f"SELECT count(*) FROM {t.name}_asof($ts)", params={"ts": AS_OF}).fetchall()[0][0]
        for t in STOREFRONT_TABLES
    }
    con.close()
    seen = dict.fromkeys(expected, 0)
    sizes = []
    for piece in snapshot_batches(streamed, AS_OF, 4_000):
        sizes.append(sum(t.num_rows for t in piece.values()))
        for name, table in piece.items():
            seen[name] += table.num_rows
    assert seen == expected and sum(expected.values()) > 20_000
    assert len(sizes) > 4 and sizes[:-1] == [4_000] * (len(sizes) - 1) and 0 < sizes[-1] <= 4_000
    store.close()
    streamed.close()


def test_a_snapshot_loaded_in_batches_equals_one_load(small_shop, tmp_path: Path) -> None:
    one_wh, parts_wh = tmp_path / "one.duckdb", tmp_path / "parts.duckdb"
    store, streamed = ShopStore(small_shop[0]), ShopStore(small_shop[0], customers_in_memory=False)
    one = load_snapshot(store, AS_OF, str(one_wh), pipelines_dir=tmp_path / "d1")
    parts = load_snapshot(streamed, AS_OF, str(parts_wh), pipelines_dir=tmp_path / "d2", batch_rows=8_000)
    store.close()
    streamed.close()
    assert one["batches"] == 1 and parts["batches"] >= 3
    assert parts["loaded"] == one["loaded"] and parts["loaded_total"] == one["loaded_total"] > 20_000
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{one_wh}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{parts_wh}' AS b (READ_ONLY)")
        for t in STOREFRONT_TABLES:
            cols = ", ".join(t.columns)
            for x, y in (("a", "b"), ("b", "a")):
                diff = con.sql(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {x}.raw_cafe24.{t.name} "
                    f"EXCEPT ALL SELECT {cols} FROM {y}.raw_cafe24.{t.name})"
                ).fetchall()[0][0]
                assert diff == 0, (t.name, x, y)


def test_batches_must_be_merged(small_shop, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="merged"):
        load_snapshot(ShopStore(small_shop[0]), AS_OF, str(tmp_path / "w.duckdb"), write_disposition="replace",
                      batch_rows=1_000)  # fmt: skip
