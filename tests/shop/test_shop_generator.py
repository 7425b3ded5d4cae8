"""Generator: determinism, chunked generation, outputs, manifest, CLI, argument errors."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from include.core.contracts import STOREFRONT_TABLES
from testbed.shop import generate_shop
from testbed.shop.__main__ import main
from testbed.shop.generator import TABLES


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _stable(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k not in ("timing_seconds", "peak_rss_mb")}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    kwargs = {"customers": 800, "days": 14, "end_date": date(2026, 11, 22)}
    m1 = generate_shop(tmp_path / "a" / "shop", tmp_path / "a" / "drops", seed=3, **kwargs)
    m2 = generate_shop(tmp_path / "b" / "shop", tmp_path / "b" / "drops", seed=3, **kwargs)
    m3 = generate_shop(tmp_path / "c" / "shop", tmp_path / "c" / "drops", seed=4, **kwargs)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(a) >= len(TABLES) + kwargs["days"]
    assert a == b
    assert _stable(m1) == _stable(m2)
    c = _digests(tmp_path / "c")
    assert a.keys() != c.keys() or any(a[k] != c[k] for k in a)
    assert _stable(m1) != _stable(m3)


def test_tables_carry_contract_columns_and_manifest_matches(small_shop) -> None:
    shop, drops, manifest = small_shop
    on_disk = json.loads((shop / "manifest.json").read_text())
    assert on_disk == manifest
    for contract in STOREFRONT_TABLES:
        table = pq.read_table(shop / f"{contract.name}.parquet")
        assert set(contract.columns) <= set(table.column_names), contract.name
        assert table.num_rows == manifest["rows"][contract.name]
    assert manifest["params"]["customers"] == 2_000
    assert manifest["rows"]["customers"] == 2_000
    assert manifest["hero_product_nos"] == [11, 12]
    lines = sum(
        sum(1 for _ in gzip.open(f, "rt", encoding="utf-8")) for f in drops.glob("dt=*/events-*.jsonl.gz")
    )
    assert lines == manifest["events"] == sum(manifest["drops"].values())


def test_drops_cover_the_window_plus_late_events_of_the_last_day(small_shop) -> None:
    _, drops, manifest = small_shop
    folders = sorted(p.name for p in drops.glob("dt=*"))
    assert folders[0] == "dt=2026-10-24" and folders[-1] == "dt=2026-11-23"
    assert len(folders) == 31
    # the day after end_date holds only late arrivals: a small fraction of a normal day
    assert manifest["drops"]["2026-11-23"] < manifest["drops"]["2026-11-22"] * 0.05


def test_cli_generates_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "--customers", "300", "--days", "7", "--end-date", "2026-10-01", "--seed", "5",
                 "--shop-dir", str(tmp_path / "shop"), "--drops-dir", str(tmp_path / "drops")])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["params"]["end_date"] == "2026-10-01"
    assert summary["rows"]["customers"] == 300
    assert (tmp_path / "drops" / "dt=2026-10-01").is_dir()


def test_regenerating_replaces_previous_outputs(tmp_path: Path) -> None:
    shop, drops = tmp_path / "shop", tmp_path / "drops"
    generate_shop(shop, drops, customers=300, days=10, seed=1)
    (shop / "sim").mkdir()
    (shop / "sim" / "orders-old.parquet").write_bytes(b"stale")
    generate_shop(shop, drops, customers=300, days=3, seed=1)
    assert len(list(drops.glob("dt=*"))) <= 4
    assert not (shop / "sim" / "orders-old.parquet").exists()


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        generate_shop(tmp_path / "s", tmp_path / "d", customers=0)


def _day_lines(drops: Path) -> dict[str, list[str]]:
    return {
        d.name: sorted(
            line for f in sorted(d.glob("*.jsonl.gz")) for line in gzip.open(f, "rt", encoding="utf-8")
        )
        for d in sorted(drops.glob("dt=*"))
    }


def test_chunked_generation_gives_the_same_shop_as_one_chunk(tmp_path: Path) -> None:
    # 2,500 members = blocks of 1,000 + 1,000 + 500: three chunks of one block each against one chunk of all
    kwargs = {"customers": 2_500, "days": 14, "end_date": date(2026, 11, 22), "seed": 5}
    one = generate_shop(
        tmp_path / "one" / "shop", tmp_path / "one" / "drops", chunk_members=100_000, **kwargs
    )
    chunked = generate_shop(
        tmp_path / "ch" / "shop", tmp_path / "ch" / "drops", chunk_members=1_000, **kwargs
    )
    again = generate_shop(
        tmp_path / "ch2" / "shop", tmp_path / "ch2" / "drops", chunk_members=1_000, **kwargs
    )

    for name in TABLES:  # the tables byte for byte
        a = hashlib.sha256((tmp_path / "one" / "shop" / f"{name}.parquet").read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "ch" / "shop" / f"{name}.parquet").read_bytes()).hexdigest()
        assert a == b, name
    # the drops: the same lines on the same days (ordered by time within each chunk's run)
    lines = _day_lines(tmp_path / "one" / "drops")
    assert lines == _day_lines(tmp_path / "ch" / "drops")
    assert sum(map(len, lines.values())) == one["events"] > 10_000
    # chunked runs are deterministic to the byte, drops included
    assert _digests(tmp_path / "ch") == _digests(tmp_path / "ch2")
    assert (one["chunk_members"], chunked["chunk_members"]) == (100_000, 1_000)
    run_facts = ("timing_seconds", "peak_rss_mb", "chunk_members")
    assert {k: v for k, v in one.items() if k not in run_facts} == {
        k: v for k, v in chunked.items() if k not in run_facts
    }
    assert _stable(chunked) == _stable(again)
    # the chunks were not empty: members of every block bought, and guests too
    orders = pq.read_table(tmp_path / "ch" / "shop" / "orders.parquet", columns=["member_id"])
    assert {(int(m[1:]) - 1) // 1_000 for m in orders["member_id"].to_pylist() if m} == {0, 1, 2}
    assert orders["member_id"].null_count > 0


def test_tables_are_in_time_order_with_ids_numbered_across_chunks(tmp_path: Path) -> None:
    generate_shop(tmp_path / "shop", tmp_path / "drops", customers=2_200, days=7, seed=9, chunk_members=1_000)
    shop = tmp_path / "shop"
    customers = pq.read_table(shop / "customers.parquet", columns=["member_id", "created_date"]).to_pylist()
    assert [c["member_id"] for c in customers] == [f"m{i:07d}" for i in range(1, 2_201)]
    created = [c["created_date"] for c in customers]
    assert created == sorted(created)  # member ids in sign-up order, across chunks
    orders = pq.read_table(shop / "orders.parquet", columns=["order_id", "order_date"]).to_pylist()
    assert [o["order_date"] for o in orders] == sorted(o["order_date"] for o in orders)
    ids = [o["order_id"] for o in orders]
    assert len(set(ids)) == len(ids)
    per_day: dict[str, list[int]] = {}
    for o in orders:
        day, seq = o["order_id"].split("-")
        assert day == o["order_date"].strftime("%Y%m%d")
        per_day.setdefault(day, []).append(int(seq))
    assert all(sorted(s) == list(range(1, len(s) + 1)) for s in per_day.values())  # dense per day
    reviews = pq.read_table(shop / "reviews.parquet", columns=["article_no", "created_date"]).to_pylist()
    assert [r["article_no"] for r in reviews] == list(range(1, len(reviews) + 1))
    assert [r["created_date"] for r in reviews] == sorted(r["created_date"] for r in reviews)
    subs = pq.read_table(shop / "subscriptions.parquet").to_pylist()
    assert [s["subscription_id"] for s in subs] == [f"SUB{i:08d}" for i in range(1, len(subs) + 1)]
    by_id = {s["subscription_id"]: s for s in subs}
    renewals = [s for s in subs if s["previous_subscription_id"]]
    assert renewals
    for s in renewals:
        prev = by_id[s["previous_subscription_id"]]
        assert prev["member_id"] == s["member_id"] and prev["end_date"] == s["start_date"]
    assert not (shop / ".chunks").exists()


def test_a_full_day_file_continues_in_the_next_one_across_chunks(tmp_path: Path, monkeypatch) -> None:
    from testbed.shop import events

    kwargs = {"customers": 2_000, "days": 3, "seed": 2}
    generate_shop(tmp_path / "a" / "shop", tmp_path / "a" / "drops", chunk_members=1_000, **kwargs)
    monkeypatch.setattr(events, "MAX_ROWS_PER_FILE", 300)
    manifest = generate_shop(tmp_path / "b" / "shop", tmp_path / "b" / "drops", chunk_members=1_000, **kwargs)
    split = tmp_path / "b" / "drops"
    for day, count in manifest["drops"].items():
        files = sorted((split / f"dt={day}").iterdir())
        assert [f.name for f in files] == [f"events-{i:03d}.jsonl.gz" for i in range(-(-count // 300))]
        sizes = [sum(1 for _ in gzip.open(f, "rt", encoding="utf-8")) for f in files]
        assert sizes[:-1] == [300] * (len(files) - 1) and 0 < sizes[-1] <= 300
    assert max(len(list((split / f"dt={d}").iterdir())) for d in manifest["drops"]) >= 3
    assert _day_lines(split) == _day_lines(tmp_path / "a" / "drops")


def test_chunk_size_must_be_whole_blocks(tmp_path: Path) -> None:
    from testbed.shop.blocks import BLOCK_MEMBERS, BlockRng

    with pytest.raises(ValueError, match="multiple"):
        generate_shop(tmp_path / "s", tmp_path / "d", customers=100, chunk_members=BLOCK_MEMBERS + 1)
    with pytest.raises(ValueError, match="block order"):
        BlockRng(1, 0, 2).over(np.array([0, 1, 0]))
