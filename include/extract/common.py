"""Shared extraction helpers: dlt pipelines, contract hints, row-level validation and the quarantine.

Every extractor (file imports, event drops, API sources) goes the same way:

1. build Arrow tables of what the source sent;
2. :func:`validate_arrow` splits each into rows that fit the contract (typed as :mod:`include.core.contracts` says; unknown
   columns kept for dlt's schema evolution) and rows that don't (a required column missing/null, or a value that
   does not coerce), with the reason;
3. :func:`load_arrow` runs one dlt load of the good rows (merge on the primary key) and writes the bad rows to
   ``raw_quarantine.records`` — nothing is dropped without a record — and returns the counts.

Timestamps stay tz-aware: a string with an offset keeps it, a naive one is read in the source's zone
(``naive_tz``: KST for storefront exports, UTC for Amplitude). Nothing is converted to KST here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
import duckdb
import pyarrow as pa

from include.core.contracts import QUARANTINE, RawTable
from include.core.pii import mask_text
from include.core.settings import get_settings
from include.core.timezone import TIMEZONE

log = logging.getLogger(__name__)

# dlt settings (Arrow rows get _dlt_load_id/_dlt_id, staging emptied, no Airflow secrets probe) are defaulted in
# include/extract/__init__.py, before dlt is first imported.

_DUCK_TYPES = {
    "text": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "VARCHAR",
}


def duckdb_session() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for row-level work, without the progress bar it would print to stdout."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def resolve_destination(destination: Any = None) -> Any:
    """A dlt destination from ``None`` (the DuckDB warehouse of settings), a ``postgresql://`` URL, a DuckDB file
    path, or a dlt destination object (returned as is)."""
    if destination is None:
        destination = get_settings().warehouse
    if isinstance(destination, Path):
        destination.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(destination))
    if isinstance(destination, str):
        if destination.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            url = destination.replace("postgresql+psycopg://", "postgresql://", 1)
            parts = urlsplit(url)
            if (
                parts.username and parts.password is None
            ):  # trust/peer auth: dlt wants an explicit (empty) password
                url = urlunsplit(
                    parts._replace(netloc=parts.netloc.replace(parts.username, parts.username + ":", 1))
                )
            return dlt.destinations.postgres(credentials=url)
        if destination.startswith("duckdb:///"):
            destination = destination.removeprefix("duckdb:///")
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(destination)
    return destination


def make_pipeline(
    name: str,
    destination: Any = None,
    dataset_name: str = "raw_cafe24",
    *,
    pipelines_dir: Path | str | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline with its working folder under ``settings.dlt`` (or ``pipelines_dir``).

    Args:
        name: pipeline name (also the name of its state folder).
        destination: see :func:`resolve_destination`; default the DuckDB warehouse file.
        dataset_name: schema the tables land in (``raw_cafe24``, ``raw_events`` …).
        pipelines_dir: where dlt keeps state and load packages.
    """
    from include.extract import apply_dlt_defaults

    apply_dlt_defaults()
    folder = Path(pipelines_dir) if pipelines_dir else get_settings().dlt
    folder.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=name,
        destination=resolve_destination(destination),
        dataset_name=dataset_name,
        pipelines_dir=str(folder),
    )


def apply_contract(table: RawTable) -> dict[str, Any]:
    """dlt resource hints for a raw table: typed columns, primary key, ``merge`` write disposition.

    Usable as ``dlt.resource(data, name=table.name, **apply_contract(table))`` or ``resource.apply_hints(**...)``.
    """
    return {
        "table_name": table.name,
        "columns": table.dlt_columns(),
        "primary_key": list(table.primary_key),
        "write_disposition": "merge",
    }


