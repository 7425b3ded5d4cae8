"""``generate_shop``: the whole synthetic shop, seeded and deterministic, written as Parquet tables + event drops.

The shop is generated one chunk of members at a time (``chunk_members``, whole blocks of
:data:`testbed.shop.blocks.BLOCK_MEMBERS`): a chunk's members, their orders, guests, sessions and events are drawn,
written (customers to their file, the other tables to chunk files, events appended to the day files) and dropped
before the next chunk, so memory stays about that of one chunk whatever the member count. A final pass sorts the
chunk files into the tables. Every random value comes from its member block's stream, so the same seed gives the
same shop for any chunk size (tables byte for byte; drop files hold the same lines per day, ordered by time within
each chunk's run).
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from testbed.shop import events as ev_mod
from testbed.shop.blocks import BLOCK_MEMBERS, BlockRng
from testbed.shop.catalog import HERO_PRODUCT_NOS
from testbed.shop.members import make_members
from testbed.shop.orders import Catalog, OrderNumbers, lifecycle, make_orders, price_orders
from testbed.shop.people import Pools
from testbed.shop.sink import RowGroupWriter, merge_chunks
from testbed.shop.subscriptions import make_subscriptions, subscriptions_table
from testbed.shop.tables import (
    customers_table,
    order_items_table,
    orders_table,
    products_table,
    reviews_table,
)
from testbed.shop.timebase import Timebase

log = logging.getLogger(__name__)

HISTORY_DAYS = 3 * 365
TABLES = ("customers", "products", "orders", "order_items", "reviews", "subscriptions")
CHUNKED_TABLES = ("orders", "order_items", "reviews", "subscriptions")
FORMAT_VERSION = (
    2  # 2: per-block random streams (chunked generation); a seed gives another shop than in version 1
)
# Peak memory follows a chunk's events (members × event days): 1.7 GB at 1M members with 90 days (2026-12-07),
# ~1.1 GB at 10M with 14 days, 1.5 GB in the final sort of 10M members' orders (DuckDB's share capped at 1 GB).
DEFAULT_CHUNK_MEMBERS = 100_000
_CHUNK_DIR = ".chunks"


def generate_shop(
    shop_dir: Path,
    drops_dir: Path,
    *,
    customers: int = 10_000,
    days: int = 90,
    end_date: date = date(2026, 11, 22),
    seed: int = 42,
    chunk_members: int = DEFAULT_CHUNK_MEMBERS,
) -> dict:
    """Generates the shop and its event drops; returns the manifest (also written to ``shop_dir/manifest.json``).

    Args:
        shop_dir: folder for the Parquet tables (``<table>.parquet``); previous tables and ``sim/`` files are replaced.
        drops_dir: folder for ``dt=YYYY-MM-DD/events-NNN.jsonl.gz`` (previous ``dt=`` folders are replaced).
        customers: number of members (guests come on top, ~15 % of orders).
        days: length of the event window ending on ``end_date`` (orders cover the members' whole ~3-year history).
        end_date: last KST day of the history.
        seed: everything derives from it; the same arguments give byte-identical files.
        chunk_members: members generated and written at a time (a multiple of ``BLOCK_MEMBERS``); bounds memory,
            does not change the tables. Drop files hold the same lines per day, time-sorted per chunk.
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be positive")
    if chunk_members < BLOCK_MEMBERS or chunk_members % BLOCK_MEMBERS:
        raise ValueError(f"chunk_members must be a positive multiple of {BLOCK_MEMBERS}")
    t_start = time.perf_counter()
    timings: dict[str, float] = defaultdict(float)
    shop_dir, drops_dir = Path(shop_dir), Path(drops_dir)
    _reset(shop_dir, drops_dir)
    chunk_dir = shop_dir / _CHUNK_DIR
    chunk_dir.mkdir()
    tb = Timebase(end_date=end_date, days=days, history_days=HISTORY_DAYS)

    def lap(name: str, since: list[float] = [t_start]) -> None:  # noqa: B006 - a stopwatch
        now = time.perf_counter()
        timings[name] += now - since[0]
        since[0] = now

    pools = Pools(seed)
    cat = Catalog(tb)
    props = ev_mod.PropTable(cat)
    numbers = OrderNumbers(tb)
    drops = ev_mod.DropWriter(drops_dir, seed, props)
    customers_out = RowGroupWriter(shop_dir / "customers.parquet")
    n_guests = n_visitors = hero_items = n_items = 0
    for chunk, first in enumerate(range(0, customers, chunk_members)):
        n = min(chunk_members, customers - first)
        rngs = BlockRng(seed, first // BLOCK_MEMBERS, -(-n // BLOCK_MEMBERS))
        members = make_members(rngs, pools, tb, first, n, customers)
        subs = make_subscriptions(rngs, members, tb)
        orders, guests = make_orders(rngs, members, subs, cat, tb, numbers, n_guests)
        money = price_orders(rngs, orders)
        lifecycle(rngs, orders, money)
        lap("orders")

        sessions = ev_mod.make_sessions(rngs, members, orders, tb, props, guests, n_visitors)
        events = ev_mod.expand(rngs, sessions, orders, members, cat, props)
        lap("sessions_events")

        mo = orders.member >= 0
        s_user, s_t = ev_mod.login_instants(sessions)
        login_owner = np.concatenate([orders.member[mo], s_user])
        login_t = np.concatenate([orders.t[mo], s_t])
        sub_order = np.full(len(subs), 0)
        sub_order[orders.sub[orders.sub >= 0]] = np.flatnonzero(orders.sub >= 0)
        customers_out.write(customers_table(members, login_owner, login_t))
        items = order_items_table(orders, cat)
        parts = {
            "orders": orders_table(rngs, orders, members, money, guests, pools, customers),
            "order_items": items,
            "reviews": reviews_table(rngs, orders, members, cat, tb),
            "subscriptions": subscriptions_table(
                subs, members, pc.take(orders.order_id, pa.array(sub_order))
            ),
        }
        for name, table in parts.items():
            # chunk files are read once by the final pass: fast compression is enough
            pq.write_table(table, chunk_dir / f"{name}-{chunk:05d}.parquet", compression="lz4")
        hero = pc.is_in(items["product_no"], pa.array(HERO_PRODUCT_NOS, pa.int64()))
        hero_items += int(pc.sum(hero).as_py() or 0)
        n_items += items.num_rows
        lap("write_tables")

        drops.write(rngs, events, sessions, orders, members, money["payment"], tb)
        n_guests += guests.n
        n_visitors += sessions.visitors
        del members, subs, orders, money, sessions, events, parts, items
        lap("write_drops")

    rows = {"customers": customers_out.close()}
    drop_counts = drops.close()
    lap("write_drops")
    pq.write_table(products_table(cat), shop_dir / "products.parquet", compression="zstd")
    rows["products"] = len(cat.no)
    for name in CHUNKED_TABLES:
        files = sorted(chunk_dir.glob(f"{name}-*.parquet"))
        rows[name] = merge_chunks(name, files, shop_dir / f"{name}.parquet", chunk_dir / "duckdb_tmp")
    shutil.rmtree(chunk_dir)
    lap("sort_tables")

    manifest = {
        "format_version": FORMAT_VERSION,
        "params": {
            "customers": customers,
            "days": days,
            "end_date": end_date.isoformat(),
            "seed": seed,
            "history_days": HISTORY_DAYS,
            "window_first_date": tb.window_first_date.isoformat(),
        },
        "rows": {name: rows[name] for name in TABLES},
        "guests": n_guests,
        "events": int(sum(drop_counts.values())),
        "drops": drop_counts,
        "hero_product_nos": list(HERO_PRODUCT_NOS),
        "hero_item_share": round(hero_items / max(n_items, 1), 4),
        "chunk_members": chunk_members,
        "timing_seconds": {
            **{k: round(v, 3) for k, v in timings.items()},
            "total": round(time.perf_counter() - t_start, 3),
        },  # fmt: skip
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    (shop_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    log.info("generated shop: %s", {k: manifest[k] for k in ("rows", "events", "timing_seconds")})
    return manifest


def _reset(shop_dir: Path, drops_dir: Path) -> None:
    """Removes a previous generation's outputs (tables, manifest, chunk files, simulated orders, drops) first."""
    shop_dir.mkdir(parents=True, exist_ok=True)
    drops_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        (shop_dir / f"{name}.parquet").unlink(missing_ok=True)
    (shop_dir / "manifest.json").unlink(missing_ok=True)
    shutil.rmtree(shop_dir / _CHUNK_DIR, ignore_errors=True)
    for stale in (shop_dir / "sim").glob("*.parquet"):
        stale.unlink()
    for folder in drops_dir.glob("dt=*"):
        shutil.rmtree(folder)
