"""``generate_shop``: the whole synthetic shop, seeded and deterministic, written as Parquet tables + event drops."""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from testbed.shop import events as ev_mod
from testbed.shop.catalog import HERO_PRODUCT_NOS
from testbed.shop.members import make_members
from testbed.shop.orders import Catalog, lifecycle, make_orders, price_orders
from testbed.shop.people import Pools
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
FORMAT_VERSION = 1


def generate_shop(
    shop_dir: Path,
    drops_dir: Path,
    *,
    customers: int = 10_000,
    days: int = 90,
    end_date: date = date(2026, 11, 22),
    seed: int = 42,
) -> dict:
    """Generates the shop and its event drops; returns the manifest (also written to ``shop_dir/manifest.json``).

    Args:
        shop_dir: folder for the Parquet tables (``<table>.parquet``); previous tables and ``sim/`` files are replaced.
        drops_dir: folder for ``dt=YYYY-MM-DD/events-NNN.jsonl.gz`` (previous ``dt=`` folders are replaced).
        customers: number of members (guests come on top, ~15 % of orders).
        days: length of the event window ending on ``end_date`` (orders cover the members' whole ~3-year history).
        end_date: last KST day of the history.
        seed: everything derives from it; the same arguments give byte-identical files.
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be positive")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    shop_dir, drops_dir = Path(shop_dir), Path(drops_dir)
    _reset(shop_dir, drops_dir)
    tb = Timebase(end_date=end_date, days=days, history_days=HISTORY_DAYS)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]

    def lap(name: str, since: list[float] = [t_start]) -> None:  # noqa: B006 - a stopwatch
        now = time.perf_counter()
        timings[name] = round(now - since[0], 3)
        since[0] = now

    pools = Pools(seed)
    members = make_members(rngs[0], pools, tb, customers)
    subs = make_subscriptions(rngs[1], members, tb)
    cat = Catalog(tb)
    orders, n_guests = make_orders(rngs[2], members, subs, cat, tb)
    money = price_orders(rngs[3], orders, members, subs)
    lifecycle(rngs[4], orders, money)
    lap("orders")

    props = ev_mod.PropTable(cat)
    sessions = ev_mod.make_sessions(rngs[5], members, orders, tb, props, n_guests)
    events = ev_mod.expand(rngs[6], sessions, orders, members, cat, props)
    lap("sessions_events")

    mo = orders.member >= 0
    s_user, s_t = ev_mod.login_instants(sessions)
    login_owner = np.concatenate([orders.member[mo], s_user])
    login_t = np.concatenate([orders.t[mo], s_t])
    sub_order = np.full(len(subs), 0)
    sub_order[orders.sub[orders.sub >= 0]] = np.flatnonzero(orders.sub >= 0)
    tables: dict[str, pa.Table] = {
        "customers": customers_table(members, login_owner, login_t),
        "products": products_table(cat),
        "orders": orders_table(rngs[7], orders, members, money, n_guests, pools),
        "order_items": order_items_table(orders, cat),
        "reviews": reviews_table(rngs[8], orders, members, cat, tb),
        "subscriptions": subscriptions_table(subs, members, pc.take(orders.order_id, pa.array(sub_order))),
    }
    for name, table in tables.items():
        pq.write_table(table, shop_dir / f"{name}.parquet", compression="zstd", row_group_size=100_000)
    lap("write_tables")

    drop_counts = ev_mod.write_drops(
        rngs[9], events, sessions, orders, members, props, money["payment"], tb, drops_dir, seed
    )
    lap("write_drops")

    items = tables["order_items"]
    hero_share = float(
        pc.sum(pc.is_in(items["product_no"], pa.array(HERO_PRODUCT_NOS, pa.int64()))).as_py()
    ) / max(items.num_rows, 1)
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
        "rows": {name: t.num_rows for name, t in tables.items()},
        "guests": n_guests,
        "events": int(sum(drop_counts.values())),
        "drops": drop_counts,
        "hero_product_nos": list(HERO_PRODUCT_NOS),
        "hero_item_share": round(hero_share, 4),
        "timing_seconds": {**timings, "total": round(time.perf_counter() - t_start, 3)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    (shop_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    log.info("generated shop: %s", {k: manifest[k] for k in ("rows", "events", "timing_seconds")})
    return manifest


def _reset(shop_dir: Path, drops_dir: Path) -> None:
    """Removes a previous generation's outputs (tables, manifest, simulated orders, drops) before writing."""
    shop_dir.mkdir(parents=True, exist_ok=True)
    drops_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        (shop_dir / f"{name}.parquet").unlink(missing_ok=True)
    (shop_dir / "manifest.json").unlink(missing_ok=True)
    for stale in (shop_dir / "sim").glob("*.parquet"):
        stale.unlink()
    for folder in drops_dir.glob("dt=*"):
        shutil.rmtree(folder)
