"""``ShopStore``: the generated shop as of any instant, through DuckDB table macros over the Parquet files.

The Parquet tables hold each record's eventual state plus every lifecycle timestamp; the macros
``customers_asof(ts)``, ``products_asof(ts)``, ``orders_asof(ts)``, ``order_items_asof(ts)``, ``reviews_asof(ts)`` and
``subscriptions_asof(ts)`` return exactly the contract columns of :mod:`include.core.contracts` for the records that exist
at ``ts`` (a TIMESTAMPTZ), in the state they had then. Orders and order items written later by the messaging
emulator's closed-loop simulation (``shop_dir/sim/orders-*.parquet``, ``shop_dir/sim/order_items-*.parquet``, same
columns as the base files) are unioned in; :meth:`ShopStore.refresh` re-reads that folder on an open connection.

    store = ShopStore(shop_dir)
    con = store.connect()
    con.execute("SELECT * FROM orders_asof(?::TIMESTAMPTZ) WHERE updated_date >= ? ORDER BY order_id LIMIT 100",
                [as_of, since]).to_arrow_table()
"""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from include.core.contracts import (
    CAFE24_CUSTOMERS,
    CAFE24_ORDER_ITEMS,
    CAFE24_ORDERS,
    CAFE24_PRODUCTS,
    CAFE24_REVIEWS,
    CAFE24_SUBSCRIPTIONS,
)

# Columns a simulated order / order item file must carry (the base files have these and a few more).
SIM_ORDER_COLUMNS: tuple[str, ...] = (*CAFE24_ORDERS.columns, "purchaseconfirmation_date")
SIM_ORDER_ITEM_COLUMNS: tuple[str, ...] = (
    *CAFE24_ORDER_ITEMS.columns,
    "order_date",
    "payment_date",
    "shipbegin_date",
    "shipend_date",
    "purchaseconfirmation_date",
    "cancel_date",
    "refund_date",
)
# An order's last lifecycle step comes at most this long after its order_date (generator: payment ≤ 2 days,
# shipping ≤ 2 days, delivery ≤ 3 days, refund ≤ 6.5 days or confirmation 7 days after delivery → ≤ 14 days).
# ``orders_asof(ts, since := ...)`` relies on it to skip old row groups; simulated orders must respect it too.
MAX_ORDER_LIFECYCLE_DAYS = 35

_SOURCES = {
    "customers_asof": "customers_base",
    "products_asof": "products_base",
    "orders_asof": "orders_all",
    "reviews_asof": "reviews_base",
    "subscriptions_asof": "subscriptions_base",
}


def _at(col: str) -> str:
    """``col`` when it happened by ``ts``, else NULL."""
    return f"CASE WHEN {col} <= ts THEN {col} END"


_FLIP = "CASE {c}_initial WHEN 'T' THEN 'F' ELSE 'T' END"
_CHANNELS = {"sms": "sms", "news_mail": "news_mail", "kakao": "kakao_consent", "push": "push_consent",
             "night": "night_consent"}  # fmt: skip


def _customers_sql() -> str:
    values = ",\n".join(
        f"CASE WHEN {c}_changed_at <= ts THEN {_FLIP.format(c=c)} ELSE {c}_initial END AS {c}_v"
        for c in _CHANNELS
    )
    dates = ",\n".join(
        f"greatest(created_date, {_at(f'{c}_changed_at')}, CASE WHEN {c}_v = 'T' THEN {_at('reconsent_date')} END)"
        f" AS {c}_cdate_asof"  # not *_consent_date: the base table's final-state columns carry those names
        for c in _CHANNELS
    )
    changes = ", ".join(_at(f"{c}_changed_at") for c in _CHANNELS)
    return f"""
    SELECT member_id, name, cellphone, email, gender, birthday, address1, created_date,
           greatest(created_date, last_login, {_at("reconsent_date")}, {changes}) AS updated_date,
           last_login AS last_login_date,
           sms_v AS sms, news_mail_v AS news_mail,
           sms_cdate_asof AS sms_consent_date, news_mail_cdate_asof AS news_mail_consent_date,
           kakao_v AS kakao_consent, push_v AS push_consent, night_v AS night_consent,
           kakao_cdate_asof AS kakao_consent_date, push_cdate_asof AS push_consent_date,
           night_cdate_asof AS night_consent_date
    FROM (
      SELECT *, {dates}
      FROM (
        SELECT *, {values},
               CASE WHEN last_login_date <= ts THEN last_login_date  -- no login after ts: the stored maximum
                    ELSE coalesce(list_max(list_filter(login_dates, lambda x: x <= ts)), created_date) END AS last_login
        FROM customers_base WHERE created_date <= ts
      )
    )"""


