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
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
import duckdb
import pyarrow as pa

from include.core.contracts import QUARANTINE, RawTable
from include.core.currency import exponent, shop_currency
from include.core.pii import mask_text
from include.core.settings import get_settings
from include.core.timezone import TIMEZONE

log = logging.getLogger(__name__)

# Retention of dlt load packages: ``delete`` (default) removes each package once loaded; ``keep`` leaves them.
RETENTION_ENV = "CRM_LOAD_PACKAGES"

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
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "false" if _keep_packages() else "true")
    folder = Path(pipelines_dir) if pipelines_dir else get_settings().dlt
    private_dir(folder)
    return dlt.pipeline(
        pipeline_name=name,
        destination=resolve_destination(destination),
        dataset_name=dataset_name,
        pipelines_dir=str(folder),
    )


def _keep_packages() -> bool:
    return os.environ.get(RETENTION_ENV, "delete").strip().lower() == "keep"


def private_dir(folder: Path) -> Path:
    """Creates ``folder`` (and parents) readable by its owner only (0700): load packages hold contacts."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def restrict_tree(root: Path) -> None:
    """Makes every folder under ``root`` 0700 and every file 0600 (dlt writes with the process umask)."""
    if not root.exists():
        return
    root.chmod(0o700)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(0o700 if path.is_dir() else 0o600)


@contextmanager
def _private_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def prune_load_packages(pipeline: dlt.Pipeline) -> int:
    """Deletes the pipeline's completed (loaded or aborted) load packages unless ``CRM_LOAD_PACKAGES=keep``.

    A package holds the loaded rows (phones, e-mails) as files; once the destination has them they only serve
    debugging, so by default nothing stays on disk. Returns the number of packages deleted.
    """
    if _keep_packages():
        return 0
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    count = 0
    if loaded.is_dir():
        for package in loaded.iterdir():
            shutil.rmtree(package, ignore_errors=True) if package.is_dir() else package.unlink(
                missing_ok=True
            )
            count += 1
    return count


def _run(pipeline: dlt.Pipeline, data: Any, **kwargs: Any) -> Any:
    """``pipeline.run`` that never leaves a failed package behind to block the next run.

    A package left pending by an earlier process (killed, or failed before this fix) is loaded first; if it cannot
    be, it is aborted (dlt restores the local state and schema) and dropped. When this run fails, its own package is
    aborted and dropped the same way and the error is raised: nothing of it was loaded, and the next import starts
    clean. Completed packages are then pruned (:func:`prune_load_packages`) and the folder made private.
    """
    with _private_umask():
        try:
            if pipeline.has_pending_data:
                try:
                    pipeline.normalize()
                    pipeline.load()
                except Exception as exc:  # noqa: BLE001 - a stale package must not block this run
                    log.warning("discarding a pending load package of %s that fails: %s", pipeline.pipeline_name,
                                mask_text(str(exc)[:300]))  # fmt: skip
                    pipeline.abort_packages()
            try:
                return pipeline.run(data, **kwargs)
            except Exception:
                if pipeline.has_pending_data:
                    pipeline.abort_packages()
                raise
        finally:
            prune_load_packages(pipeline)
            restrict_tree(Path(pipeline.pipelines_dir))


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


_WHOLE = r"[+-]?\d+(\.0*)?"
_DECIMAL = r"[+-]?(\d+(\.\d*)?|\.\d+)"


def _typed(
    col: str, dtype: str, is_text: bool, is_float: bool, money_exp: int | None
) -> tuple[str, list[str]]:
    """SQL of a contract column's typed value and of the reasons it is bad (each ``CASE ... THEN text END``).

    Numbers are exact: a ``bigint`` must be a whole number (DuckDB's cast would round ``1.5`` to ``2``); a money
    column (``money_exp`` = the currency's decimals) becomes an integer of minor units, and a value with more
    decimals than the currency has is refused, never rounded.
    """
    qc = _q(col)
    value = f"NULLIF(trim({qc}), '')" if is_text else qc
    shown = f"left(CAST({qc} AS VARCHAR), 60)"
    if dtype == "bigint" and money_exp is not None:
        factor = 10**money_exp
        if is_text:
            frac = f"regexp_extract({value}, '\\.(\\d*)$', 1)"
            ok = f"regexp_full_match({value}, '{_DECIMAL}')"
            inexact = f"({ok} AND length(rtrim({frac}, '0')) > {money_exp})"
            cast = f"CASE WHEN {ok} AND NOT {inexact} THEN TRY_CAST(TRY_CAST({value} AS DECIMAL(38, 9)) * {factor} AS BIGINT) END"
        else:
            dec = f"TRY_CAST({value} AS DECIMAL(38, 9))"
            inexact = f"({dec} <> round({dec}, {money_exp}))"
            cast = f"CASE WHEN NOT {inexact} THEN TRY_CAST({dec} * {factor} AS BIGINT) END"
        return cast, [
            f"CASE WHEN {value} IS NOT NULL AND coalesce({inexact}, false) THEN '{col}: ' || {shown} || "
            f"' has more decimals than the currency allows ({money_exp}); not rounded' END",
            f"CASE WHEN {value} IS NOT NULL AND NOT coalesce({inexact}, false) AND {cast} IS NULL "
            f"THEN '{col}: cannot convert ' || {shown} || ' to an amount' END",
        ]
    if dtype == "bigint" and (is_text or is_float):
        whole = f"regexp_full_match({value}, '{_WHOLE}')" if is_text else f"({value} = trunc({value}))"
        cast = f"CASE WHEN {whole} THEN TRY_CAST(TRY_CAST({value} AS DECIMAL(38, 9)) AS BIGINT) END"
    else:
        cast = f"TRY_CAST({value} AS {_DUCK_TYPES[dtype]})"
    return cast, [
        f"CASE WHEN {value} IS NOT NULL AND {cast} IS NULL THEN '{col}: cannot convert ' || {shown} || ' to {dtype}' END"
    ]


def validate_arrow(
    data: pa.Table,
    table: RawTable,
    *,
    naive_tz: str = TIMEZONE,
    payload_column: str | None = None,
    currency: str | None = None,
    location: tuple[str, str] | None = None,
    dedupe: bool = False,
) -> Validated:
    """Splits ``data`` into rows that fit ``table``'s contract and rows to quarantine, row by row, in DuckDB.

    A row is bad when a required column is missing/null/blank or a present value does not coerce to the contract
    type exactly (a whole number for ``bigint``; for the table's money columns, no more decimals than the currency
    has; a row currency other than the shop's). Good rows come back with every contract column (typed; absent ones
    null; money in minor units) followed by unknown columns as they were. Bad rows come back as ``record_key``
    (primary key values joined by ``|``), ``reason`` and ``payload`` (the original row as JSON, or the text of
    ``payload_column`` — e.g. the raw line — which is then not loaded).

    Args:
        currency: the shop's currency (default the dbt var ``shop_currency``); decides the money columns' decimals.
        location: names of a file-name and a line-number column of ``data``: every reason starts with
            ``<file> line <n>:``; the two columns are not loaded.
        dedupe: quarantine all but one row of a primary key seen twice in ``data`` (the latest by the table's
            cursor, then the last line), instead of leaving the choice to the merge.
    """
    currency = (currency or shop_currency()).upper()
    money_exp = exponent(currency)
    n = data.num_rows
    data = data.append_column("__row", pa.array(range(n), pa.int64()))
    hidden = {"__row", payload_column, *(location or ())}
    con = duckdb_session()
    try:
        con.execute(f"SET TimeZone = '{naive_tz}'")
        con.register("src", data)
        present = set(data.column_names)
        exprs, checks, typed = [], [], {}
        for col, dtype in table.columns.items():
            target = _DUCK_TYPES[dtype]
            if col not in present:
                exprs.append(f"CAST(NULL AS {target}) AS {_q(col)}")
                typed[col] = f"CAST(NULL AS {target})"
                if col in table.required:
                    checks.append(f"'{col}: column missing'")
                continue
            qc = _q(col)
            src_type = data.schema.field(col).type
            is_text = pa.types.is_string(src_type) or pa.types.is_large_string(src_type)
            value = f"NULLIF(trim({qc}), '')" if is_text else qc
            cast, reasons = _typed(
                col, dtype, is_text, pa.types.is_floating(src_type) or pa.types.is_decimal(src_type),
                money_exp if col in table.money else None,
            )  # fmt: skip
            if col == table.currency_column:
                cast = f"upper({cast})"
                reasons.append(
                    f"CASE WHEN upper({value}) <> '{currency}' THEN '{col}: ' || left({value}, 10) || "
                    f"' amounts in a {currency} shop (set the dbt var shop_currency or split the file)' END"
                )
            typed[col] = cast
            exprs.append(f"{cast} AS {qc}")
            checks.extend(reasons)
            if col in table.required:
                checks.append(f"CASE WHEN {value} IS NULL THEN '{col}: required value missing' END")
        extras = [_q(c) for c in data.column_names if c not in table.columns and c not in hidden]
        reason = f"concat_ws('; ', {', '.join(checks)})" if checks else "''"
        key = " || '|' || ".join(
            f"coalesce(CAST({_q(k)} AS VARCHAR), '<null>')" if k in present else "'<missing>'"
            for k in table.primary_key
        )
        where = (
            f"{_q(location[0])} || ' line ' || CAST({_q(location[1])} AS VARCHAR)"
            if location
            else "'row ' || CAST(__row + 1 AS VARCHAR)"
        )
        con.execute(f"CREATE TEMP TABLE checked AS SELECT src.*, {reason} AS __reason FROM src")
        if dedupe and table.primary_key:
            pk = ", ".join(typed[k] for k in table.primary_key)
            order = (f"{typed[table.cursor]} DESC NULLS LAST, " if table.cursor else "") + "__row DESC"
            window = f"OVER (PARTITION BY __reason = '', {pk} ORDER BY {order})"
            con.execute(
                f"""
                CREATE TEMP TABLE ranked AS
                SELECT * EXCLUDE (__reason),
                       CASE WHEN __reason = '' AND row_number() {window} > 1
                            THEN '{"|".join(table.primary_key)}: duplicate key in this import; kept '
                                 || first_value({where}) {window}
                            ELSE __reason END AS __reason
                FROM checked
                """
            )
            con.execute("DROP TABLE checked")
            con.execute("ALTER TABLE ranked RENAME TO checked")
        select = ", ".join([*exprs, *extras])
        good = con.sql(f"SELECT {select} FROM checked WHERE __reason = '' ORDER BY __row").to_arrow_table()
        orig = ", ".join(_q(c) for c in data.column_names if c not in ("__row", payload_column))
        payload = _q(payload_column) if payload_column else f"to_json(struct_pack({orig}))::VARCHAR"
        prefix = f"{where} || ': ' || " if location else ""
        bad = con.sql(
            f"SELECT {key} AS record_key, {prefix}__reason AS reason, {payload} AS payload "
            f"FROM checked WHERE __reason <> '' ORDER BY __row"
        ).to_arrow_table()
        return Validated(good=good, bad=bad)
    finally:
        con.close()


_KINDS = (
    ("column missing", "missing_column"),
    ("required value missing", "missing_value"),
    ("has more decimals", "inexact_amount"),
    ("duplicate key", "duplicate_key"),
    ("amounts in a", "currency"),
    ("cannot convert", "unparsable_value"),
    ("csv:", "malformed_line"),
)


def reason_kinds(reasons: list[str]) -> dict[str, int]:
    """Counts of quarantine reasons by kind (``missing_value``, ``inexact_amount``, ``duplicate_key`` …); a row
    with several problems counts once in each of its kinds."""
    out: dict[str, int] = {}
    for reason in reasons:
        kinds = {kind for needle, kind in _KINDS if needle in (reason or "")} or {"other"}
        for kind in kinds:
            out[kind] = out.get(kind, 0) + 1
    return out


@dataclass
class LoadResult:
    """Counts of one extraction run."""

    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    load_id: str | None = None
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": dict(self.loaded),
            "quarantined": dict(self.quarantined),
            "loaded_total": sum(self.loaded.values()),
            "quarantined_total": sum(self.quarantined.values()),
            "load_id": self.load_id,
            "reasons": {t: dict(k) for t, k in self.reasons.items()},
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
    _run(q, dlt.resource(data, name=QUARANTINE.name, **apply_contract(QUARANTINE)))
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
    currency: str | None = None,
    location: tuple[str, str] | None = None,
    dedupe: bool = False,
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
        currency, location, dedupe: see :func:`validate_arrow`.

    A failed load is aborted (its package dropped, the local schema restored) so it never blocks the next run;
    completed packages are pruned and the pipeline folder kept private (:func:`_run`).
    """
    result = LoadResult()
    resources, bad_rows = [], []
    by_table: dict[str, tuple[RawTable, list[pa.Table]]] = {}
    for table, data in batches:
        by_table.setdefault(table.name, (table, []))[1].append(data)
    for table, datas in by_table.values():
        data = pa.concat_tables(datas, promote_options="permissive") if len(datas) > 1 else datas[0]
        checked = validate_arrow(
            data, table, naive_tz=naive_tz, payload_column=payload_column, currency=currency,
            location=location, dedupe=dedupe,
        )  # fmt: skip
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
        info = _run(pipeline, resources, schema=schema)
        result.load_id = info.loads_ids[-1] if info.loads_ids else None
    for table, bad in bad_rows:
        if bad.num_rows:
            kinds = result.reasons.setdefault(table.name, {})
            for kind, count in reason_kinds(bad.column("reason").to_pylist()).items():
                kinds[kind] = kinds.get(kind, 0) + count
    write_quarantine(
        pipeline, [quarantine_table(source, t.qualified, b, result.load_id) for t, b in bad_rows]
    )
    log.info("loaded %s, quarantined %s (load %s)", result.loaded, result.quarantined, result.load_id)
    return result
