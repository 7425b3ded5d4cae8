"""Storefront extraction: the one entry point the DAG calls; it dispatches to the API source of the shop.

    extract_full_history(end)                      # first run: the whole shop up to ``end``
    extract_storefront(start, end)                 # nightly: what changed in [start, end)
    extract_storefront(start, end, source="shopify")

Both return a summary: rows per table, quarantined rows per table, the dlt load ids (the raw quality gate checks
exactly the rows of those loads), the windows read, and HTTP counters (requests, 429s, retries, pacing waits).
The sources (:mod:`include.extract.cafe24`, :mod:`include.extract.shopify`) never import each other or this module;
what they share is in :mod:`include.extract.resources` (how an increment is bounded is explained there).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt

from include.extract.common import make_pipeline
from include.extract.resources import as_kst, mark_covered

SOURCES = ("cafe24", "shopify")


def extract_storefront(
    data_interval_start: datetime | str,
    data_interval_end: datetime | str,
    *,
    source: str = "cafe24",
    destination: Any = None,
    pipelines_dir: Any = None,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """Loads what changed in the storefront during ``[data_interval_start, data_interval_end)`` into ``raw_<source>``.

    Args:
        data_interval_start: start of the data interval (aware datetime or ISO string; naive means KST).
        data_interval_end: its end; the API is read as of now, records changed after the end wait for the next run.
        source: ``cafe24`` or ``shopify``.
        destination: ``None`` (the DuckDB warehouse of settings), a DuckDB path, a ``postgresql://`` URL or a dlt
            destination.
        pipelines_dir: dlt working folder (default ``settings.dlt``); the OAuth token file lives there too.
        conn_id: Airflow connection id (default ``crm_cafe24`` / ``crm_shopify``).

    Returns:
        The run summary (see :func:`run_and_summarise`).
    """
    module = _module(source)
    return module.extract(
        as_kst(data_interval_start), as_kst(data_interval_end), full_from=None,
        destination=destination, pipelines_dir=pipelines_dir, conn_id=conn_id,
    )  # fmt: skip


def extract_full_history(
    data_interval_end: datetime | str,
    *,
    source: str = "cafe24",
    destination: Any = None,
    pipelines_dir: Any = None,
    history_start: datetime | str | None = None,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """First run: loads the whole shop up to ``data_interval_end`` (from ``history_start``, else from the shop's
    beginning as the API reports it: its oldest product or member), and records it as covered."""
    module = _module(source)
    end = as_kst(data_interval_end)
    start = as_kst(history_start) if history_start is not None else None
    return module.extract(
        end, end, full_from=start or "discover", destination=destination, pipelines_dir=pipelines_dir,
        conn_id=conn_id,
    )  # fmt: skip


def mark_history_loaded(
    loaded_until: datetime | str,
    *,
    source: str = "cafe24",
    destination: Any = None,
    pipelines_dir: Any = None,
) -> list[str]:
    """Records every API resource of ``source`` as loaded up to ``loaded_until``, without calling the API.

    For a warehouse whose history came from the shop's export files (``load_snapshot``) rather than the API: the
    next ``extract_storefront`` then reads only what changed after the export's cut-off, instead of treating each
    resource as never loaded and re-reading the whole history through a 2 calls/s API (hours for a large shop).
    Only the dlt state is written (a run whose resources yield no rows); a resource already covered further is
    left as it is. Returns the resource names.
    """
    module = _module(source)
    until = as_kst(loaded_until)
    pipeline = make_pipeline(module.SOURCE, destination, module.SCHEMA, pipelines_dir=pipelines_dir)
    pipeline.sync_destination()

    def covered() -> Iterator[Any]:
        mark_covered(until)
        yield from ()

    @dlt.source(name=module.SOURCE, max_table_nesting=0)
    def marks() -> list[Any]:
        return [dlt.resource(covered, name=name) for name in module.RESOURCES]

    pipeline.run(marks())
    return list(module.RESOURCES)


def _module(source: str) -> Any:
    if source == "cafe24":
        from include.extract import cafe24

        return cafe24
    if source == "shopify":
        from include.extract import shopify

        return shopify
    raise ValueError(f"unknown storefront source {source!r}; expected one of {SOURCES}")
