"""What the storefront emulators (Cafe24, Shopify) share: the shop as of the simulated clock, time formats, a leaky bucket.

:class:`ShopSnapshot` materialises each table of :class:`testbed.shop.ShopStore` as of ``ctx.clock.now()`` into a
DuckDB temp table the first time a request needs it, and again only when the clock moves or the messaging emulator
adds simulated orders; every page is then a cheap indexed slice of that snapshot. Rows come back as dicts with
timestamps already formatted the way the API sends them (KST ``YYYY-MM-DDTHH:MM:SS+09:00``).

:class:`LeakyBucket` is the per-shop call limit both APIs publish: a bucket of ``capacity`` calls draining
``drain_per_s`` calls per second of wall time (rate limits are about real request rates, not simulated time).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from include.core.timezone import KST

TABLES = ("customers", "products", "orders", "order_items", "reviews", "subscriptions")

# orders get their purchase-confirmation instant too (the as-of macro leaves it out; Cafe24 can filter on it).
_SNAPSHOT_SQL = {
    "orders": """
        SELECT o.*, CASE WHEN a.purchaseconfirmation_date <= $ts THEN a.purchaseconfirmation_date END
               AS purchaseconfirmation_date
        FROM orders_asof($ts) o
        LEFT JOIN (SELECT order_id, any_value(purchaseconfirmation_date) AS purchaseconfirmation_date
                   FROM orders_all GROUP BY order_id) a USING (order_id)""",
}


class ShopUnavailable(RuntimeError):
    """No generated shop in the emulator's shop folder."""


def kst(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS+09:00`` (Cafe24's and our Shopify shop's timestamp format)."""
    return value.astimezone(KST).strftime("%Y-%m-%dT%H:%M:%S+09:00")


def parse_api_time(raw: str, *, end: bool = False) -> datetime:
    """Parses a date filter: ``YYYY-MM-DD`` (start of day, or its last second when ``end``), or a datetime with or
    without offset (naive means KST). Raises ``ValueError`` on anything else."""
    text = raw.strip().replace(" ", "T", 1) if "T" not in raw else raw.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=KST)
        return start + timedelta(days=1, seconds=-1) if end else start
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=KST)


def add_months(value: datetime, months: int) -> datetime:
    """``value`` shifted by calendar months, the day clamped to the target month's length."""
    month = value.month - 1 + months
    year, month = value.year + month // 12, month % 12 + 1
    for day in (value.day, 30, 29, 28):
        try:
            return value.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")


class ShopSnapshot:
    """The generated shop as of the simulated clock, for paging endpoints (thread-safe, one DuckDB connection)."""

    def __init__(self, shop_dir: Path, clock: Callable[[], datetime]) -> None:
        self.shop_dir = Path(shop_dir)
        self.clock = clock
        self._lock = threading.RLock()
        self._store: Any = None
        self._con: Any = None
        self._built: dict[str, datetime] = {}

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _connect(self) -> Any:
        if self._con is None:
            from testbed.shop.store import ShopStore

            try:
                self._store = ShopStore(self.shop_dir)
            except FileNotFoundError as exc:
                raise ShopUnavailable(str(exc)) from exc
            self._con = self._store.connect(threads=2)
        elif self._store.refresh(self._con):
            self._built.clear()  # simulated orders arrived: every order snapshot is stale
        return self._con

    def _ensure(self, table: str, now: datetime) -> None:
        if self._built.get(table) == now:
            return
        body = _SNAPSHOT_SQL.get(table, f"SELECT * FROM {table}_asof($ts)")
        self._con.execute(f"CREATE OR REPLACE TEMP TABLE snap_{table} AS {body}", {"ts": now})
        self._built[table] = now

    def query(
        self, sql: str, params: dict[str, Any] | None = None, tables: tuple[str, ...] = TABLES
    ) -> list[dict]:
        """Runs ``sql`` over ``snap_<table>`` temp tables (built as of now); rows as API-formatted dicts."""
        with self._lock:
            con = self._connect()
            now = self.clock()
            for table in tables:
                self._ensure(table, now)
            cur = con.execute(sql, params or {})
            names = [d[0] for d in cur.description]
            return [
                {n: kst(v) if isinstance(v, datetime) else v for n, v in zip(names, row, strict=True)}
                for row in cur.fetchall()
            ]

    def scalar(self, sql: str, params: dict[str, Any] | None = None, tables: tuple[str, ...] = TABLES) -> Any:
        rows = self.query(sql, params, tables)
        return next(iter(rows[0].values())) if rows else None


class LeakyBucket:
    """A call-limit bucket: each call adds 1, the level drains ``drain_per_s`` per second; full means 429."""

    def __init__(self, capacity: int = 40, drain_per_s: float = 2.0) -> None:
        if capacity < 1 or drain_per_s <= 0:
            raise ValueError("bucket capacity must be >= 1 and drain rate > 0")
        self.capacity = capacity
        self.drain_per_s = drain_per_s
        self._level = 0.0
        self._t = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int, float]:
        """Adds one call if it fits: (accepted, level shown in the header, seconds until a slot frees)."""
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._t) * self.drain_per_s)
            self._t = now
            if self._level + 1 > self.capacity:
                wait = (self._level + 1 - self.capacity) / self.drain_per_s
                return False, self.capacity, wait
            self._level += 1
            return True, min(self.capacity, max(1, math.ceil(self._level - 1e-9))), 0.0
