"""Event drops: string session ids, events without a session or a device, truncated gzip files."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from include.extract.events import load_event_drops


def rows(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql(sql).fetchall()


def event(i: int, **kw: object) -> dict:
    return {"$insert_id": f"e{i}", "event_type": "page_view", "event_time": f"2026-11-20T01:{i:02d}:00Z",
            "device_id": "d1", **kw}  # fmt: skip


def write_drop(root: Path, name: str, lines: list[dict], *, gz: bool = True) -> Path:
    folder = root / "dt=2026-11-20"
    folder.mkdir(parents=True, exist_ok=True)
    raw = ("\n".join(json.dumps(x) for x in lines) + "\n").encode()
    path = folder / name
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def load(root: Path, tmp_path: Path) -> dict:
    return load_event_drops(str(root), date(2026, 11, 20), destination=tmp_path / "w.duckdb",
                            pipelines_dir=tmp_path / "dlt", lookback_days=0)  # fmt: skip


def test_string_and_missing_session_ids_and_user_only_events_load(tmp_path: Path) -> None:
    lines = [
        event(1, session_id="sess-abc"),  # a string id (Segment/GA style)
        event(2, session_id=1795000000000),  # Amplitude's epoch ms: kept as its digits
        event(3),  # no session id: sessionized in staging
        event(4, device_id=None, user_id="m1", session_id="s2"),  # no device, a user id
        event(5, device_id=None, user_id=None),  # no actor at all
    ]
    write_drop(tmp_path / "drops", "events-000.jsonl.gz", lines)
    out = load(tmp_path / "drops", tmp_path)
    assert (out["loaded_total"], out["quarantined_total"]) == (4, 1)
    got = rows(tmp_path / "w.duckdb", "SELECT insert_id, device_id, user_id, session_id FROM raw_events.events "
                                      "ORDER BY insert_id")  # fmt: skip
    assert got == [("e1", "d1", None, "sess-abc"), ("e2", "d1", None, "1795000000000"), ("e3", "d1", None, None),
                   ("e4", None, "m1", "s2")]  # fmt: skip
    ((key, reason),) = rows(tmp_path / "w.duckdb", "SELECT record_key, reason FROM raw_quarantine.records")
    assert key == "e5" and reason.startswith("dt=2026-11-20/events-000.jsonl.gz line 5: device_id/user_id")


def test_a_truncated_gzip_names_the_file_keeps_complete_lines_and_loads_the_other_files(
    tmp_path: Path,
) -> None:
    drops = tmp_path / "drops"
    cut = write_drop(drops, "events-000.jsonl.gz", [event(i, session_id="s") for i in range(1, 41)])
    raw = cut.read_bytes()
    cut.write_bytes(raw[: len(raw) * 2 // 3])  # an upload cut short
    write_drop(drops, "events-001.jsonl.gz", [event(50, session_id="s")])
    with pytest.raises(EOFError):  # what the loader used to die of, without naming the file
        gzip.decompress(cut.read_bytes())
    out = load(drops, tmp_path)
    assert out["truncated_files"] == ["dt=2026-11-20/events-000.jsonl.gz"]
    loaded = {r[0] for r in rows(tmp_path / "w.duckdb", "SELECT insert_id FROM raw_events.events")}
    assert "e50" in loaded and len(loaded) >= 2
    # what loaded from the cut file is exactly its complete lines, in order from the first
    assert loaded - {"e50"} == {f"e{i}" for i in range(1, len(loaded))}
    reasons = rows(tmp_path / "w.duckdb", "SELECT record_key, reason FROM raw_quarantine.records")
    assert len(reasons) == 1 and out["quarantined_total"] == 1
    key, reason = reasons[0]
    assert key == f"dt=2026-11-20/events-000.jsonl.gz:{len(loaded)}"
    assert reason.startswith("dt=2026-11-20/events-000.jsonl.gz: truncated gzip")
