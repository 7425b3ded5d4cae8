"""Loads daily event drops (Amplitude export shape, gzipped JSON lines) into ``raw_events.events`` with dlt.

A drop folder ``<drops_url>/dt=YYYY-MM-DD/`` holds the events that arrived on that KST day (``*.jsonl.gz``,
``*.json.gz``, ``*.jsonl``); ~1 % of a day's events arrive in the next day's folder, so the run for data date ``D``
reads ``dt=D`` and the ``lookback_days`` folders before it. Rows merge on ``insert_id`` (Amplitude ``$insert_id``), so
re-reading a folder changes nothing. Lines that are not JSON objects, or lack ``$insert_id``/``event_time``/…, or
carry values of the wrong type are quarantined in ``raw_quarantine.records`` with the reason and the raw line.
Works on a local folder or any fsspec URL (``s3://…``, ``gs://…``, ``memory://…``). ``event_time`` is UTC and stays
a tz-aware timestamp; staging converts to KST.

``session_id`` is any string (Amplitude's epoch-ms number lands as its digits); an event without one is sessionized
in staging by inactivity. An event needs an actor: a ``device_id`` (an anonymous id) or a ``user_id``; one with
neither is quarantined. A truncated gzip drop keeps the complete lines before the cut; the cut line is quarantined
with the file name (reason ``truncated gzip``) and the file is listed under ``truncated_files`` in the result.
"""

from __future__ import annotations

import json
import logging
import zlib
from datetime import date, timedelta
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.core.contracts import EVENTS
from include.extract.common import duckdb_session, load_arrow, make_pipeline

log = logging.getLogger(__name__)

SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".ndjson", ".ndjson.gz")

_FIELDS = {
    "$insert_id": "VARCHAR", "insert_id": "VARCHAR", "event_type": "VARCHAR", "event_time": "VARCHAR",
    "user_id": "VARCHAR", "device_id": "VARCHAR", "session_id": "VARCHAR", "platform": "VARCHAR", "city": "VARCHAR",
    "event_properties": "JSON",
}  # fmt: skip
# one parse per line: from_json into a struct (json_extract per field would re-parse the line for every field)
_EXTRACT_SQL = f"""
SELECT coalesce(j."$insert_id", j.insert_id) AS insert_id, j.event_type, j.event_time, j.user_id, j.device_id,
       j.session_id, j.platform, j.city, CAST(j.event_properties AS VARCHAR) AS event_properties,
       drop_date, drop_file, line_no, line
FROM (SELECT *, from_json(line, '{json.dumps(_FIELDS)}') AS j FROM lines WHERE ok)
"""


def _drop_files(fs: Any, root: str, day: date) -> list[str]:
    folder = f"{root.rstrip('/')}/dt={day.isoformat()}"
    if not fs.exists(folder):
        return []
    return sorted(p for p in fs.ls(folder, detail=False) if p.endswith(SUFFIXES))


_CHUNK = 1 << 20


def gunzip(raw: bytes, name: str) -> tuple[bytes, str | None]:
    """Decompresses every member of a gzip file; for a truncated or corrupt one, the bytes readable before the
    damage and the reason naming ``name`` (else ``None``)."""
    out: list[bytes] = []
    data = raw
    while data:
        d = zlib.decompressobj(wbits=31)
        for at in range(0, len(data), _CHUNK):
            try:
                out.append(d.decompress(data[at : at + _CHUNK]))
            except zlib.error as exc:
                return b"".join(
                    out
                ), f"{name}: corrupt gzip data ({exc}); the complete lines before it are kept"
            if d.eof:
                break
        if not d.eof:
            out.append(d.flush())
            return (
                b"".join(out),
                f"{name}: truncated gzip (the file ends before its end marker); the complete lines before the cut are kept",
            )
        data = (d.unused_data + data[at + _CHUNK :]).lstrip(b"\x00")  # next member; NUL padding is none
    return b"".join(out), None


