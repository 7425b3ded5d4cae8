"""Who reached a campaign's goal after its first message (for exit-on-conversion), from the warehouse.

Sources are configured in ``settings.yml`` (``conversions``): ``purchase`` reads the orders mart, ``default`` reads
the events mart filtered by ``event_type``. Warehouse timestamps are KST local (staging converts everything), so
message times are compared in KST.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from activation.config.models import ConversionSource
from activation.schedule import KST


class ConversionError(RuntimeError):
    """The goal's source table is not configured or cannot be read."""


class ConversionLookup:
    """Reads conversions from a DuckDB warehouse (read-only)."""

    def __init__(self, warehouse: str | Path, sources: dict[str, ConversionSource]) -> None:
        self.warehouse = Path(warehouse)
        self.sources = sources

    def converted(self, event: str, since: dict[str, datetime], until: datetime) -> set[str]:
        """Customers in ``since`` with a ``event`` conversion at or after their own time and before ``until``."""
        if not since:
            return set()
        src = self.sources.get(event) or self.sources.get("default")
        if src is None:
            raise ConversionError(
                f"no conversion source for goal '{event}' (add it under conversions in settings.yml)"
            )
        import duckdb

        if not self.warehouse.exists():
            raise ConversionError(f"warehouse {self.warehouse} does not exist")
        schema, table = src.table.split(".")
        try:
            con = duckdb.connect(str(self.warehouse), read_only=True)
        except duckdb.Error as exc:
            raise ConversionError(f"cannot open warehouse {self.warehouse}: {exc}") from exc
        try:
            cols = dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            )
            needed = [src.customer_column, src.time_column] + ([src.event_column] if src.event_column else [])
            missing = [c for c in needed if c not in cols]
            if not cols or missing:
                raise ConversionError(
                    f"conversion source {src.table} is missing or lacks columns {missing or needed}"
                )
            aware = "TIME ZONE" in cols[src.time_column].upper()

            def ts(at: datetime) -> datetime:
                local = at.astimezone(KST)
                return local if aware else local.replace(tzinfo=None)

            lower = ts(min(since.values()))
            sql = (
                f'select "{src.customer_column}", max("{src.time_column}") from "{schema}"."{table}" '
                f'where "{src.time_column}" >= ? and "{src.time_column}" < ?'
            )
            params: list = [lower, ts(until)]
            if src.event_column:
                sql += f' and "{src.event_column}" = ?'
                params.append(event)
            rows = con.execute(sql + " group by 1", params).fetchall()
        except ConversionError:
            raise
        except duckdb.Error as exc:
            raise ConversionError(f"reading conversions from {src.table} failed: {exc}") from exc
        finally:
            con.close()
        out = set()
        for customer_id, last in rows:
            first = since.get(customer_id)
            if first is None or last is None:
                continue
            if last.tzinfo is None:
                last = last.replace(tzinfo=KST)
            if last >= first:
                out.add(customer_id)
        return out