_STATUS = """CASE WHEN cancel_date <= ts THEN 'C40' WHEN refund_date <= ts THEN 'R40'
         WHEN purchaseconfirmation_date <= ts THEN 'N50' WHEN shipend_date <= ts THEN 'N40'
         WHEN shipbegin_date <= ts THEN 'N30' WHEN payment_date <= ts THEN 'N10' ELSE 'N00' END"""
_LIFE = (
    "payment_date",
    "shipbegin_date",
    "shipend_date",
    "purchaseconfirmation_date",
    "cancel_date",
    "refund_date",
)

MACROS: dict[str, str] = {
    "customers_asof": _customers_sql(),
    "products_asof": f"""
    SELECT product_no, product_code, product_name, category_no, category_name,
           CASE WHEN price_changed_at <= ts OR price_changed_at IS NULL THEN price ELSE price_before END AS price,
           CASE WHEN discontinued_at <= ts THEN 'F' ELSE 'T' END AS display,
           CASE WHEN discontinued_at <= ts THEN 'F' ELSE 'T' END AS selling,
           created_date,
           greatest(created_date, {_at("price_changed_at")}, {_at("discontinued_at")}) AS updated_date
    FROM products_base WHERE created_date <= ts""",
    "orders_asof": f"""
    SELECT order_id, member_id, member_authentication, buyer_name, buyer_cellphone, buyer_email, order_date,
           {_at("payment_date")} AS payment_date, currency, order_price_amount, shipping_fee,
           coupon_discount_price, payment_amount, {_STATUS} AS order_status,
           CASE WHEN cancel_date <= ts THEN 'T' ELSE 'F' END AS canceled, {_at("cancel_date")} AS cancel_date,
           CASE WHEN refund_date <= ts THEN refund_amount ELSE 0 END AS refund_amount,
           {_at("refund_date")} AS refund_date, {_at("shipbegin_date")} AS shipbegin_date,
           {_at("shipend_date")} AS shipend_date, first_order, order_from_mobile, utm_campaign,
           greatest(order_date, {", ".join(_at(c) for c in _LIFE)}) AS updated_date
    FROM orders_all WHERE order_date <= ts""",
    "order_items_asof": f"""
    SELECT order_item_code, order_id, product_no, product_name, quantity, product_price, {_STATUS} AS order_status
    FROM order_items_all WHERE order_date <= ts""",
    "reviews_asof": """
    SELECT article_no, board_no, product_no, member_id, order_id, rating, created_date,
           CASE WHEN updated_date <= ts THEN updated_date ELSE created_date END AS updated_date
    FROM reviews_base WHERE created_date <= ts""",
    "subscriptions_asof": f"""
    SELECT subscription_id, member_id, product_no,
           CASE WHEN cancel_date <= ts THEN 'cancelled' WHEN end_date <= ts THEN 'expired' ELSE 'active' END
             AS subscription_state,
           delivery_cycle, total_delivery_count,
           CAST(len(list_filter(delivery_dates, lambda d: d <= ts)) AS BIGINT) AS used_delivery_count,
           auto_renewal, start_date, end_date, created_date,
           greatest(created_date, list_max(list_filter(delivery_dates, lambda d: d <= ts)),
                    {_at("cancel_date")}, {_at("end_date")}) AS updated_date
    FROM subscriptions_base WHERE created_date <= ts""",
}

CONTRACTS = {
    "customers_asof": CAFE24_CUSTOMERS,
    "products_asof": CAFE24_PRODUCTS,
    "orders_asof": CAFE24_ORDERS,
    "order_items_asof": CAFE24_ORDER_ITEMS,
    "reviews_asof": CAFE24_REVIEWS,
    "subscriptions_asof": CAFE24_SUBSCRIPTIONS,
}