def _read_lines(
    fs: Any, path: str, name: str | None = None
) -> tuple[pa.Array, list[tuple[int, str]], str | None]:
    """A file's lines as an Arrow string array (split in Arrow, no Python string per line), the lines that are
    not valid UTF-8 (1-based number, text with replacement characters), which come back empty in the array, and
    for a truncated/corrupt gzip the reason: then the complete lines before the damage are returned and the cut
    last line is reported as a bad line (with that reason)."""
    raw = fs.cat_file(path)
    damage = None
    if path.endswith(".gz"):
        raw, damage = gunzip(raw, name or path)
        if damage is not None:
            cut = raw.rfind(b"\n") + 1  # the text after the last newline is a cut line
            tail = raw[cut:]
            raw = raw[:cut]
            lines, bad, _ = _read_lines_bytes(raw)
            number = len(lines) + 1
            bad.append((number, tail.decode("utf-8", errors="replace")[:2000]))
            lines = pa.concat_arrays([lines, pa.array([""], pa.string())])
            return lines, bad, damage
    return _read_lines_bytes(raw)


def _read_lines_bytes(raw: bytes) -> tuple[pa.Array, list[tuple[int, str]], None]:
    if raw.endswith(b"\n"):
        raw = raw[:-1]  # the newline that ends the file
    if not raw:
        return pa.array([], pa.string()), [], None
    parts = pc.split_pattern(pa.array([raw], pa.large_binary()), pattern=b"\n").flatten()
    try:
        return pc.cast(pc.cast(parts, pa.large_string()), pa.string()), [], None
    except pa.ArrowInvalid:  # some line is not UTF-8: find which, keep the rest
        texts, bad = [], []
        for no, chunk in enumerate(parts.to_pylist(), start=1):
            try:
                texts.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append("")
                bad.append((no, chunk.decode("utf-8", errors="replace")))
        return pa.array(texts, pa.string()), bad, None


def read_drops(drops_url: str, days: list[date]) -> tuple[pa.Table, pa.Table, list[str]]:
    """Parses the drop folders of ``days``: (event rows with contract names as text + raw line, bad lines, files)."""
    fs, root = fsspec.core.url_to_fs(drops_url)
    parts: list[pa.Table] = []
    bad_keys: list[str] = []
    bad_reasons: list[str] = []
    bad_payloads: list[str] = []
    files: list[str] = []
    for day in days:
        for path in _drop_files(fs, root, day):
            rel = path[len(root.rstrip("/")) + 1 :] if path.startswith(root.rstrip("/")) else path
            files.append(rel)
            lines, undecodable, damage = _read_lines(fs, path, rel)
            if damage:
                log.warning("event drop %s", damage)
            for i, (no, text) in enumerate(undecodable):
                bad_keys.append(f"{rel}:{no}")
                cut = damage is not None and i == len(undecodable) - 1  # the cut line comes last
                bad_reasons.append(f"{damage} (line {no} is cut)" if cut else "line is not valid UTF-8")
                bad_payloads.append(json.dumps({"file": rel, "line": no, "text": text}, ensure_ascii=False))
            n = len(lines)
            skip = np.zeros(n, bool)
            skip[[no - 1 for no, _ in undecodable]] = True
            parts.append(
                pa.table(
                    {
                        "line": lines,
                        "line_no": pa.array(np.arange(1, n + 1), pa.int64()),
                        "drop_date": pa.repeat(pa.scalar(day, pa.date32()), n),
                        "drop_file": pa.repeat(pa.scalar(rel, pa.string()), n),
                        "skip": pa.array(skip),
                    }
                )
            )
    if not parts:
        empty = pa.table({c: pa.array([], pa.string()) for c in (*EVENTS.columns, "line")})
        return empty, _bad_table([], [], []), files
    lines_tbl = pa.concat_tables(parts)
    con = duckdb_session()
    try:
        con.register("raw", lines_tbl)
        con.execute(
            "CREATE TEMP TABLE lines AS SELECT *, json_valid(line) AND starts_with(ltrim(line), '{') AS ok "
            "FROM raw WHERE NOT skip AND trim(line) <> ''"
        )
        invalid = con.sql(
            "SELECT drop_file || ':' || line_no AS k, drop_file, line_no, line FROM lines WHERE NOT ok"
        ).fetchall()
        for key, rel, no, text in invalid:
            bad_keys.append(key)
            bad_reasons.append("line is not a JSON object")
            bad_payloads.append(
                json.dumps({"file": rel, "line": no, "text": text[:2000]}, ensure_ascii=False)
            )
        events = con.sql(_EXTRACT_SQL).to_arrow_table()
    finally:
        con.close()
    return events, _bad_table(bad_keys, bad_reasons, bad_payloads), files


