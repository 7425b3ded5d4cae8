"""Event drops → raw_events.events: day-by-day merge, late events, quarantine of bad lines, fsspec URLs."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import duckdb
import fsspec
import pytest

from include.extract.events import load_event_drops
from testbed.shop import generate_shop

END = date(2026, 11, 22)


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ev_shop")
    generate_shop(root / "shop", root / "drops", customers=600, days=5, end_date=END, seed=21)
    return root / "drops"


def file_ids(drops: Path, days: list[str]) -> set[str]:
    ids = set()
    for day in days:
        for f in (drops / f"dt={day}").glob("*.jsonl.gz"):
            ids |= {json.loads(line)["$insert_id"] for line in gzip.open(f, "rt", encoding="utf-8")}
    return ids


def table(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_one_day_then_the_next_merges_without_duplicates(drops: Path, tmp_path: Path) -> None:
    wh, dlt_dir = tmp_path / "w.duckdb", tmp_path / "dlt"
    first = load_event_drops(str(drops), date(2026, 11, 20), destination=wh, pipelines_dir=dlt_dir)
    expected = file_ids(drops, ["2026-11-19", "2026-11-20"])
    assert first["loaded_total"] == len(expected) and first["quarantined_total"] == 0
    assert first["drop_dates"] == ["2026-11-19", "2026-11-20"] and len(first["files"]) == 2
    second = load_event_drops(str(drops), date(2026, 11, 21), destination=wh, pipelines_dir=dlt_dir)
    assert second["loaded_total"] == len(file_ids(drops, ["2026-11-20", "2026-11-21"]))
    total, distinct = table(wh, "SELECT count(*), count(DISTINCT insert_id) FROM raw_events.events")[0]
    assert total == distinct == len(file_ids(drops, ["2026-11-19", "2026-11-20", "2026-11-21"]))
    snapshot = table(wh, "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_events.events ORDER BY insert_id")
    load_event_drops(str(drops), date(2026, 11, 21), destination=wh, pipelines_dir=dlt_dir)  # re-run
    assert (
        table(wh, "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_events.events ORDER BY insert_id")
        == snapshot
    )


def test_columns_types_and_late_events_keep_their_drop_date(drops: Path, tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    load_event_drops(
        str(drops), date(2026, 11, 21), destination=wh, pipelines_dir=tmp_path / "dlt", lookback_days=0
    )
    types = dict(table(wh, "SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = 'raw_events' AND table_name = 'events'"))  # fmt: skip
    assert types["event_time"] == "TIMESTAMP WITH TIME ZONE" and types["session_id"] == "VARCHAR"
    assert types["drop_date"] == "DATE" and types["event_properties"] == "VARCHAR"
    late, on_time = table(
        wh,
        "SELECT count(*) FILTER (WHERE (event_time AT TIME ZONE 'Asia/Seoul')::DATE < drop_date), "
        "count(*) FILTER (WHERE (event_time AT TIME ZONE 'Asia/Seoul')::DATE = drop_date) FROM raw_events.events",
    )[0]
    assert late > 0 and on_time > 50 * late
    props = table(wh, "SELECT event_properties FROM raw_events.events WHERE event_type = 'purchase' LIMIT 1")[
        0
    ][0]
    assert json.loads(props)["order_id"]
    assert table(wh, "SELECT DISTINCT drop_file FROM raw_events.events") == [
        ("dt=2026-11-21/events-000.jsonl.gz",)
    ]


def test_malformed_lines_are_quarantined_with_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "drops" / "dt=2026-11-20"
    folder.mkdir(parents=True)
    good = {"$insert_id": "g1", "event_type": "page_view", "event_time": "2026-11-20 01:02:03.000004",
            "user_id": None, "device_id": "d1", "session_id": 1795000000000, "platform": "Web", "city": "Seoul",
            "event_properties": {"page_path": "/"}, "os_name": "ios"}  # fmt: skip
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "$insert_id": None}),
        json.dumps({k: v for k, v in good.items() if k != "event_time"} | {"$insert_id": "g3"}),
        json.dumps({**good, "$insert_id": "g4", "event_time": "yesterday"}),
        json.dumps([1, 2]),
        json.dumps({**good, "$insert_id": "g5", "session_id": "abc"}),
        "",
    ]
    with gzip.open(folder / "events-000.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    (folder / "events-001.jsonl").write_bytes(b'{"$insert_id": "g6", "bad": "\xff"}\n')
    wh = tmp_path / "w.duckdb"
    out = load_event_drops(str(tmp_path / "drops"), date(2026, 11, 20), destination=wh, pipelines_dir=tmp_path / "dlt",
                           lookback_days=0)  # fmt: skip
    assert out["loaded_total"] == 2 and out["quarantined_total"] == 6  # g5's string session id is fine
    reasons = dict(table(wh, "SELECT record_key, reason FROM raw_quarantine.records"))
    assert reasons["dt=2026-11-20/events-000.jsonl.gz:2"] == "line is not a JSON object"
    assert reasons["dt=2026-11-20/events-000.jsonl.gz:6"] == "line is not a JSON object"
    assert reasons["dt=2026-11-20/events-001.jsonl:1"] == "line is not valid UTF-8"
    assert "insert_id: required value missing" in reasons["<null>"]
    assert "event_time: required value missing" in reasons["g3"]
    assert "event_time: cannot convert yesterday" in reasons["g4"]
    assert "g5" not in reasons
    payload = table(wh, "SELECT payload FROM raw_quarantine.records WHERE record_key = 'g4'")[0][0]
    assert json.loads(payload)["event_time"] == "yesterday"  # the raw line, untouched
    (event_time,) = table(wh, "SELECT event_time FROM raw_events.events WHERE insert_id = 'g1'")[0]
    assert event_time.utcoffset() is not None and event_time.isoformat().startswith("2026-11-20T")


def test_any_fsspec_url_and_missing_folders(drops: Path, tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    src = drops / "dt=2026-11-22" / "events-000.jsonl.gz"
    fs.pipe("/evdrops/dt=2026-11-22/events-000.jsonl.gz", src.read_bytes())
    out = load_event_drops("memory://evdrops", date(2026, 11, 22), destination=tmp_path / "w.duckdb",
                           pipelines_dir=tmp_path / "dlt", lookback_days=3)  # fmt: skip
    assert out["files"] == ["dt=2026-11-22/events-000.jsonl.gz"]
    assert out["loaded_total"] == len(file_ids(drops, ["2026-11-22"]))
    empty = load_event_drops(str(tmp_path / "nothing"), date(2026, 11, 22), destination=tmp_path / "w2.duckdb",
                             pipelines_dir=tmp_path / "dlt2")  # fmt: skip
    assert empty["loaded_total"] == 0 and empty["files"] == []
    with pytest.raises(ValueError, match="lookback_days"):
        load_event_drops(str(drops), date(2026, 11, 22), lookback_days=-1, destination=tmp_path / "w3.duckdb")