class ShopStore:
    """Read access to a generated shop folder (see module docstring)."""

    def __init__(self, shop_dir: Path, *, customers_in_memory: bool = True) -> None:
        """``customers_in_memory=False`` reads customers from their Parquet file on every query instead of copying
        them into memory first: slower for many queries, but a one-pass read of a 10M-member shop (a snapshot load)
        then needs no memory for them."""
        self.shop_dir = Path(shop_dir)
        self.customers_in_memory = customers_in_memory
        if not (self.shop_dir / "orders.parquet").exists():
            raise FileNotFoundError(
                f"no generated shop in {self.shop_dir} (run: python -m testbed.shop generate)"
            )
        self._lock = threading.RLock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._sim_seen: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @cached_property
    def manifest(self) -> dict:
        """The generator's manifest (params, row counts, hero products, timings)."""
        return json.loads((self.shop_dir / "manifest.json").read_text())

    @property
    def sim_dir(self) -> Path:
        return self.shop_dir / "sim"

    def connect(self, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
        """A connection (TimeZone ``Asia/Seoul``) to the store's in-memory DuckDB database with the as-of macros.

        All connections of one store share that database: the first call builds it (customers are copied into
        memory, ~4 s at 1M members, since their as-of state needs every row, unless ``customers_in_memory`` is
        off; the other tables stay Parquet views),
        later calls are cheap cursors, safe to use one per thread. Close them when done; :meth:`close` frees all.
        ``threads`` caps DuckDB's worker threads for the shared database.
        """
        with self._lock:
            if self._db is None:
                self._db = self._build()
            if threads:
                self._db.execute(f"SET threads = {int(threads)}")
            con = self._db.cursor()
        con.execute("SET TimeZone = 'Asia/Seoul'")
        self.refresh(con)
        return con

    def _build(self) -> duckdb.DuckDBPyConnection:
        db = duckdb.connect()
        db.execute("SET TimeZone = 'Asia/Seoul'")
        db.execute("SET enable_progress_bar = false")
        kind = "TABLE" if self.customers_in_memory else "VIEW"
        db.execute(f"CREATE {kind} customers_base AS SELECT * FROM read_parquet('{self._path('customers')}')")
        for name in ("products", "reviews", "subscriptions"):
            db.execute(f"CREATE VIEW {name}_base AS SELECT * FROM read_parquet('{self._path(name)}')")
        self._sim_seen = None
        self.refresh(db, force=True)
        for name, body in MACROS.items():
            if name == "order_items_asof":
                db.execute(f"CREATE MACRO {name}(ts) AS TABLE {body}")
                continue
            # ``since``: only rows whose updated_date (as of ts) is >= since. The stored updated_date is the
            # eventual one (>= the as-of one), so filtering on it first lets the scan skip most rows.
            source = _SOURCES[name]
            pre = "(since IS NULL OR updated_date IS NULL OR updated_date >= since)"
            if name == "orders_asof":
                pre += (
                    " AND (since IS NULL OR order_date >= "
                    f"CAST(since AS TIMESTAMPTZ) - INTERVAL {MAX_ORDER_LIFECYCLE_DAYS} DAY)"
                )
            body = body.replace(f"FROM {source} WHERE", f"FROM {source} WHERE {pre} AND", 1)
            db.execute(
                f"CREATE MACRO {name}(ts, since := NULL) AS TABLE "
                f"SELECT * FROM ({body}) WHERE since IS NULL OR updated_date >= since"
            )
        return db

    def refresh(self, con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
        """Re-points ``orders_all`` / ``order_items_all`` at the current ``sim/`` files; True when they changed.

        :meth:`connect` calls it, so a new connection always sees the latest simulated orders; a long-lived one
        can call it again.
        """
        orders = tuple(sorted(str(p) for p in self.sim_dir.glob("orders-*.parquet")))
        items = tuple(sorted(str(p) for p in self.sim_dir.glob("order_items-*.parquet")))
        with self._lock:
            if not force and self._sim_seen == (orders, items):
                return False
            self._sim_seen = (orders, items)
            con.execute(
                f"CREATE OR REPLACE VIEW orders_all AS {self._union('orders', orders, SIM_ORDER_COLUMNS)}"
            )
            con.execute(f"CREATE OR REPLACE VIEW order_items_all AS {self._items_union(items, orders)}")
            return True

    def close(self) -> None:
        """Closes the shared database (connections from :meth:`connect` stop working)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _path(self, name: str) -> str:
        return str(self.shop_dir / f"{name}.parquet").replace("'", "''")

    def _union(self, name: str, sim_files: tuple[str, ...], columns: tuple[str, ...]) -> str:
        sql = f"SELECT {', '.join(columns)} FROM read_parquet('{self._path(name)}')"
        if sim_files:
            sql += f" UNION ALL SELECT {_select_list(sim_files, columns)} FROM {_read(sim_files)}"
        return sql

    def _items_union(self, sim_items: tuple[str, ...], sim_orders: tuple[str, ...]) -> str:
        """Base items plus simulated ones; a simulated item's missing lifecycle comes from its simulated order."""
        sql = self._union("order_items", (), SIM_ORDER_ITEM_COLUMNS)
        if not sim_items:
            return sql
        if not sim_orders:
            return self._union("order_items", sim_items, SIM_ORDER_ITEM_COLUMNS)
        life = SIM_ORDER_ITEM_COLUMNS[len(CAFE24_ORDER_ITEMS.columns) :]
        own = ", ".join(f"i.{c}" for c in CAFE24_ORDER_ITEMS.columns)
        filled = ", ".join(f"coalesce(i.{c}, o.{c}) AS {c}" for c in life)
        return (
            f"{sql} UNION ALL SELECT {own}, {filled} "
            f"FROM (SELECT {_select_list(sim_items, SIM_ORDER_ITEM_COLUMNS)} FROM {_read(sim_items)}) AS i "
            f"LEFT JOIN (SELECT {_select_list(sim_orders, ('order_id', *life))} FROM {_read(sim_orders)}) AS o "
            "USING (order_id)"
        )

    def query_asof(self, table: str, ts, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """Whole table ``table`` (``customers`` …) as of ``ts`` as an Arrow table (convenience for tests/exports)."""
        own = con is None
        con = con or self.connect()
        try:
            return con.sql(
                f"SELECT * FROM {table}_asof(CAST($ts AS TIMESTAMPTZ))", params={"ts": ts}
            ).to_arrow_table()
        finally:
            if own:
                con.close()


_SQL_TYPES = {"text": "VARCHAR", "bigint": "BIGINT", "timestamp": "TIMESTAMPTZ"}
_KNOWN_TYPES = {**CAFE24_ORDERS.columns, **CAFE24_ORDER_ITEMS.columns}


def _read(files: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{quoted}], union_by_name = true)"


def _select_list(files: tuple[str, ...], columns: tuple[str, ...]) -> str:
    """``columns`` as a select list over ``files``; a column no file has becomes a typed NULL."""
    present: set[str] = set()
    for f in files:
        present.update(pq.read_schema(f).names)
    out = []
    for c in columns:
        if c in present:
            out.append(c)
        else:
            out.append(f"CAST(NULL AS {_SQL_TYPES[_KNOWN_TYPES.get(c, 'timestamp')]}) AS {c}")
    return ", ".join(out)


def write_sim_orders(shop_dir: Path, name: str, orders: pa.Table, items: pa.Table) -> tuple[Path, Path]:
    """Writes a simulated batch as ``sim/orders-<name>.parquet`` + ``sim/order_items-<name>.parquet``.

    ``orders`` needs :data:`SIM_ORDER_COLUMNS`; ``items`` needs the contract item columns; lifecycle columns of
    :data:`SIM_ORDER_ITEM_COLUMNS` missing from ``items`` are copied from the item's order. Files are written to a
    temporary name and renamed, so a reader never sees half a file.
    """
    missing = [c for c in SIM_ORDER_COLUMNS if c not in orders.column_names]
    if missing:
        raise ValueError(f"simulated orders lack columns {missing}")
    life = [c for c in SIM_ORDER_ITEM_COLUMNS if c not in items.column_names]
    if life:  # an item shares its order's lifecycle (a missing refund_date means: refunded with its order)
        items = items.join(orders.select(["order_id", *life]), "order_id", join_type="left outer")
    missing = [c for c in SIM_ORDER_ITEM_COLUMNS if c not in items.column_names]
    if missing:
        raise ValueError(f"simulated order items lack columns {missing}")
    sim = Path(shop_dir) / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    out = []
    for prefix, table, cols in (
        ("orders", orders, SIM_ORDER_COLUMNS),
        ("order_items", items, SIM_ORDER_ITEM_COLUMNS),
    ):
        path = sim / f"{prefix}-{name}.parquet"
        tmp = sim / f".{prefix}-{name}.parquet.tmp"
        pq.write_table(table.select(list(cols)), tmp)
        tmp.replace(path)
        out.append(path)
    return out[0], out[1]
