"""Loads the activation ledger's intents into the warehouse as ``raw_messaging.send_log`` (dlt ``sql_table``).

One row per intent — sent, suppressed (with its reason), holdout, control — with its assignment, provider ids and
statuses; it feeds the message funnel, campaign results and frequency caps in dbt. The load reads the ledger
(SQLite or PostgreSQL, ``settings.ledger``) incrementally on ``updated_at`` and merges on ``intent_id``, so a rerun
never duplicates a row and a status change (accepted → delivered) replaces the older row. Raw addresses and
rendered payloads stay in the ledger: only masked and hashed contacts are exported. Columns: ``docs/campaigns.md``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from include.core.contracts import SEND_LOG
from include.core.settings import get_settings

log = logging.getLogger(__name__)
PIPELINE = "send_log"


def _redact(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def send_log_resource(ledger_url: str, *, full: bool = False) -> Any:
    """The dlt resource over the ledger's ``intents`` table (contract columns only)."""
    import dlt
    from dlt.sources.sql_database import sql_table
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.sql import sqltypes

    engine = create_engine(ledger_url)
    if not inspect(engine).has_table("intents"):
        engine.dispose()
        raise LookupError(
            f"the send ledger {_redact(ledger_url)} has no intents table: it is created when activation first opens "
            "the ledger (the nightly pipeline does that before this load)"
        )
    incremental = None if full else dlt.sources.incremental("updated_at", row_order="asc")

    def adapt(sql_type: Any) -> Any:
        # SQLAlchemy 2.1's Float/Double no longer derive from Numeric, so dlt cannot map them: a plain float
        return sqltypes.Numeric(asdecimal=False) if isinstance(sql_type, sqltypes.Float) else sql_type

    resource = sql_table(
        credentials=engine,
        type_adapter_callback=adapt,
        table="intents",
        incremental=incremental,
        included_columns=list(SEND_LOG.columns),
        backend="sqlalchemy",
        reflection_level="full",
        write_disposition="merge",
        primary_key="intent_id",
    )
    hints = SEND_LOG.dlt_columns()
    for hint in hints.values():
        if hint["data_type"] == "timestamp":
            hint["timezone"] = True  # the ledger stores UTC; SQLite hands it back without an offset
    resource.apply_hints(table_name=SEND_LOG.name, columns=hints)
    return resource


def load_send_log(
    interval_end: datetime | None = None,
    *,
    ledger_url: str | None = None,
    destination: Any = None,
    pipelines_dir: Path | str | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Loads every ledger change since the last load into ``raw_messaging.send_log``.

    Args:
        interval_end: the end of the run's data interval; recorded only (sends of a date are acted on after its
            interval, so the load takes every change since the last load, not a window).
        ledger_url: SQLAlchemy URL of the ledger (default ``settings.ledger``).
        destination: warehouse (default the DuckDB file of settings; a ``postgresql://`` URL works too).
        pipelines_dir: dlt working folder (default ``settings.dlt``).
        full: reread the whole ledger (after a backfill that wrote older ``updated_at`` values); merge keeps it
            idempotent.
    """
    from include.extract.common import make_pipeline

    url = ledger_url or get_settings().ledger
    pipeline = make_pipeline(PIPELINE, destination, SEND_LOG.schema, pipelines_dir=pipelines_dir)
    info = pipeline.run(send_log_resource(url, full=full))
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    loaded = int(counts.get(SEND_LOG.name, 0))
    log.info("send_log: %d ledger rows loaded (interval end %s)", loaded, interval_end)
    return {
        "dataset": SEND_LOG.schema,
        "table": SEND_LOG.name,
        "loaded": loaded,
        "load_id": info.loads_ids[-1] if info.loads_ids else None,
        "interval_end": interval_end.isoformat() if interval_end else None,
    }