@dataclass
class Validated:
    """Result of :func:`validate_arrow`: contract-typed good rows and quarantine rows (record_key, reason, payload)."""

    good: pa.Table
    bad: pa.Table


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validate_arrow(
    data: pa.Table, table: RawTable, *, naive_tz: str = TIMEZONE, payload_column: str | None = None
) -> Validated:
    """Splits ``data`` into rows that fit ``table``'s contract and rows to quarantine, row by row, in DuckDB.

    A row is bad when a required column is missing/null/blank or a present value does not coerce to the contract
    type. Good rows come back with every contract column (typed; absent ones null) followed by unknown columns as
    they were. Bad rows come back as ``record_key`` (primary key values joined by ``|``), ``reason`` and ``payload``
    (the original row as JSON, or the text of ``payload_column`` — e.g. the raw line — which is then not loaded).
    """
    con = duckdb_session()
    try:
        con.execute(f"SET TimeZone = '{naive_tz}'")
        con.register("src", data)
        present = set(data.column_names)
        exprs, checks = [], []
        for col, dtype in table.columns.items():
            target = _DUCK_TYPES[dtype]
            if col not in present:
                exprs.append(f"CAST(NULL AS {target}) AS {_q(col)}")
                if col in table.required:
                    checks.append(f"'{col}: column missing'")
                continue
            qc = _q(col)
            src_type = data.schema.field(col).type
            is_text = pa.types.is_string(src_type) or pa.types.is_large_string(src_type)
            value = f"NULLIF(trim({qc}), '')" if is_text else qc
            cast = f"TRY_CAST({value} AS {target})"
            exprs.append(f"{cast} AS {qc}")
            checks.append(
                f"CASE WHEN {value} IS NOT NULL AND {cast} IS NULL "
                f"THEN '{col}: cannot convert ' || left(CAST({qc} AS VARCHAR), 60) || ' to {dtype}' END"
            )
            if col in table.required:
                checks.append(f"CASE WHEN {value} IS NULL THEN '{col}: required value missing' END")
        extras = [_q(c) for c in data.column_names if c not in table.columns and c != payload_column]
        reason = f"concat_ws('; ', {', '.join(checks)})" if checks else "''"
        key = " || '|' || ".join(
            f"coalesce(CAST({_q(k)} AS VARCHAR), '<null>')" if k in present else "'<missing>'"
            for k in table.primary_key
        )
        con.execute(f"CREATE TEMP TABLE checked AS SELECT src.*, {reason} AS __reason FROM src")
        select = ", ".join([*exprs, *extras])
        good = con.sql(f"SELECT {select} FROM checked WHERE __reason = ''").to_arrow_table()
        orig = ", ".join(_q(c) for c in data.column_names if c != payload_column)
        payload = _q(payload_column) if payload_column else f"to_json(struct_pack({orig}))::VARCHAR"
        bad = con.sql(
            f"SELECT {key} AS record_key, __reason AS reason, {payload} AS payload FROM checked WHERE __reason <> ''"
        ).to_arrow_table()
        return Validated(good=good, bad=bad)
    finally:
        con.close()


@dataclass
class LoadResult:
    """Counts of one extraction run."""

    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    load_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": dict(self.loaded),
            "quarantined": dict(self.quarantined),
            "loaded_total": sum(self.loaded.values()),
            "quarantined_total": sum(self.quarantined.values()),
            "load_id": self.load_id,
        }


def quarantine_table(source: str, table_name: str, bad: pa.Table, load_id: str | None) -> pa.Table:
    """Rows for ``raw_quarantine.records``; ``quarantine_id`` is a hash of the row so a replay does not add twins."""
    n = bad.num_rows
    at = datetime.fromtimestamp(float(load_id), UTC) if load_id else datetime(1970, 1, 1, tzinfo=UTC)
    con = duckdb_session()
    try:
        con.register("bad", bad)
        if not n:
            return _empty_quarantine()
        return con.sql(
            """
            SELECT md5(concat_ws('|', $source, $table, record_key, reason, payload)) AS quarantine_id,
                   $source AS source, $table AS table_name, record_key, reason, payload,
                   CAST($load_id AS VARCHAR) AS load_id, CAST($at AS TIMESTAMPTZ) AS quarantined_at
            FROM bad
            """,
            params={"source": source, "table": table_name, "load_id": load_id, "at": at},
        ).to_arrow_table()
    finally:
        con.close()


