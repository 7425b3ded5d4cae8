"""A shop's history from its export files, in one call: what ``crm import`` and ``crm build`` run.

    plan = plan_import(["exports/"])                 # which file goes to which table (checked, nothing written)
    summary = run_import(plan, on_file=print)        # raw schema, storefront files, event history, cut-off mark
    build_marts(date(2026, 11, 22))                  # dbt build of every model for that data date

The storefront files go through :func:`include.extract.file_import.import_files` (one load, merge on the key, bad
rows quarantined with file and line); the event history through ``include.extract.event_files.import_event_files``
(a folder of daily ``dt=YYYY-MM-DD/`` drops through ``load_event_drops``). Afterwards the storefront API's resources
are marked as loaded up to the cut-off (:func:`include.extract.storefront.mark_history_loaded`), so the nightly
increments read only what changed after it. Running the same import twice changes no row.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from include.core.pii import mask_text
from include.core.settings import get_settings

STOREFRONT_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".jsonl", ".ndjson")
EVENT_PREFIXES = ("events", "event", "clickstream")
SOURCES = ("cafe24", "shopify", "files")
# timestamp columns that tell how far an export reaches (the cut-off); future-dated ones (end_date) are left out
CUTOFF_COLUMNS = ("updated_date", "created_date", "order_date", "payment_date")
QUARANTINE_TABLE = "raw_quarantine.records"
FILE_SOURCE = "cafe24_file"  # what include.extract.file_import records as the quarantine's source


class UsageError(ValueError):
    """The command was called wrongly (a path, a table, a mapping): exit status 2, nothing written."""


@dataclass
class ImportPlan:
    """What an import will read: storefront files with their table, event files, the user's mapping."""

    storefront: list[tuple[Path, str]] = field(default_factory=list)
    events: list[Path] = field(default_factory=list)
    mapping: dict[str, dict[str, str]] = field(default_factory=dict)
    mapping_path: Path | None = None
    event_mapping: dict[str, str] | None = None
    table: str | None = None


def _is_event_file(path: Path) -> bool:
    stem = path.name.split(".")[0].lower()
    return any(stem == p or stem.startswith((p + "_", p + "-")) for p in EVENT_PREFIXES)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in STOREFRONT_SUFFIXES)
    return [path]


def plan_import(
    paths: Iterable[str | Path],
    *,
    table: str | None = None,
    events: Iterable[str | Path] = (),
    mapping: str | Path | None = None,
) -> ImportPlan:
    """Which table each file holds (from its name, or ``table``), checked before anything is written.

    A folder contributes its ``.csv``/``.tsv``/``.parquet``/``.jsonl`` files; files named ``events*`` (or
    ``clickstream*``) go to the event history, like the paths of ``events``. Raises :class:`UsageError` for a
    missing path, a file whose table cannot be told, an unknown table or an unreadable mapping.
    """
    from include.extract.file_import import TABLES, load_mapping, table_for

    if table is not None and table not in TABLES:
        raise UsageError(f"--table {table!r}: not a storefront table; one of {sorted(TABLES)}")
    plan = ImportPlan(table=table)
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        files = _files(path)
        if path.is_dir() and not files:
            raise UsageError(f"{path}: no .csv, .tsv, .parquet or .jsonl file in this folder")
        for f in files:
            if table is None and _is_event_file(f):
                plan.events.append(f)
                continue
            if f.suffix.lower() not in STOREFRONT_SUFFIXES:
                raise UsageError(f"{f.name}: only .csv/.tsv/.txt, .parquet and .jsonl files are imported")
            try:
                plan.storefront.append((f, table or table_for(f)))
            except ValueError as exc:
                raise UsageError(f"{exc} (--table T)") from None
    for raw in events:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"--events {path}: no such file or folder")
        plan.events.append(path)
    if mapping is not None:
        plan.mapping_path = Path(mapping)
        if not plan.mapping_path.is_file():
            raise UsageError(f"--mapping {mapping}: no such file")
        try:
            raw_mapping = yaml.safe_load(plan.mapping_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"--mapping {mapping}: cannot be read: {exc}") from None
        # the event history's mapping sits under `events:`; the storefront tables' under their table names
        plan.event_mapping = raw_mapping.pop("events", None) if isinstance(raw_mapping, dict) else None
        try:
            plan.mapping = load_mapping(raw_mapping, table)
        except ValueError as exc:
            raise UsageError(f"--mapping {mapping}: {exc}") from None
    if not plan.storefront and not plan.events:
        raise UsageError(
            "nothing to import: give export files or a folder (and --events for the event history)"
        )
    return plan


