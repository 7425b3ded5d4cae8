"""What every API resource of the extraction shares: page validation, windows, dlt state and the run summary.

How an increment is bounded (the same for every API source): each resource keeps ``covered_until`` in its dlt
resource state, the end of the last interval it loaded. A run reads ``[min(start, covered_until), end)``, so a
normal nightly run reads exactly its interval, a run after a gap also reads the gap, and re-running an old date
re-reads that date (merge on the primary key makes it change nothing). The same bounds go to
``dlt.sources.incremental(initial_value=lower, end_value=end)``, which drops any row the API returns outside them
(e.g. an order refunded after ``end``: it belongs to the next interval), so a re-run of a date is deterministic.
Nothing reads the wall clock.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa

from include.core.contracts import RawTable
from include.core.http import HttpStats
from include.core.timezone import KST
from include.extract.common import quarantine_table, validate_arrow, write_quarantine

log = logging.getLogger(__name__)


def as_kst(value: datetime | str) -> datetime:
    """An aware datetime in KST from a datetime/pendulum/ISO string (naive values are read as KST)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=KST)
    return datetime.fromtimestamp(value.timestamp(), KST)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def as_text(value: Any) -> str | None:
    """An API value as the text the raw layer stores (objects/lists as JSON); also how keys are compared."""
    return _text(value)


def payload_json(value: Any) -> str:
    """An item as JSON for the quarantine's ``payload``: readable Hangul, unpaired surrogates escaped."""
    return (
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace").decode("utf-8")
    )


class PageLoader:
    """Turns API pages into contract-typed Arrow tables: drops repeats within the run, quarantines bad rows."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: dict[str, set] = {}
        self.bad: list[tuple[RawTable, pa.Table]] = []
        self.quarantined: Counter[str] = Counter()
        self.repeats: Counter[str] = Counter()

    def objects(
        self, table: RawTable, items: Iterable[Any], nested: dict[str, str] | None = None
    ) -> list[dict]:
        """The items of a page that can be mapped to rows; the others are quarantined with the reason.

        An API page is untrusted JSON: an item may be a string or a number instead of an object, and a nested
        field the mapping walks (``nested``: field → ``"object"`` or ``"objects"``, a list of objects) may have
        another shape. Such an item is recorded in the quarantine, never dropped and never a crash.
        """
        out, bad = [], []
        for item in items:
            why = shape_problem(item, nested or {})
            if why is None:
                out.append(item)
            else:
                bad.append((item, why))
        if bad:
            self.reject(table, _rejected(table, bad))
        return out

    def fresh(self, table: RawTable, rows: Iterable[dict]) -> list[dict]:
        """Rows whose key was not seen earlier in this run (windows and date types may overlap)."""
        seen = self.seen.setdefault(table.name, set())
        out = []
        for row in rows:
            key = tuple(_text(row.get(k)) for k in table.primary_key)
            if key in seen:
                self.repeats[table.name] += 1
                continue
            seen.add(key)
            out.append(row)
        return out

    def to_arrow(self, table: RawTable, rows: list[dict]) -> pa.Table | None:
        """Contract columns of ``rows`` validated and typed; bad rows go to the quarantine list."""
        if not rows:
            return None
        texts = [[_text(r.get(c)) for r in rows] for c in table.columns]
        try:
            data = pa.table({c: pa.array(t, pa.string()) for c, t in zip(table.columns, texts, strict=True)})
        except UnicodeEncodeError:
            # a lone surrogate escape ("\\ud800") in the JSON has no UTF-8 form: quarantine the rows that have one
            keep, bad = [], []
            for i, row in enumerate(rows):
                cols = [c for c, t in zip(table.columns, texts, strict=True) if not _encodable(t[i])]
                if cols:
                    bad.append(
                        (row, f"{', '.join(cols)}: text with an unpaired surrogate (not valid Unicode)")
                    )
                else:
                    keep.append(row)
            self.reject(table, _rejected(table, bad))
            return self.to_arrow(table, keep)
        checked = validate_arrow(data, table)
        if checked.bad.num_rows:
            self.reject(table, checked.bad)
        good = checked.good
        if not good.num_rows:
            return None
        # key columns are NOT NULL in the contract hints; say so in the Arrow schema too
        schema = pa.schema([f.with_nullable(f.name not in table.primary_key) for f in good.schema])
        return good.cast(schema)

    def reject(self, table: RawTable, bad: pa.Table) -> None:
        """Adds rows (``record_key``, ``reason``, ``payload``) to the quarantine of this run."""
        self.bad.append((table, bad))
        self.quarantined[table.name] += bad.num_rows


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def shape_problem(item: Any, nested: dict[str, str]) -> str | None:
    """Why an API item cannot be mapped to rows (not an object, or a nested field of another shape), or ``None``."""
    if not isinstance(item, dict):
        return f"item is a JSON {_json_kind(item)}, not an object"
    for name, shape in nested.items():
        value = item.get(name)
        if value is None:
            continue
        if shape == "object" and not isinstance(value, dict):
            return f"{name}: expected an object, got a JSON {_json_kind(value)}"
        if shape == "objects" and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return f"{name}: expected a list of objects, got a JSON {_json_kind(value)}" + (
                " with other items" if isinstance(value, list) else ""
            )
    return None


def _encodable(text: str | None) -> bool:
    if text is None:
        return True
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _rejected(table: RawTable, bad: list[tuple[Any, str]]) -> pa.Table:
    """Quarantine rows for items rejected before validation (payload: the item as ASCII-safe JSON)."""

    def key(item: Any) -> str:
        if not isinstance(item, dict):
            return "<not an object>"
        return (
            "|".join(_text(item.get(k)) or "<null>" for k in table.primary_key)
            .encode("utf-8", "backslashreplace")
            .decode("utf-8")
        )

    return pa.table({
        "record_key": pa.array([key(item) for item, _ in bad], pa.string()),
        "reason": pa.array([why for _, why in bad], pa.string()),
        "payload": pa.array([payload_json(item) for item, _ in bad], pa.string()),
    })  # fmt: skip


def batched(pages: Iterable[list[dict]], rows: int = 5000) -> Iterator[list[dict]]:
    """Pages merged into batches of at least ``rows`` items (validation and dlt work per batch, not per page)."""
    buf: list[dict] = []
    for page in pages:
        buf.extend(page)
        if len(buf) >= rows:
            yield buf
            buf = []
    if buf:
        yield buf


def resource_window(
    pipeline: dlt.Pipeline, source: str, resource: str, start: datetime, end: datetime
) -> tuple[datetime, datetime] | None:
    """``[min(start, covered_until), end)`` for one resource, or ``None`` when it was never loaded (then the
    storefront sources read its full history, so a first nightly run cannot silently skip the past)."""
    state = pipeline.state.get("sources", {}).get(source, {}).get("resources", {}).get(resource, {})
    covered = state.get("covered_until")
    if not covered:
        log.info("%s.%s has no previous load", source, resource)
        return None
    return min(start, as_kst(covered)), end


def mark_covered(end: datetime) -> None:
    """Records in the running resource's dlt state that everything before ``end`` is loaded."""
    state = dlt.current.resource_state()
    prev = state.get("covered_until")
    if not prev or as_kst(prev) < end:
        state["covered_until"] = end.isoformat()