def _bad_table(keys: list[str], reasons: list[str], payloads: list[str]) -> pa.Table:
    return pa.table(
        {
            "record_key": pa.array(keys, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "payload": pa.array(payloads, pa.string()),
        }
    )


# The columns that identify who acted: an event needs at least one (a device or anonymous id, else a user id).
ACTOR_COLUMNS = ("device_id", "user_id")
NO_ACTOR = "device_id/user_id: neither present (an event needs a device, anonymous or user id)"


def split_actorless(events: pa.Table, *, key: str, where: str, payload: str) -> tuple[pa.Table, pa.Table]:
    """(events with an actor, quarantine rows of those without): ``key``, ``where`` (a location prefix) and
    ``payload`` are SQL expressions over ``events``' columns."""
    no_actor = " AND ".join(f"nullif(trim(CAST({c} AS VARCHAR)), '') IS NULL" for c in ACTOR_COLUMNS)
    con = duckdb_session()
    try:
        con.register("ev", events)
        good = con.sql(f"SELECT * FROM ev WHERE NOT ({no_actor})").to_arrow_table()
        bad = con.sql(
            f"SELECT CAST({key} AS VARCHAR) AS record_key, {where} || '{NO_ACTOR}' AS reason, "
            f"CAST({payload} AS VARCHAR) AS payload FROM ev WHERE {no_actor}"
        ).to_arrow_table()
    finally:
        con.close()
    return good, bad


def _dedupe(events: pa.Table) -> tuple[pa.Table, int]:
    """One row per insert_id (the earliest drop/file/line wins), so one load never carries twins."""
    con = duckdb_session()
    try:
        con.register("ev", events)
        out = con.sql(
            "SELECT * EXCLUDE (line_no) FROM ev QUALIFY insert_id IS NULL OR row_number() OVER "
            "(PARTITION BY insert_id ORDER BY drop_date, drop_file, line_no) = 1 ORDER BY drop_date, drop_file, line_no"
        ).to_arrow_table()
    finally:
        con.close()
    return out, events.num_rows - out.num_rows


def load_event_drops(
    drops_url: str,
    data_date: date,
    *,
    destination: Any = None,
    lookback_days: int = 1,
    pipelines_dir: Any = None,
    pipeline_name: str = "event_drops",
) -> dict:
    """Loads the drops of ``data_date`` and the ``lookback_days`` before it into ``raw_events.events``.

    Args:
        drops_url: folder or fsspec URL holding ``dt=YYYY-MM-DD/`` folders.
        data_date: the KST data date of the run.
        destination: see :func:`include.extract.common.resolve_destination` (default: the DuckDB warehouse).
        lookback_days: earlier drop folders re-read for late events (merge makes that harmless).
        pipelines_dir: dlt working folder (default ``settings.dlt``).
        pipeline_name: dlt pipeline name.

    Returns:
        Counts: ``loaded``/``quarantined`` per table and totals, ``duplicates`` (same insert_id twice in the read),
        ``files`` read, ``truncated_files`` (gzip files cut short: their complete lines loaded, the rest
        quarantined), ``drop_dates`` and ``load_id``.
    """
    if lookback_days < 0:
        raise ValueError("lookback_days must be >= 0")
    days = [data_date - timedelta(days=k) for k in range(lookback_days, -1, -1)]
    events, bad, files = read_drops(drops_url, days)
    if events.num_rows:
        events, actorless = split_actorless(
            events, key="coalesce(insert_id, '<null>')", where="drop_file || ' line ' || line_no || ': '",
            payload="line",
        )  # fmt: skip
        bad = pa.concat_tables([bad, actorless])
    events, duplicates = _dedupe(events) if events.num_rows else (events, 0)
    pipeline = make_pipeline(pipeline_name, destination, EVENTS.schema, pipelines_dir=pipelines_dir)
    result = load_arrow(
        pipeline,
        [(EVENTS, events)],
        source="event_drops",
        naive_tz="UTC",
        pre_quarantined=[(EVENTS, bad)] if bad.num_rows else None,
        payload_column="line",
    )
    out = result.as_dict()
    truncated = sorted({r.split(": ", 1)[0] for r in bad.column("reason").to_pylist() if "gzip" in r})
    out.update(duplicates=duplicates, files=files, drop_dates=[d.isoformat() for d in days],
               truncated_files=truncated)  # fmt: skip
    log.info("event drops %s: %d files, %d loaded, %d quarantined", data_date, len(files),
             out["loaded_total"], out["quarantined_total"])  # fmt: skip
    return out