def jsonl_to_parquet(path: Path, folder: Path) -> Path:
    """A JSON-lines export as a Parquet file of text columns (same stem, row n = line n) in ``folder``; nested
    values are kept as JSON text. Raises ``ValueError`` naming the file and line of a line that is no JSON object."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                raise ValueError(f"{path.name} line {n}: empty line in a JSON-lines file; remove it")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path.name} line {n}: a JSON object per line expected")
            rows.append(obj)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))

    def text(v: Any) -> str | None:
        if v is None:
            return None
        return json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v)

    table = pa.table({n: pa.array([text(r.get(n)) for r in rows], pa.string()) for n in names})
    out = folder / (path.name.split(".")[0] + ".parquet")
    pq.write_table(table, out)
    return out


def _event_import(paths: list[Path], mapping: dict | None) -> dict[str, Any]:
    """The event history: ``dt=YYYY-MM-DD/`` drop folders through ``load_event_drops``, other files through
    ``import_event_files`` (CSV/JSONL/Parquet clickstreams, string or missing session ids)."""
    from include.core.timezone import TIMEZONE
    from include.extract import events as ev
    from include.extract.event_files import import_event_files

    drops = [p for p in paths if p.is_dir() and any(c.name.startswith("dt=") for c in p.iterdir())]
    files = [p for p in paths if p not in drops]
    results: list[dict[str, Any]] = []
    for folder in drops:
        days = sorted(date.fromisoformat(c.name[3:]) for c in folder.iterdir() if c.name.startswith("dt="))
        results.append(ev.load_event_drops(str(folder), days[-1], lookback_days=(days[-1] - days[0]).days))
    if files:
        # naive timestamps in a shop's clickstream export are read in the shop's time zone, like its order exports
        results.append(import_event_files(files, mapping=mapping or None, timezone=TIMEZONE))
    return _merge_results(results)


def _merge_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"loaded": {}, "quarantined": {}, "reasons": {}, "load_ids": []}
    for r in results:
        for key in ("loaded", "quarantined"):
            for t, n in r.get(key, {}).items():
                out[key][t] = out[key].get(t, 0) + n
        for t, kinds in (r.get("reasons") or {}).items():
            for k, n in kinds.items():
                out["reasons"].setdefault(t, {})[k] = out["reasons"].get(t, {}).get(k, 0) + n
        if r.get("load_id"):
            out["load_ids"].append(r["load_id"])
    return out


def latest_timestamp(load_id: str | None, tables: Iterable[str]) -> tuple[datetime | None, str | None]:
    """The latest of the :data:`CUTOFF_COLUMNS` among the rows of one load of ``raw_cafe24``, and where it is."""
    import duckdb

    from include.core.timezone import TIMEZONE

    if not load_id:
        return None, None
    best: tuple[datetime | None, str | None] = (None, None)
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as con:
        con.execute(f"SET TimeZone = '{TIMEZONE}'")
        for t in sorted(set(tables)):
            cols = {
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'raw_cafe24' and table_name = ?",
                    [t],
                ).fetchall()
            }
            for c in (c for c in CUTOFF_COLUMNS if c in cols):
                (value,) = con.execute(
                    f'select max("{c}") from raw_cafe24."{t}" where _dlt_load_id = ?', [load_id]
                ).fetchone()
                if value is not None and (best[0] is None or value > best[0]):
                    best = (value, f"raw_cafe24.{t}.{c}")
    return best


def history_marks(source: str) -> dict[str, str | None]:
    """How far each API resource of ``source`` counts as loaded (``covered_until`` in the dlt state)."""
    import dlt

    from include.extract import storefront

    module = storefront._module(source)
    try:
        pipeline = dlt.attach(pipeline_name=module.SOURCE, pipelines_dir=str(get_settings().dlt))
    except Exception:  # noqa: BLE001 — dlt raises several kinds for "never ran"
        return {}
    resources = pipeline.state.get("sources", {}).get(module.SOURCE, {}).get("resources", {})
    return {name: resources.get(name, {}).get("covered_until") for name in module.RESOURCES}


def quarantined_rows(load_ids: Iterable[str | None], limit: int = 10) -> tuple[int, list[dict[str, str]]]:
    """This import's rows in ``raw_quarantine.records`` (count, and the first ``limit`` with their reasons)."""
    import duckdb

    ids = [i for i in load_ids if i]
    if not ids:
        return 0, []
    marks = ", ".join("?" for _ in ids)
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw_quarantine' and table_name = 'records'"
        ).fetchone()[0]
        if not exists:
            return 0, []
        where = f"from {QUARANTINE_TABLE} where load_id in ({marks})"
        (n,) = con.execute(f"select count(*) {where}", ids).fetchone()
        rows = con.execute(
            f"select table_name, record_key, reason {where} "  # the import's own rejections (file, line) first
            f"order by position(' line ' in reason) = 0, table_name, reason limit {int(limit)}",
            ids,
        ).fetchall()
    return n, [{"table": t, "key": mask_text(k or ""), "reason": mask_text(r or "")} for t, k, r in rows]


