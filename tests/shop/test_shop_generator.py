"""Generator: determinism, outputs, manifest, CLI, argument errors."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date
from pathlib import Path

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
