"""Solapi message reports → ``raw_messaging.message_reports`` with dlt (delivery outcomes of our sends).

``GET /messages/v4/list`` with ``dateType=UPDATED`` and ``startDate``/``endDate`` over ``[lower, upper)``, paged by
``startKey``/``nextKey`` (dlt's ``JSONResponseCursorPaginator``); ``messageList`` is an object keyed by message id.
A message's ``dateUpdated`` moves as it goes 2000 → 3000 → 4000 (or a failure code), so the increment on
``date_updated`` picks up every status change and the merge on ``message_id`` keeps the latest. Bounds and
state work like the storefront sources (:mod:`include.extract.storefront`). Requests are signed per attempt with
the activation client's HMAC signer (a Solapi signature may not be reused), paced by the same HTTP layer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from include.core import connections
from include.core.contracts import MESSAGE_REPORTS
from include.core.http import HttpPolicy, HttpStats, Throttle, rest_client
from include.core.settings import get_settings
from include.core.solapi_auth import HmacSigner
from include.extract.common import apply_contract, make_pipeline
from include.extract.resources import (
    PageLoader,
    as_kst,
    batched,
    incremental,
    mark_covered,
    resource_window,
    run_and_summarise,
)
from include.extract.rest import iterate_pages

log = logging.getLogger(__name__)

SOURCE = "solapi"
PAGE_LIMIT = 500
_FIELDS = {
    "message_id": "messageId",
    "group_id": "groupId",
    "type": "type",
    "to": "to",
    "from": "from",
    "status_code": "statusCode",
    "status_message": "statusMessage",
    "date_created": "dateCreated",
    "date_processed": "dateProcessed",
    "date_reported": "dateReported",
    "date_updated": "dateUpdated",
    "replacement": "replacement",
    "custom_fields": "customFields",
}


def _solapi_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def report_row(doc: dict) -> dict:
    """One ``messageList`` entry in contract columns (``custom_fields`` as JSON text, ``to`` as digits)."""
    row = {col: doc.get(key) for col, key in _FIELDS.items()}
    row["message_id"] = row["message_id"] or doc.get("_id")
    if isinstance(row["to"], str):
        row["to"] = "".join(ch for ch in row["to"] if ch.isdigit())
    return row


def report_tables(loader: PageLoader, batch: list[Any]) -> Iterator[Any]:
    """One batch of ``messageList`` entries as a contract-typed table; entries that do not fit are in ``loader``'s
    quarantine, with the reason."""
    rows = [report_row(doc) for doc in loader.objects(MESSAGE_REPORTS, batch)]
    table = loader.to_arrow(MESSAGE_REPORTS, loader.fresh(MESSAGE_REPORTS, rows))
    if table is not None:
        yield table


class SolapiReports:
    """Signed, paced access to the Solapi message list."""

    def __init__(self, conn: connections.ApiConnection) -> None:
        if not conn.login or not conn.password:
            raise ValueError(
                f"connection '{conn.conn_id}' needs the API key as login and the secret as password"
            )
        extra = conn.extra or {}
        self.stats = HttpStats()
        policy = HttpPolicy.from_extra(extra)
        signer = HmacSigner(conn.login, conn.password)
        # the account's limit, kept as the sending client keeps it
        rate = float(extra.get("rate_limit_per_s") or 0) or None
        throttle = Throttle.for_policy(policy, rate, stats=self.stats)
        self.client = rest_client(
            conn.base_url, stats=self.stats, policy=policy, throttle=throttle,
            sign=lambda prepared: signer(prepared.method, prepared.path_url, prepared.body or b""),
        )  # fmt: skip
        self.limit = min(PAGE_LIMIT, int(extra.get("page_limit", PAGE_LIMIT)))
        self.memory: dict[str, tuple] = {}

    def pages(self, lower: datetime, upper: datetime) -> Iterator[list[dict]]:
        params = {
            "limit": self.limit,
            "dateType": "UPDATED",
            "startDate": _solapi_time(lower),
            "endDate": _solapi_time(upper),
        }
        return iterate_pages(
            self.client, "/messages/v4/list", params=params,
            paginator=JSONResponseCursorPaginator(cursor_path="nextKey", cursor_param="startKey"),
            data_selector="messageList.*", key=lambda item: item.get("messageId"), stats=self.stats,
            memory=self.memory, label="solapi reports",
        )  # fmt: skip


@dlt.source(name=SOURCE, max_table_nesting=0)
def solapi_source(api: SolapiReports, lower: datetime, upper: datetime, loader: PageLoader) -> Any:
    """The ``message_reports`` resource bounded by ``[lower, upper)`` on ``date_updated``."""

    def reports() -> Iterator[Any]:
        for batch in batched(api.pages(lower, upper)):
            yield from report_tables(loader, batch)
        mark_covered(upper)

    res = dlt.resource(reports, name=MESSAGE_REPORTS.name, **apply_contract(MESSAGE_REPORTS))
    res.apply_hints(incremental=incremental("date_updated", lower, upper))
    return res


def extract_message_reports(
    data_interval_start: datetime | str,
    data_interval_end: datetime | str,
    *,
    destination: Any = None,
    pipelines_dir: Any = None,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """Loads the message reports whose status changed in ``[data_interval_start, data_interval_end)``.

    Args:
        data_interval_start: start of the data interval (aware datetime or ISO string; naive means KST).
        data_interval_end: its end.
        destination: see :func:`include.extract.common.resolve_destination` (default: the DuckDB warehouse).
        pipelines_dir: dlt working folder (default ``settings.dlt``).
        conn_id: Airflow connection id (default ``crm_solapi``).

    Returns:
        Rows and quarantined rows of ``message_reports``, the dlt load ids, the window read and HTTP counters.
    """
    started = time.monotonic()
    start, end = as_kst(data_interval_start), as_kst(data_interval_end)
    api = SolapiReports(connections.get_connection(conn_id or connections.SOLAPI))
    folder = Path(pipelines_dir) if pipelines_dir else get_settings().dlt
    pipeline = make_pipeline("solapi_reports", destination, MESSAGE_REPORTS.schema, pipelines_dir=folder)
    pipeline.sync_destination()
    lower, upper = resource_window(pipeline, SOURCE, MESSAGE_REPORTS.name, start, end) or (start, end)
    loader = PageLoader("solapi_api")
    return run_and_summarise(
        pipeline, solapi_source(api, lower, upper, loader), loader, [MESSAGE_REPORTS], stats=api.stats,
        windows={MESSAGE_REPORTS.name: (lower, upper)}, started=started,
    )  # fmt: skip
