"""Imports a clickstream history from files into ``raw_events.events``, through the events contract and quarantine.

Formats: CSV/TSV (encoding and delimiter detected as for storefront exports), JSON lines, Parquet; each optionally
gzipped (``events.csv.gz``). Columns are matched to the contract by a user mapping first (``{"their column":
"contract column or property"}``), then by common export names (``DEFAULT_NAMES``: Segment/GA/Amplitude/Mixpanel
spellings such as ``anonymous_id``, ``event_name``, ``timestamp``). Page and product columns (``page_url``,
``referrer``, ``utm_*``, ``product_id`` …) become event properties, as the drops carry them; other columns are
listed as ignored. A file without an event id gets a deterministic one (a hash of the actor, event, time, session
and properties), so importing the same file twice changes nothing and a repeated line is quarantined as a
duplicate. Naive timestamps are read in ``timezone`` (UTC unless told); epoch seconds/milliseconds are accepted.

Every rejected line is quarantined with ``<file> line <n>: <reason>``: an unparsable line, a missing event name or
time, no actor (device/anonymous id or user id), a duplicate. A truncated gzip keeps its complete lines and is
listed under ``truncated_files``. Sessions and channels are derived in dbt (int_events_sessionized).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from include.core.contracts import EVENTS
from include.core.timezone import TIMEZONE
from include.extract.common import duckdb_session, load_arrow, make_pipeline
from include.extract.events import NO_ACTOR, gunzip
from include.extract.file_import import FILE_COL, LINE_COL, normalise_timestamps, read_csv

SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet")
# contract columns the file can fill directly
_DIRECT = ("insert_id", "event_type", "event_time", "user_id", "device_id", "session_id", "platform", "city")
# properties read by staging (JSON keys of event_properties)
PROPERTIES = ("page_url", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
              "product_no", "category_name", "search_term", "order_id", "revenue")  # fmt: skip
# page context: kept even when empty, so a direct visit (empty referrer) is told apart from an app event
_PAGE = ("page_url", "referrer", "utm_source", "utm_medium")

DEFAULT_NAMES: dict[str, str] = {
    **{n: "insert_id" for n in ("insert_id", "$insert_id", "event_id", "message_id", "messageid", "uuid")},
    **{n: "event_type" for n in ("event_type", "event_name", "event", "eventname", "action", "type")},
    **{
        n: "event_time"
        for n in (
            "event_time",
            "timestamp",
            "time",
            "event_timestamp",
            "occurred_at",
            "received_at",
            "sent_at",
            "client_event_time",
            "datetime",
            "ts",
        )
    },  # fmt: skip
    **{n: "user_id" for n in ("user_id", "userid", "member_id", "customer_id", "distinct_user_id")},
    **{
        n: "device_id"
        for n in (
            "device_id",
            "anonymous_id",
            "anonymousid",
            "client_id",
            "cookie_id",
            "visitor_id",
            "distinct_id",
            "amplitude_id",
        )
    },  # fmt: skip
    **{n: "session_id" for n in ("session_id", "sessionid", "ga_session_id", "visit_id")},
    **{n: "platform" for n in ("platform", "device_category", "os_name")},
    **{n: "city" for n in ("city", "geo_city")},
    **{n: "event_properties" for n in ("event_properties", "properties", "props")},
    **{
        n: "page_url" for n in ("page_url", "url", "page_location", "page", "current_url", "context_page_url")
    },
    **{n: "referrer" for n in ("referrer", "referer", "page_referrer", "context_page_referrer")},
    **{f"utm_{k}": f"utm_{k}" for k in ("source", "medium", "campaign", "content", "term")},
    **{f"context_campaign_{k}": f"utm_{k}" for k in ("source", "medium", "name", "content", "term")},
    "context_campaign_name": "utm_campaign",
    **{n: "product_no" for n in ("product_no", "product_id", "item_id", "sku_id")},
    **{n: "category_name" for n in ("category_name", "category", "item_category")},
    **{n: "search_term" for n in ("search_term", "query", "keyword")},
    "order_id": "order_id",
    **{n: "revenue" for n in ("revenue", "value", "amount", "total")},
}
_TARGETS = set(_DIRECT) | {"event_properties"} | set(PROPERTIES)


def _norm(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower().replace(" ", "_").replace(".", "_")


def _mapping(mapping: Mapping[str, str] | str | Path | None) -> dict[str, str]:
    if mapping is None:
        return {}
    if isinstance(mapping, str | Path):
        try:
            mapping = yaml.safe_load(Path(mapping).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"event column mapping {mapping}: cannot be read: {exc}") from exc
        if isinstance(mapping, Mapping) and isinstance(mapping.get("events"), Mapping):
            mapping = mapping["events"]
    if not isinstance(mapping, Mapping) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValueError('event column mapping: expected {"their column": "contract column or property"}')
    wrong = sorted(v for v in mapping.values() if v not in _TARGETS)
    if wrong:
        raise ValueError(f"event column mapping: {wrong} are not event columns or properties; use some of "
                         f"{sorted(_TARGETS)}")  # fmt: skip
    return {_norm(k): v for k, v in mapping.items()}


def _paths(paths: Iterable[Path | str] | Path | str) -> list[Path]:
    if isinstance(paths, Path | str):
        p = Path(paths)
        if p.is_dir():
            return sorted(f for f in p.iterdir() if f.name.lower().removesuffix(".gz").endswith(SUFFIXES))
        return [p]
    return [Path(p) for p in paths]


def _bad(path: Path, line: int, reason: str, text: str) -> dict[str, str]:
    return {"record_key": f"{path.name}:{line}", "reason": f"{path.name} line {line}: {reason}",
            "payload": json.dumps({"file": path.name, "line": line, "text": text[:2000]}, ensure_ascii=False)}  # fmt: skip


def _read_jsonl(path: Path, raw: bytes) -> tuple[pa.Table, list[dict[str, str]]]:
    rows, lines, bad = [], [], []
    for no, chunk in enumerate(raw.split(b"\n"), start=1):
        if not chunk.strip():
            continue
        try:
            obj = json.loads(chunk.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            bad.append(_bad(path, no, f"not a JSON object ({exc})", chunk.decode("utf-8", "replace")))
            continue
        if not isinstance(obj, dict):
            bad.append(_bad(path, no, "not a JSON object", chunk.decode("utf-8", "replace")))
            continue
        rows.append({k: v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                     for k, v in obj.items()})  # fmt: skip
        lines.append(no)
    names = list(dict.fromkeys(k for r in rows for k in r))
    data = {n: pa.array([r.get(n) for r in rows], pa.string()) for n in names}
    data[LINE_COL] = pa.array(lines, pa.int64())
    return pa.table(data), bad


def _read(path: Path) -> tuple[pa.Table, list[dict[str, str]], str | None]:
    """A file as text columns + :data:`LINE_COL`, its bad lines, and the gzip damage (if cut short)."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    base = name.removesuffix(".gz")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if base.endswith(".parquet"):
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{path.name}: cannot be read as Parquet: {exc}") from exc
        cols = {}
        for field, col in zip(table.schema, table.columns, strict=True):
            if pa.types.is_timestamp(field.type):
                col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S%z" if field.type.tz else "%Y-%m-%d %H:%M:%S")
            try:
                cols[field.name] = pc.cast(col, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                cols[field.name] = pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                                             for v in col.to_pylist()], pa.string())  # fmt: skip
        cols[LINE_COL] = pa.array(range(1, table.num_rows + 1), pa.int64())
        return pa.table(cols), [], None
    if not base.endswith(SUFFIXES):
        raise ValueError(f"{path.name}: not an event file ({', '.join(SUFFIXES)}, optionally .gz)")
    raw = path.read_bytes()
    damage = None
    if gz:
        raw, damage = gunzip(raw, path.name)
        if damage:
            raw = raw[: raw.rfind(b"\n") + 1]  # the cut last line is lost
    if base.endswith((".jsonl", ".ndjson", ".json")):
        data, bad = _read_jsonl(path, raw)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / path.name.removesuffix(".gz").removesuffix(".GZ")
            plain.write_bytes(raw)
            data, rejected = read_csv(plain)
        bad = [_bad(path, r["line"], f"csv: expected {r['expected']} columns, got {r['actual']}", r["text"])
               for r in rejected]  # fmt: skip
    if damage:
        bad.append(_bad(path, int(raw.count(b"\n")) + 1, damage, ""))
    return data, bad, damage