def write_quarantine_csv(load_ids: Iterable[str | None], out: Path) -> int:
    """Every quarantined row of this import (table, key, reason with file and line; contacts masked) as a CSV
    the user can open beside the export; returns the number of rows."""
    import duckdb

    ids = [i for i in load_ids if i]
    if not ids:
        return 0
    marks = ", ".join("?" for _ in ids)
    with duckdb.connect(str(get_settings().warehouse), read_only=True) as con:
        rows = con.execute(
            f"select table_name, record_key, reason from {QUARANTINE_TABLE} where load_id in ({marks}) "
            "order by position(' line ' in reason) = 0, table_name, reason",
            ids,
        ).fetchall()
    if not rows:
        return 0
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # contacts are masked in it, but it lists customers' keys and reasons: private like the rest of the data folder
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: opens right in Excel
        w = csv.writer(fh)
        w.writerow(["table", "key", "reason"])
        w.writerows([t, mask_text(k or ""), mask_text(r or "")] for t, k, r in rows)
    return len(rows)


def run_import(
    plan: ImportPlan,
    *,
    source: str = "cafe24",
    cut_off: datetime | None = None,
    mark: bool = True,
    currency: str | None = None,
    encoding: str | None = None,
    on_file: Callable[[Path, str, int], None] | None = None,
    gate: bool = True,
) -> dict[str, Any]:
    """Creates the raw schema, imports the plan's files, runs the raw gate on what they loaded, marks the API
    history loaded up to the cut-off.

    Args:
        plan: from :func:`plan_import`.
        source: the storefront whose API continues from the cut-off (``cafe24``/``shopify``), or ``files``
            (no API: nothing is marked).
        cut_off: how far the export reaches (default the latest ``updated_date``/``created_date``/``order_date``/
            ``payment_date`` of the imported rows).
        mark: ``False`` leaves the API state alone.
        currency, encoding: passed to :func:`include.extract.file_import.import_files`.
        on_file: progress callback ``(path, table, rows)`` after each storefront file is read.
        gate: run the raw quality gate (``expectations.gate_import``) on the rows of each load: rows breaking a
            row rule (a malformed phone, a negative amount …) are moved to the quarantine.

    Returns:
        The summary: ``tables`` (landed / quarantined / reasons per table), ``storefront`` and ``events`` results,
        ``quarantine`` (count, first reasons, where to read them), ``cut_off`` and ``marks``.
        Raises ``ValueError`` (naming the file and line) when a file cannot be imported: nothing of it is loaded.
    """
    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from include.extract.file_import import import_files

    if source not in SOURCES:
        raise UsageError(f"--source {source!r}: one of {list(SOURCES)}")
    st = get_settings()
    ensure_raw_tables_duckdb(st.warehouse)
    summary: dict[str, Any] = {"warehouse": str(st.warehouse), "tables": {}}
    load_ids: list[str | None] = []
    store: dict[str, Any] | None = None
    if plan.storefront:
        with tempfile.TemporaryDirectory(prefix="crm-import-") as tmp:
            files = [
                jsonl_to_parquet(p, Path(tmp)) if p.suffix.lower() in (".jsonl", ".ndjson") else p
                for p, _ in plan.storefront
            ]
            by_file = dict(zip(files, plan.storefront, strict=True))

            def progress(path: Path, table: str, rows: int) -> None:
                if on_file:
                    on_file(by_file.get(Path(path), (Path(path), table))[0], table, rows)

            store = import_files(
                files, table=plan.table, mapping=plan.mapping or None,
                on_file=progress, currency=currency, encoding=encoding,
            )  # fmt: skip
        load_ids.append(store.get("load_id"))
        summary["storefront"] = store
    if plan.events:
        ev = _event_import(plan.events, plan.event_mapping)
        load_ids.extend(ev["load_ids"])
        summary["events"] = ev
    for part in (summary.get("storefront"), summary.get("events")):
        part = part or {}
        for t in sorted({*part.get("loaded", {}), *part.get("quarantined", {})}):
            row = summary["tables"].setdefault(t, {"landed": 0, "quarantined": 0, "reasons": {}})
            row["landed"] += part.get("loaded", {}).get(t, 0)
            row["quarantined"] += part.get("quarantined", {}).get(t, 0)
            for kind, n in (part.get("reasons") or {}).get(t, {}).items():
                row["reasons"][kind] = row["reasons"].get(kind, 0) + n
    if gate:
        summary["gate"] = run_gate(load_ids, source)
        for t, n in summary["gate"].get("moved", {}).items():
            row = summary["tables"].get(t.split(".")[-1])
            if row is not None and n:
                row["landed"] -= n
                row["quarantined"] += n
                row["reasons"]["quality_rule"] = row["reasons"].get("quality_rule", 0) + n
    landed = sum(r["landed"] for r in summary["tables"].values())
    bad = sum(r["quarantined"] for r in summary["tables"].values())
    summary["landed_total"], summary["quarantined_total"] = landed, bad
    n, first = quarantined_rows(load_ids)
    summary["quarantine"] = {
        "rows": bad,
        "records": n,
        "examples": first,
        "table": f"{QUARANTINE_TABLE} in {st.warehouse}",
        "load_ids": [i for i in load_ids if i],
    }
    if n:
        out = st.data_dir / "imports" / f"quarantine-{max(i for i in load_ids if i)}.csv"
        write_quarantine_csv(load_ids, out)
        summary["quarantine"]["csv"] = str(out)
    if source == "shopify" and store:
        summary["warnings"] = [
            "export files land in raw_cafe24 (the Cafe24 contract) while CRM_STOREFRONT=shopify builds the marts "
            "from raw_shopify: the imported history is not in those marts yet (docs/import.md, known limits)"
        ]
    summary["cut_off"] = _cut_off(store, cut_off)
    summary["marks"] = _mark(source, summary["cut_off"], mark)
    return summary


