"""Erasing one customer from the DuckDB warehouse: every table of every schema, updated in place, then the file rewritten.

Every base table is visited — the raw layer (``raw_cafe24``, ``raw_shopify``, ``raw_events``, ``raw_messaging``), dlt's
``*_staging`` copies of the last load, the quarantine (``raw_quarantine.records``), the quality results and every
dbt-built table (staging, intermediate, marts, audiences, snapshots); dbt views read those tables, so they follow. In a
row that belongs to the customer (an id column holds one of their ids, or a text column holds one of their contacts)
the personal columns (:data:`PERSONAL_COLUMNS`: name, phone, e-mail, address, birthday, gender) are set to NULL and a
quarantine row's payload to ``{"erased": true}``; in every row, any text column that quotes one of the contacts gets
the tombstone instead. The rows themselves (orders, events, segments) stay, without the personal data, so revenue and
counts do not change. A later ``dbt build`` rebuilds the marts from the scrubbed raw tables: no contact comes back.

DuckDB reuses freed blocks but does not wipe them, so after the updates the database is copied into a new file
(``COPY FROM DATABASE``) that replaces the old one: the erased values exist in no block of the file any more.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from activation.ledger.erase import TOMBSTONE

ID_COLUMNS = {"member_id", "customer_id", "user_id", "record_key", "customer__id", "member_key"}
PERSONAL_COLUMNS = {
    "name", "customer_name", "buyer_name", "first_name", "last_name", "receiver_name", "billing_name",
    "cellphone", "buyer_cellphone", "phone", "buyer_phone", "recipient_phone", "mobile", "to",
    "email", "buyer_email", "address", "address1", "address2", "default_address__address1",
    "default_address__address2", "zipcode", "birthday", "birth_date", "gender",
}  # fmt: skip
_TEXT = ("VARCHAR", "JSON")


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _in(col: str, values: list[str]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"cast({_q(col)} as varchar) in ({quoted})"


def _contains(col: str, needles: list[str]) -> str:
    return " or ".join(f"contains({_q(col)}, '{n.replace(chr(39), chr(39) * 2)}')" for n in needles)


def _tables(con: Any) -> list[tuple[str, str, list[tuple[str, str]]]]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_catalog = current_database() order by 1, 2"
    ).fetchall()
    out = []
    for schema, table in rows:
        cols = con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
            "and table_catalog = current_database() order by ordinal_position",
            [schema, table],
        ).fetchall()
        out.append((schema, table, cols))
    return out


def erase_in_warehouse(
    warehouse: Path, ids: set[str], contacts: set[str], *, dry_run: bool = False
) -> dict[str, dict[str, int]]:
    """Scrubs the customer from every table; returns ``{schema.table: {rows, personal_fields, text_values}}``."""
    import duckdb

    if not warehouse.exists():
        return {}
    id_list, needles = sorted(ids), sorted(contacts, key=len, reverse=True)
    report: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(warehouse), read_only=dry_run) as con:
        for schema, table, cols in _tables(con):
            name = f"{_q(schema)}.{_q(table)}"
            text_cols = [c for c, t in cols if t.upper().startswith(_TEXT)]
            id_cols = [c for c, _ in cols if c.lower() in ID_COLUMNS]
            if table == "customers" and any(c == "id" for c, _ in cols):
                id_cols.append("id")
            personal = [c for c, _ in cols if c.lower() in PERSONAL_COLUMNS]
            quarantine = schema == "raw_quarantine" and table == "records" and "payload" in text_cols
            owner = [_in(c, id_list) for c in id_cols if id_list]
            owner += [f"({_contains(c, needles)})" for c in text_cols if needles]
            if quarantine and id_list:  # a quarantined row's payload names its member id
                owner.append(f"({_contains('payload', [json.dumps(i) for i in id_list])})")
            if not owner:
                continue
            where = " or ".join(owner)
            (rows,) = con.execute(f"select count(*) from {name} where {where}").fetchone()
            if not rows:
                continue
            entry = {"rows": int(rows), "personal_fields": 0, "text_values": 0}
            if personal:
                filled = " + ".join(f"({_q(c)} is not null)::int" for c in personal)
                (entry["personal_fields"],) = con.execute(
                    f"select coalesce(sum({filled}), 0) from {name} where {where}"
                ).fetchone()
            for col in text_cols:
                if needles and col not in personal:
                    (n,) = con.execute(
                        f"select count(*) from {name} where {_contains(col, needles)}"
                    ).fetchone()
                    entry["text_values"] += int(n)
            entry = {k: int(v) for k, v in entry.items()}
            if entry["personal_fields"] or entry["text_values"] or quarantine:
                report[f"{schema}.{table}"] = entry
            if dry_run:
                continue
            sets = [f"{_q(c)} = NULL" for c in personal]
            if quarantine:
                sets.append("payload = '{\"erased\": true}'")
            if sets:
                con.execute(f"update {name} set {', '.join(sets)} where {where}")
            for col in text_cols:
                if col in personal or not needles or (quarantine and col == "payload"):
                    continue
                expr = _q(col)
                for n in needles:
                    expr = f"replace({expr}, '{n.replace(chr(39), chr(39) * 2)}', '{TOMBSTONE}')"
                con.execute(f"update {name} set {_q(col)} = {expr} where {_contains(col, needles)}")
        if not dry_run:
            con.execute("checkpoint")
    if not dry_run and report:
        rewrite(warehouse)
    return report


def rewrite(warehouse: Path) -> None:
    """Copies the database into a fresh file and swaps it in (no freed block of the old file survives)."""
    import duckdb

    fresh = warehouse.with_name(warehouse.name + ".erasing")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        src, dst = (str(p).replace("'", "''") for p in (warehouse, fresh))
        con.execute(f"attach '{src}' as {_q(warehouse.stem)} (read_only)")
        con.execute(f"attach '{dst}' as erasure_copy")
        con.execute(f"copy from database {_q(warehouse.stem)} to erasure_copy")
        con.execute("detach erasure_copy")
    finally:
        con.close()
    mode = warehouse.stat().st_mode & 0o777
    os.chmod(fresh, mode)
    os.replace(fresh, warehouse)
    Path(f"{warehouse}.wal").unlink(missing_ok=True)