def _to_contract(path: Path, data: pa.Table, user: dict[str, str]) -> tuple[pa.Table, list[str]]:
    """Renames/merges a file's columns into the events contract; returns the table and the ignored columns."""
    names = [c for c in data.column_names if c != LINE_COL]
    targets: dict[str, str] = {}
    ignored = []
    for name in names:
        target = user.get(_norm(name)) or DEFAULT_NAMES.get(_norm(name))
        if target is None or target in targets.values():
            ignored.append(name)
            continue
        targets[name] = target
    found = set(targets.values())
    missing = [c for c in ("event_type", "event_time") if c not in found]
    if missing or not ({"device_id", "user_id"} & found):
        need = missing + ([] if {"device_id", "user_id"} & found else ["device_id or user_id"])
        raise ValueError(f"{path.name}: no column for {need}; columns found: {names}. Pass mapping="
                         "{'<their column>': '<event column>'} to name them")  # fmt: skip
    n = data.num_rows
    col = {t: data.column(s) for s, t in targets.items()}
    # properties: the file's JSON properties merged with the property columns (columns win)
    base = col.get("event_properties", pa.nulls(n, pa.string())).to_pylist()
    props_cols = {t: col[t].to_pylist() for t in PROPERTIES if t in col}
    merged = []
    for i in range(n):
        try:
            p = json.loads(base[i]) if base[i] else {}
        except ValueError:
            p = {"_raw_properties": base[i]}
        p = p if isinstance(p, dict) else {"_raw_properties": p}
        for key, values in props_cols.items():
            v = values[i]
            if v is not None and str(v).strip() != "":
                p[key] = v
            elif key in _PAGE:
                p.setdefault(key, "")
        merged.append(json.dumps(p, ensure_ascii=False, sort_keys=True))
    times = col["event_time"]
    digits = pc.utf8_trim_whitespace(times)
    is_ms = pc.match_substring_regex(digits, r"^\d{13}$")
    is_s = pc.match_substring_regex(digits, r"^\d{10}(\.\d+)?$")
    none = pa.scalar(None, pa.string())
    ms = pc.cast(pc.if_else(is_ms, digits, none), pa.int64())
    secs = pc.multiply(pc.cast(pc.if_else(is_s, digits, none), pa.float64()), 1000.0)
    epoch = pc.coalesce(ms, pc.cast(pc.round(secs), pa.int64()))
    as_text = pc.strftime(pc.cast(epoch, pa.timestamp("ms", tz="UTC")), format="%Y-%m-%dT%H:%M:%S+00:00")
    event_time = pc.if_else(pc.or_(is_ms, is_s), as_text, normalise_timestamps(times))
    out = {c: col[c] if c in col else pa.nulls(n, pa.string()) for c in _DIRECT}
    out["event_time"] = event_time
    out["event_properties"] = pa.array(merged, pa.string())
    out["drop_file"] = pa.array([path.name] * n, pa.string())
    out[FILE_COL] = pa.array([path.name] * n, pa.string())
    out[LINE_COL] = data.column(LINE_COL)
    return pa.table(out), ignored


