"""Benchmark 4: extraction through the Cafe24 emulator at the real call limit vs the ceiling that limit allows.

The emulator serves the benchmark shop with Cafe24's leaky bucket (40 calls, draining 2/s); the extractor
(``extract_full_history`` then one nightly ``extract_storefront``) runs clean and with injected faults (429, 5xx,
connection resets, timeouts). The baseline is the bucket itself, measured on the same run: after the first 40
calls a client can make at most 2 calls/s, so ``(requests − 40) / 2`` seconds is the least time that run's own
requests allow (``share`` = that floor / elapsed). Where the rest of the time goes is reported beside it: time
inside requests and waiting for the pacing (the HTTP side), dlt's extract / normalise / load steps (the extract step
pulls the pages, so it also holds the time it waited for them), and the seconds before the first request and after
the last answer, which no client can spend on the bucket (``share_while_fetching`` = floor / the time between them).
A full history of a 1M-member shop takes hours through a 2 calls/s API by design (that is why file import exists):
at M only the nightly increment runs — after ``mark_history_loaded`` records the history as loaded by the file
import, as an operator would after importing the export files — the full history is projected from the shop's row
counts and page sizes, and the file import (``load_snapshot``) is measured instead.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import KST, Section, print_table

FAULTS = "rate=0.15;kinds=429,500,503,reset,timeout;timeout_s=1;seed=7;only_paths=/api/v2/admin"
PAGE_SIZE = {"customers": 1000, "orders": 1000, "products": 100, "reviews": 100, "subscriptions": 100}


def bucket_floor(requests: int, injected: int) -> float:
    """Least seconds ``requests`` allow through a full 40-call bucket draining 2/s. Injected faults are answered
    before the rate limiter (they never take a slot), so they do not count."""
    return max(0.0, (requests - injected - 40) / 2.0)


def share(floor: float, seconds: float | None) -> float | None:
    """``floor / seconds`` to three decimals (two would show 0.946 as 0.95), None without a floor."""
    return round(floor / seconds, 3) if seconds and floor else None


def _summary(kind: str, faults: str | None, summary: dict, server_429: int, injected: int) -> dict[str, Any]:
    http, timing = summary["http"], summary["timing"]
    floor = bucket_floor(http["requests"], injected)
    elapsed = summary["elapsed_s"]
    fetching = elapsed - timing["before_first_request_s"] - timing["after_last_response_s"]
    return {
        "run": kind + (" + faults" if faults else ""),
        "rows_landed": summary["rows_total"],
        "records": http["records"],
        "requests": http["requests"],
        "elapsed_s": round(elapsed, 1),
        "records_per_s": summary["records_per_s"],
        "bucket_floor_s": round(floor, 1),
        "share_of_ceiling": share(floor, elapsed),
        "server_429": server_429,
        "http_429_seen": http["http_429"],
        "retries": http["retries"],
        "injected_faults": injected,
        # the HTTP side (summed over requests)
        "pacing_wait_s": round(http["pacing_wait_s"], 1),
        "http_s": round(http["http_s"], 1),
        # dlt's steps; extract_s includes waiting_for_pages_s (pages are fetched on another thread meanwhile)
        "dlt_extract_s": round(timing["extract_s"], 1),
        "waiting_for_pages_s": round(timing["waiting_for_pages_s"], 1),
        "dlt_normalize_s": round(timing["normalize_s"], 2),
        "dlt_load_s": round(timing["load_s"], 2),
        # what the bucket cannot be used for, and the bucket's use in between
        "before_first_request_s": round(timing["before_first_request_s"], 2),
        "after_last_response_s": round(timing["after_last_response_s"], 2),
        "fetching_s": round(fetching, 1),
        "share_while_fetching": share(floor, fetching),
    }


def extract(
    shop_dir: Path, work: Path, *, faults: str | None, full_history: bool, extension: bool
) -> list[dict]:
    """One emulator + warehouse: optionally the full history up to D-1, then the increment of D-1."""
    from include.extract.storefront import extract_full_history, extract_storefront, mark_history_loaded
    from testbed.emulators.storefront_harness import StorefrontHarness

    manifest = json.loads((shop_dir / "manifest.json").read_text())
    end = datetime.fromisoformat(manifest["params"]["end_date"])
    d1 = datetime(end.year, end.month, end.day, tzinfo=KST)  # D 00:00: the end of D-1
    d0 = d1 - timedelta(days=1)
    client = {"increments": "extension"} if extension else {}
    rows = []
    with StorefrontHarness(shop_dir, work, d0, apis=("cafe24",), faults=faults, client=client) as h:
        os.environ.update(h.env)
        if full_history:
            full = extract_full_history(d0, source="cafe24", destination=h.warehouse, pipelines_dir=h.dlt_dir)
            rows.append(_summary("full history", faults, full, _rate_limited(h), _injected(h)))
            h.reset_stats()
        else:  # the history came from the export files (the file import, timed separately): read only D-1
            mark_history_loaded(d0, source="cafe24", destination=h.warehouse, pipelines_dir=h.dlt_dir)
        h.set_clock(d1)
        inc = extract_storefront(d0, d1, source="cafe24", destination=h.warehouse, pipelines_dir=h.dlt_dir)
        rows.append(_summary("nightly increment" + (" (extension)" if extension else ""), faults, inc,
                             _rate_limited(h), _injected(h)))  # fmt: skip
    return rows


def _rate_limited(h: Any) -> int:
    return sum(v for k, v in h.stats("cafe24.rate_limited").items())


def _injected(h: Any) -> int:
    return sum(v for k, v in h.stats("cafe24.fault.").items())


def projected_full_history(shop_dir: Path) -> dict[str, Any]:
    """Least requests (pages only, no counts or window splits) and hours a full history needs at 2 calls/s."""
    manifest = json.loads((shop_dir / "manifest.json").read_text())
    rows = manifest["rows"]
    pages = sum(math.ceil(rows[t] / size) for t, size in PAGE_SIZE.items())
    return {"pages_at_least": pages, "hours_at_least": round(max(pages - 40, 0) / 2 / 3600, 2)}


def run(
    shop_dir: Path, work: Path, scale: str, *, full_history: bool, snapshot: dict | None, faults: bool = True
) -> Section:
    """Clean and faulted runs; ``snapshot`` is the measured ``load_snapshot`` of the same shop (file import)."""
    import logging

    logging.getLogger("include").setLevel(logging.WARNING)
    sec = Section("extraction", scale)
    extension = not full_history  # at M the nightly increment uses the emulator's updated_date extension
    for spec in (None, FAULTS) if faults else (None,):
        tag = "faults" if spec else "clean"
        sec.rows += extract(shop_dir, work / tag, faults=spec, full_history=full_history, extension=extension)
    proj = projected_full_history(shop_dir)
    sec.facts = {"faults_spec": FAULTS, "projection": proj}
    if snapshot:
        sec.facts["file_import"] = snapshot
    if not full_history:
        sec.notes.append(
            f"full history not run: at least {proj['pages_at_least']:,} pages at 2 calls/s = "
            f"{proj['hours_at_least']} h by the bucket alone"
        )
    shown = [
        {**r, **{k: _three(r[k]) for k in ("share_of_ceiling", "share_while_fetching")}} for r in sec.rows
    ]
    print_table(f"[{scale}] extraction through the Cafe24 emulator (bucket 40 @ 2/s)", shown,
                ["run", "rows_landed", "requests", "elapsed_s", "records_per_s", "bucket_floor_s",
                 "share_of_ceiling", "server_429", "injected_faults", "retries"])  # fmt: skip
    print_table(f"[{scale}] where the extraction's time goes (s)", shown,
                ["run", "pacing_wait_s", "http_s", "dlt_extract_s", "waiting_for_pages_s", "dlt_normalize_s",
                 "dlt_load_s", "before_first_request_s", "after_last_response_s", "fetching_s",
                 "share_while_fetching"])  # fmt: skip
    if snapshot:
        print(f"  file import (load_snapshot): {snapshot['snapshot_rows']:,} rows in {snapshot['snapshot_s']} s "
              f"= {snapshot['snapshot_rows_per_s']:,} rows/s; projected API full history ≥ "
              f"{proj['hours_at_least']} h", flush=True)  # fmt: skip
    return sec


def _three(value: float | None) -> str | None:
    """A share as text with its three decimals (the tables' number format keeps two below 10)."""
    return None if value is None else f"{value:.3f}"