def _empty_quarantine() -> pa.Table:
    types = {"text": pa.string(), "timestamp": pa.timestamp("us", tz="UTC")}
    return pa.table({c: pa.array([], types[t]) for c, t in QUARANTINE.columns.items()})


def write_quarantine(pipeline: dlt.Pipeline, rows: list[pa.Table]) -> int:
    """Merges quarantine rows into ``raw_quarantine.records`` with a sibling pipeline of ``pipeline``."""
    rows = [r for r in rows if r.num_rows]
    if not rows:
        return 0
    data = pa.concat_tables(rows)
    q = dlt.pipeline(
        pipeline_name=f"{pipeline.pipeline_name}_quarantine",
        destination=pipeline.destination,
        dataset_name=QUARANTINE.schema,
        pipelines_dir=pipeline.pipelines_dir,
    )
    q.run(dlt.resource(data, name=QUARANTINE.name, **apply_contract(QUARANTINE)))
    for r in rows:
        sample = r.slice(0, 1).to_pylist()[0]
        log.warning(
            "quarantined %d %s.%s rows, e.g. key=%s reason=%s",
            r.num_rows,
            sample["source"],
            sample["table_name"],
            mask_text(str(sample["record_key"])),
            mask_text(str(sample["reason"])),
        )
    return data.num_rows


def load_arrow(
    pipeline: dlt.Pipeline,
    batches: list[tuple[RawTable, pa.Table]],
    *,
    source: str,
    naive_tz: str = TIMEZONE,
    pre_quarantined: list[tuple[RawTable, pa.Table]] | None = None,
    payload_column: str | None = None,
    naming: str | None = None,
    write_disposition: str = "merge",
) -> LoadResult:
    """Validates each (contract, data) batch, merges good rows in one dlt load, quarantines the rest.

    Args:
        pipeline: from :func:`make_pipeline`; its dataset must be the tables' schema.
        batches: Arrow data per contract table (several batches of one table are concatenated).
        source: name recorded in the quarantine (``cafe24_file``, ``amplitude_drops`` …).
        naive_tz: zone of timestamps without an offset.
        pre_quarantined: rows the caller already rejected (e.g. unparsable CSV lines): ``record_key``,
            ``reason``, ``payload`` per table.
        payload_column: see :func:`validate_arrow`.
        write_disposition: ``merge`` (default, idempotent upsert on the primary key) or ``replace`` (the batch is
            the whole table, e.g. a full snapshot into a fresh warehouse: ~2× faster on DuckDB).
        naming: dlt naming convention for this load's schema (``duck_case`` keeps unknown Korean headers readable;
            dlt's default ``snake_case`` would turn them into ``x``).
    """
    result = LoadResult()
    resources, bad_rows = [], []
    by_table: dict[str, tuple[RawTable, list[pa.Table]]] = {}
    for table, data in batches:
        by_table.setdefault(table.name, (table, []))[1].append(data)
    for table, datas in by_table.values():
        data = pa.concat_tables(datas, promote_options="permissive") if len(datas) > 1 else datas[0]
        checked = validate_arrow(data, table, naive_tz=naive_tz, payload_column=payload_column)
        result.loaded[table.name] = checked.good.num_rows
        result.quarantined[table.name] = checked.bad.num_rows
        bad_rows.append((table, checked.bad))
        hints = {**apply_contract(table), "write_disposition": write_disposition}
        resources.append(dlt.resource(checked.good, name=table.name, **hints))
    for table, bad in pre_quarantined or []:
        result.quarantined[table.name] = result.quarantined.get(table.name, 0) + bad.num_rows
        bad_rows.append((table, bad))
    if resources:
        schema = dlt.Schema(pipeline.pipeline_name, normalizers={"names": naming}) if naming else None
        info = pipeline.run(resources, schema=schema)
        result.load_id = info.loads_ids[-1] if info.loads_ids else None
    write_quarantine(
        pipeline, [quarantine_table(source, t.qualified, b, result.load_id) for t, b in bad_rows]
    )
    log.info("loaded %s, quarantined %s (load %s)", result.loaded, result.quarantined, result.load_id)
    return result