def _finish(data: pa.Table, timezone: str) -> tuple[pa.Table, pa.Table]:
    """Event ids for rows without one (a hash of their content), the KST drop_date, and the actorless rows split
    off as quarantine rows."""
    con = duckdb_session()
    try:
        con.execute(f"SET TimeZone = '{timezone}'")
        con.register("ev", data)
        no_actor = "nullif(trim(device_id), '') IS NULL AND nullif(trim(user_id), '') IS NULL"
        content = "concat_ws('|', device_id, user_id, event_type, event_time, session_id, event_properties)"
        con.execute(
            f"""CREATE TEMP TABLE t AS SELECT * REPLACE (
                    coalesce(nullif(trim(insert_id), ''), 'f-' || md5({content})) AS insert_id),
                  CAST(TRY_CAST(event_time AS TIMESTAMPTZ) AT TIME ZONE '{TIMEZONE}' AS DATE) AS drop_date
                FROM ev"""
        )
        good = con.sql(
            f"SELECT * FROM t WHERE NOT ({no_actor}) ORDER BY {FILE_COL}, {LINE_COL}"
        ).to_arrow_table()
        bad = con.sql(
            f"""SELECT {FILE_COL} || ':' || {LINE_COL} AS record_key,
                       {FILE_COL} || ' line ' || {LINE_COL} || ': {NO_ACTOR}' AS reason,
                       to_json(struct_pack(insert_id, event_type, event_time, session_id, event_properties))::VARCHAR
                         AS payload
                FROM t WHERE {no_actor} ORDER BY {FILE_COL}, {LINE_COL}"""
        ).to_arrow_table()
    finally:
        con.close()
    return good, bad