def incremental(cursor: str, lower: datetime, upper: datetime) -> Any:
    """The dlt incremental every API resource uses: rows with ``lower <= cursor < upper`` (nulls go to validation)."""
    return dlt.sources.incremental(
        cursor,
        initial_value=lower,
        end_value=upper,
        range_start="closed",
        range_end="open",
        on_cursor_value_missing="include",
    )


def run_and_summarise(
    pipeline: dlt.Pipeline,
    source: Any,
    loader: PageLoader,
    tables: Iterable[RawTable],
    *,
    stats: HttpStats,
    windows: dict[str, tuple[datetime, datetime]],
    started: float,
) -> dict[str, Any]:
    """Runs the dlt source, writes the run's quarantine, and returns the summary the DAG logs and passes on.

    Besides counts, the summary says where the time went: ``http`` has the time inside requests (``http_s``) and
    waiting for the pacing (``pacing_wait_s``); ``timing`` has dlt's steps (``extract_s``, which pulls the pages and
    validates and writes them, ``waiting_for_pages_s`` of it when pages are read ahead, ``normalize_s``,
    ``load_s``), what comes before and after them, and the seconds before the first request and after the last
    answer: no pacing can make the API's bucket work during those.
    """
    run_started = time.monotonic()
    info = pipeline.run(source)
    run_finished = time.monotonic()
    load_ids = list(info.loads_ids)
    trace = pipeline.last_trace
    counts = dict(trace.last_normalize_info.row_counts) if trace and trace.last_normalize_info else {}
    names = [t.name for t in tables]
    q_rows = [quarantine_table(loader.source, t.qualified, bad, load_ids[-1] if load_ids else None)
              for t, bad in loader.bad]  # fmt: skip
    write_quarantine(pipeline, q_rows)
    elapsed = time.monotonic() - started
    rows = {n: int(counts.get(n, 0)) for n in names}
    summary = {
        "source": loader.source,
        "load_id": load_ids[-1] if load_ids else None,
        "pipeline": pipeline.pipeline_name,
        "dataset": pipeline.dataset_name,
        "rows": rows,
        "rows_total": sum(rows.values()),
        "quarantined": {n: int(loader.quarantined.get(n, 0)) for n in names},
        "quarantined_total": int(sum(loader.quarantined.values())),
        "repeats_dropped": dict(loader.repeats),
        "load_ids": load_ids,
        "windows": {n: [lo.isoformat(), hi.isoformat()] for n, (lo, hi) in windows.items()},
        "http": stats.as_dict(),
        "timing": _timing(trace, stats, started, run_started, run_finished, started + elapsed),
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(stats.records / elapsed, 1) if elapsed > 0 else None,
    }
    log.info("%s extraction: rows %s, quarantined %s, http %s", loader.source, rows, summary["quarantined"],
             {k: summary["http"][k] for k in ("requests", "http_429", "retries")})  # fmt: skip
    return summary


def _timing(
    trace: Any, stats: HttpStats, started: float, run_started: float, run_finished: float, ended: float
) -> dict[str, float | None]:
    """Seconds per phase of one run (monotonic clock; dlt's steps from its trace)."""
    steps = {
        str(step.step): (step.finished_at - step.started_at).total_seconds()
        for step in (trace.steps if trace else [])
        if step.started_at and step.finished_at
    }

    def seconds(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    first, last = stats.first_sent, stats.last_finished
    return {
        # connection, pipeline state, what is asked before dlt runs
        "setup_s": seconds(run_started - started),
        "extract_s": seconds(steps.get("extract")),
        "waiting_for_pages_s": seconds(stats.page_wait_s),
        "normalize_s": seconds(steps.get("normalize")),
        "load_s": seconds(steps.get("load")),
        "finish_s": seconds(ended - run_finished),  # the quarantine and this summary
        "before_first_request_s": seconds(None if first is None else first - started),
        "after_last_response_s": seconds(None if last is None else ended - last),
    }
