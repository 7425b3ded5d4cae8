"""import_event_files: JSON lines with a mapping and epoch times, a truncated gzip, a file without an actor column."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from include.extract.event_files import import_event_files


def test_jsonl_gz_with_a_mapping_epoch_times_and_a_cut_end(tmp_path: Path) -> None:
    lines = [
        {"visitor": "v1", "name": "page_view", "ms": 1795654800000, "src": "newsletter", "medium": "email"},
        {"visitor": "v1", "name": "view_item", "ms": "1795654860000", "product_id": 11},
        {"visitor": "v2", "name": "page_view", "ms": 1795654900},  # epoch seconds
        {"visitor": "v3", "name": "page_view", "ms": "2026-11-20 01:00:00"},  # naive: UTC by default
    ]
    raw = gzip.compress(("\n".join(json.dumps(x) for x in lines) + "\n").encode())
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(raw[: len(raw) - 12])  # the gzip trailer and part of the last line are lost
    mapping = {"visitor": "device_id", "name": "event_type", "ms": "event_time", "src": "utm_source",
               "medium": "utm_medium"}  # fmt: skip
    out = import_event_files(
        [path], mapping=mapping, destination=tmp_path / "w.duckdb", pipelines_dir=tmp_path / "d"
    )
    assert out["truncated_files"] == ["export.jsonl.gz"]
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        got = con.sql(
            "select device_id, event_type, epoch_ms(event_time), event_properties from raw_events.events "
            "order by event_time"
        ).fetchall()
        reasons = [r[0] for r in con.sql("select reason from raw_quarantine.records").fetchall()]
    assert len(got) == 3 and out["quarantined_total"] == 1  # the cut last line (v3) is quarantined
    assert got[0][:3] == ("v1", "page_view", 1795654800000)
    assert json.loads(got[0][3])["utm_medium"] == "email" and json.loads(got[1][3])["product_no"] == "11"
    assert got[2][:3] == ("v2", "page_view", 1795654900000)
    assert any(r.startswith("export.jsonl.gz line ") and "truncated gzip" in r for r in reasons)
    again = import_event_files([path], mapping=mapping, destination=tmp_path / "w.duckdb",
                               pipelines_dir=tmp_path / "d")  # fmt: skip
    assert again["loaded_total"] == out["loaded_total"]
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.sql("select count(*) from raw_events.events").fetchall()[0][0] == len(
            got
        )  # ids are stable


def test_a_file_without_an_actor_column_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text("event,timestamp,page_url\npage_view,2026-11-20T01:00:00Z,/\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"clicks\.csv: no column for \['device_id or user_id'\]"):
        import_event_files([path], destination=tmp_path / "w.duckdb", pipelines_dir=tmp_path / "d")
