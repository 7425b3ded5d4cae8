"""Where the generator's chunks go: Parquet files with fixed row groups, and the final pass that sorts chunk files.

Customers come out in member (= sign-up) order chunk after chunk, so they go straight to their file. Orders, order
items, reviews and subscriptions span the whole history in every chunk; they are written as chunk files and merged
at the end by DuckDB, which sorts them by time with bounded memory (spilling to disk) and numbers what is numbered
shop-wide (``article_no``, ``subscription_id``). Both paths write row groups of exactly :data:`ROW_GROUP` rows, so a
file's bytes depend on its rows only, not on the chunk size.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 100_000  # the store's as-of queries skip row groups by time: files are sorted, groups stay small
SORT_MEMORY_LIMIT = "1GB"  # DuckDB's share while it sorts the chunk files; beyond it, it spills to disk


class RowGroupWriter:
    """Appends tables to one zstd Parquet file in row groups of exactly ``ROW_GROUP`` rows (the last may be shorter).

    The file is written under a temporary name and renamed by :meth:`close`, so a reader never sees half a table.
    """

    def __init__(self, path: Path, schema: pa.Schema | None = None) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._schema = schema
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self._schema is None:
            self._schema = table.schema
        self._pending.append(table.cast(self._schema))
        self._pending_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        buffered = pa.concat_tables(self._pending) if self._pending else self._schema.empty_table()
        full = buffered.num_rows // ROW_GROUP * ROW_GROUP
        cut = buffered.num_rows if final else full
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
        for start in range(0, cut, ROW_GROUP):
            # contiguous columns: page boundaries inside a row group must not depend on how rows were chunked
            group = buffered.slice(start, min(ROW_GROUP, cut - start)).combine_chunks()
            self._writer.write_table(group, row_group_size=ROW_GROUP)
        rest = buffered.slice(cut)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        self.rows += cut

    def close(self) -> int:
        """Writes the last (short) row group, renames the file into place; returns the number of rows."""
        if self._schema is None:
            raise ValueError(f"nothing was written to {self.path}")
        self._flush(final=True)
        self._writer.close()
        self._tmp.replace(self.path)
        return self.rows


# The final pass per table: SQL over the chunk files (``{files}``) in the table's order. ``article_no`` and
# ``subscription_id`` number the rows by time; a renewal finds its predecessor through the chunk keys.
FINAL_SQL: dict[str, str] = {
    "orders": "SELECT {columns} FROM {files} ORDER BY order_date, order_id",
    "order_items": "SELECT {columns} FROM {files} ORDER BY order_date, order_item_code",
    "reviews": """
        SELECT * REPLACE (row_number() OVER (ORDER BY created_date, order_id, product_no) AS article_no)
        FROM {files} ORDER BY article_no""",
    "subscriptions": """
        WITH s AS (
            SELECT * REPLACE ('SUB' || lpad(CAST(row_number() OVER (ORDER BY start_date, _key) AS VARCHAR), 8, '0')
                              AS subscription_id)
            FROM {files}
        )
        SELECT s.* EXCLUDE (_key, _prev_key) REPLACE (p.subscription_id AS previous_subscription_id)
        FROM s LEFT JOIN s AS p ON p._key = s._prev_key
        ORDER BY s.start_date, s._key""",
}


def merge_chunks(name: str, chunk_files: list[Path], out: Path, temp_dir: Path) -> int:
    """Writes table ``name`` to ``out`` from its chunk files (see :data:`FINAL_SQL`); returns its row count."""
    schema = pq.read_schema(chunk_files[0])
    schema = pa.schema([f for f in schema if not f.name.startswith("_")])
    files = "read_parquet([" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in chunk_files) + "])"
    sql = FINAL_SQL[name].format(columns=", ".join(f'"{c}"' for c in schema.names), files=files)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{SORT_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{str(temp_dir).replace(chr(39), chr(39) * 2)}'")
        con.execute("SET enable_progress_bar = false")
        writer = RowGroupWriter(out, schema)
        reader = con.sql(sql).to_arrow_reader(ROW_GROUP)
        for batch in reader:
            writer.write(pa.Table.from_batches([batch]).select(schema.names))
        return writer.close()
    finally:
        con.close()