def run_gate(load_ids: Iterable[str | None], source: str) -> dict[str, Any]:
    """The raw gate on each load of this import (``expectations.gate_import``); its status, the rows it moved to
    the quarantine per table, its failures and report. Skipped when the installed gates have no import entry."""
    import expectations

    try:
        gate_import = expectations.gate_import
    except AttributeError:
        return {"status": "skipped", "reason": "this version's quality gates have no import gate"}
    from datetime import UTC

    st = get_settings()
    storefront = source if source in ("cafe24", "shopify") else "cafe24"
    out: dict[str, Any] = {"status": "PASS", "moved": {}, "failures": [], "reports": []}
    for load_id in [i for i in load_ids if i]:
        result = gate_import(
            st.warehouse, load_id, reference_time=datetime.now(UTC), storefront=storefront
        ).to_dict()
        counts = result.get("counts", {})
        for key in ("moved_to_quarantine", "cascaded_to_quarantine"):  # cascaded: items of a moved order
            for t, n in (counts.get(key) or {}).items():
                out["moved"][t] = out["moved"].get(t, 0) + int(n or 0)
        if result.get("status") == "FAIL" or result.get("passed") is False:
            out["status"] = "FAIL"
        elif result.get("status") == "WARN" and out["status"] == "PASS":
            out["status"] = "WARN"
        out["failures"] += [
            {"severity": f.get("severity"), "reason": mask_text(str(f.get("reason")))}
            for f in result.get("failures", [])
        ]
        if result.get("report_path"):
            out["reports"].append(result["report_path"])
    return out


def _cut_off(store: dict[str, Any] | None, given: datetime | None) -> dict[str, Any]:
    if given is not None:
        return {"value": given.isoformat(), "from": "--cut-off"}
    if not store:
        return {"value": None, "from": None}
    value, where = latest_timestamp(store.get("load_id"), store.get("loaded", {}))
    return {"value": value.isoformat() if value else None, "from": f"latest {where}" if where else None}


def _mark(source: str, cut: dict[str, Any], mark: bool) -> dict[str, Any]:
    from include.extract.storefront import mark_history_loaded

    if not mark:
        return {"skipped": "--no-mark"}
    if source == "files":
        return {"skipped": "--source files: no storefront API continues from these files"}
    if not cut.get("value"):
        return {"skipped": "no timestamp in the imported rows; pass --cut-off TIMESTAMP"}
    mark_history_loaded(cut["value"], source=source)
    return {"source": source, "covered_until": history_marks(source)}


def build_marts(data_date: date) -> dict[str, Any]:
    """``dbt build`` of every model (and its tests) for ``data_date``, against the configured warehouse; raises
    ``RuntimeError`` with dbt's output when a model or test fails."""
    import time

    from include.extract.bootstrap import ensure_raw_tables_duckdb
    from pipeline.local import dbt

    ensure_raw_tables_duckdb(get_settings().warehouse)
    started = time.perf_counter()
    dbt(["build"], data_date)
    return {"date": data_date.isoformat(), "seconds": round(time.perf_counter() - started, 1)}


def default_build_date(cut: dict[str, Any]) -> date | None:
    """The data date whose marts the import builds by default: the cut-off's day in the shop's zone."""
    from zoneinfo import ZoneInfo

    from include.core.timezone import TIMEZONE

    if not cut.get("value"):
        return None
    return datetime.fromisoformat(cut["value"]).astimezone(ZoneInfo(TIMEZONE)).date()