def import_event_files(
    paths: Iterable[Path | str] | Path | str,
    *,
    mapping: Mapping[str, str] | str | Path | None = None,
    destination: Any = None,
    pipelines_dir: Path | str | None = None,
    timezone: str = "UTC",
    pipeline_name: str = "event_file_import",
) -> dict:
    """Loads event files (or every event file of a folder) into ``raw_events.events`` in one load.

    Every file is read and mapped before anything is written: a file that cannot be read, or has no event name,
    time or actor column, raises ``ValueError`` naming it and nothing is loaded.

    Args:
        paths: files or one folder (``.csv``/``.tsv``/``.jsonl``/``.ndjson``/``.json``/``.parquet``, ``.gz`` too).
        mapping: ``{"their column": "contract column or property"}`` (or a YAML file of it, optionally under an
            ``events:`` key); targets are the contract columns (``insert_id``, ``event_type``, ``event_time``,
            ``user_id``, ``device_id``, ``session_id``, ``platform``, ``city``, ``event_properties``) or a property
            (``page_url``, ``referrer``, ``utm_*``, ``product_no``, ``order_id``, ``revenue`` …).
        destination, pipelines_dir: see :func:`include.extract.common.make_pipeline`.
        timezone: zone of timestamps written without an offset.
        pipeline_name: dlt pipeline name.

    Returns:
        Like the drops loader: ``loaded``/``quarantined`` per table, ``loaded_total``, ``quarantined_total``,
        ``load_id``, ``reasons`` (quarantine kinds), plus ``files``, ``truncated_files`` and
        ``ignored_columns`` (per file, the columns not loaded).
    """
    user = _mapping(mapping)
    files = _paths(paths)
    if not files:
        raise ValueError(f"no event files in {paths}")
    batches, bad_rows, truncated, ignored = [], [], [], {}
    for path in files:
        data, bad, damage = _read(path)
        table, skipped = _to_contract(path, data, user)
        good, actorless = _finish(table, timezone)
        batches.append(good)
        bad_rows.extend(bad)
        if actorless.num_rows:
            bad_rows.extend(actorless.to_pylist())
        if damage:
            truncated.append(path.name)
        if skipped:
            ignored[path.name] = skipped
    data = pa.concat_tables(batches, promote_options="permissive")
    pre = pa.Table.from_pylist(bad_rows, schema=pa.schema([("record_key", pa.string()), ("reason", pa.string()),
                                                           ("payload", pa.string())]))  # fmt: skip
    pipeline = make_pipeline(pipeline_name, destination, EVENTS.schema, pipelines_dir=pipelines_dir)
    result = load_arrow(
        pipeline, [(EVENTS, data)], source="event_file", naive_tz=timezone,
        pre_quarantined=[(EVENTS, pre)] if pre.num_rows else None, location=(FILE_COL, LINE_COL), dedupe=True,
    )  # fmt: skip
    out = result.as_dict()
    out.update(files=[p.name for p in files], truncated_files=truncated, ignored_columns=ignored)
    return out
