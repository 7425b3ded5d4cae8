"""Fingerprints of a pipeline history, to prove that faults and crashes change nothing a customer or analyst sees.

A fingerprint has four parts:

- **warehouse**: every table of the schemas ``marts`` and ``audiences``: row count and an order-independent hash of
  all columns (sum of per-row hashes, so a duplicated or missing row changes it), plus a hash per column to name
  the culprit when two fingerprints differ. Excluded are the columns that record *when* or *under which provider
  id* something was loaded or sent, which legitimately differ between two correct histories (:data:`VOLATILE`).
  Doubles are rounded to 9 decimals (parallel aggregation may change the last bit).
- **messages**: what the Solapi emulator accepted (registered into a group that was sent or scheduled), keyed by
  ``customFields`` ``(campaign_id, customer_id, run_date)`` with type, text hash and fate; and the push/e-mail
  messages the webhook sink stored, keyed the same way.
- **channeltalk**: the Channel Talk users (member id → profile, tags, unsubscribe flags, event count).
- **intents**: the ledger's intents (idempotency key → status, reason, variant, assignment, send time, payload
  hash, provider status).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

SCHEMAS = ("marts", "audiences")
# Columns that say when or under which provider-assigned id something happened, not what happened. Solapi
# message/group ids are random per message (the real service does the same); a re-sent batch gets new ones.
VOLATILE = frozenset(
    {
        "_dlt_load_id",
        "_dlt_id",
        "load_id",
        "loaded_at",
        "dbt_updated_at",
        "dbt_valid_from",
        "dbt_valid_to",
        "dbt_scd_id",
    }
    | {"message_id", "group_id", "batch_id"}
)
# Per table: columns derived from a provider id. A simulated customer's click on a CRM message is an event whose
# insert id is derived from the Solapi message id, and it arrives in a drop file named after the Solapi group.
VOLATILE_BY_TABLE = {"marts.fct_events": frozenset({"event_id", "drop_file"})}
INTENT_FIELDS = (
    "status", "reason", "variant", "is_control", "is_holdout", "channel", "destination", "message_type",
    "held", "planned_send_at", "send_at", "recipient_hash", "provider_status_code", "replacement",
)  # fmt: skip
SENT_GROUP_STATES = ("SCHEDULED", "SENDING", "COMPLETE")


def _h(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()[:16]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def warehouse_fingerprint(path: Path) -> dict[str, dict[str, Any]]:
    """``{schema.table: {"rows": n, "hash": h, "columns": {col: h}}}`` for the marts and audiences."""
    import duckdb

    out: dict[str, dict[str, Any]] = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join('?' for _ in SCHEMAS)}) order by 1, 2",
            list(SCHEMAS),
        ).fetchall()
        for schema, table in tables:
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            exprs = []
            skip = VOLATILE | VOLATILE_BY_TABLE.get(f"{schema}.{table}", frozenset())
            for name, dtype in cols:
                if name in skip:
                    continue
                expr = _q(name)
                if dtype in ("DOUBLE", "FLOAT", "REAL"):
                    expr = f"round({expr}, 9)"
                exprs.append((name, expr))
            row = "hash(" + ", ".join(e for _, e in exprs) + ")"
            parts = [f"coalesce(sum({row}::HUGEINT), 0)"]
            parts += [f"coalesce(sum(hash({e})::HUGEINT), 0)" for _, e in exprs]
            values = con.execute(
                f"select count(*), {', '.join(parts)} from {_q(schema)}.{_q(table)}"
            ).fetchone()
            out[f"{schema}.{table}"] = {
                "rows": values[0],
                "hash": str(values[1]),
                "columns": {name: str(v) for (name, _), v in zip(exprs, values[2:], strict=True)},
            }
    finally:
        con.close()
    return out


def _sqlite_rows(path: Path, sql: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def solapi_messages(state_dir: Path) -> list[dict[str, Any]]:
    """Every message the Solapi emulator stored, with its group's status (read from the emulator's state file)."""
    path = state_dir / "solapi.sqlite"
    if not path.exists():
        return []
    rows = _sqlite_rows(
        path,
        "select m.*, g.status as group_status, g.scheduled_date from messages m join groups g using (group_id) "
        "order by m.seq",
    )
    for r in rows:
        r["doc"] = json.loads(r["doc"])
        r["custom"] = r["doc"].get("customFields") or {}
        r["key"] = (
            r["custom"].get("campaign_id"),
            r["custom"].get("customer_id"),
            r["custom"].get("run_date"),
        )
    return rows


def accepted(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages the provider took (passed intake) in a group that was sent or scheduled."""
    return [m for m in messages if m["phase"] != "rejected" and m["group_status"] in SENT_GROUP_STATES]


def webhook_messages(state_dir: Path) -> list[dict[str, Any]]:
    """Every push/e-mail message stored by the webhook sink (one hook may carry many)."""
    path = state_dir / "webhook.sqlite"
    if not path.exists():
        return []
    out = []
    for hook in _sqlite_rows(path, "select name, payload from hooks order by seq"):
        body = json.loads(hook["payload"])
        for m in body.get("messages", []):
            out.append({"name": hook["name"], "campaign_id": body.get("campaign_id"), **m})
    return out


def ledger_intents(ledger: Path) -> list[dict[str, Any]]:
    return _sqlite_rows(ledger, "select * from intents order by idempotency_key")


def ledger_batches(ledger: Path) -> list[dict[str, Any]]:
    return _sqlite_rows(ledger, "select * from batches")


def channeltalk_users(url: str) -> dict[str, Any]:
    users = requests.get(url + "/_emulator/users", timeout=30).json()["users"]
    return {
        u.get("memberId"): {
            "profile": u.get("profile"),
            "tags": sorted(u.get("tags") or []),
            "unsubscribeEmail": u.get("unsubscribeEmail"),
            "unsubscribeTexting": u.get("unsubscribeTexting"),
            "events": u.get("eventCount"),
        }
        for u in users
    }


@dataclass
class Fingerprint:
    """Everything compared between two histories (see the module docstring)."""

    warehouse: dict[str, dict[str, Any]]
    messages: dict[str, Any]
    webhook: dict[str, Any]
    channeltalk: dict[str, Any]
    intents: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)

    def diff(self, other: Fingerprint) -> list[str]:
        """Human-readable differences (empty when identical); names tables/columns/keys."""
        out: list[str] = []
        for name in sorted(set(self.warehouse) | set(other.warehouse)):
            a, b = self.warehouse.get(name), other.warehouse.get(name)
            if a is None or b is None:
                out.append(f"table {name}: only in {'second' if a is None else 'first'}")
            elif (a["rows"], a["hash"]) != (b["rows"], b["hash"]):
                cols = [c for c in a["columns"] if a["columns"][c] != b["columns"].get(c)]
                out.append(f"table {name}: rows {a['rows']} vs {b['rows']}, differing columns {cols[:8]}")
        for part in ("messages", "webhook", "channeltalk", "intents"):
            a, b = getattr(self, part), getattr(other, part)
            keys = sorted(set(a) | set(b), key=str)
            bad = [k for k in keys if a.get(k) != b.get(k)]
            if bad:
                samples = [(k, a.get(k), b.get(k)) for k in bad[:3]]
                out.append(f"{part}: {len(bad)} of {len(keys)} keys differ, e.g. {samples}")
        return out


def fingerprint(root: Path, emu: Any) -> Fingerprint:
    """The fingerprint of the scenario whose data folder is ``root`` and whose emulators are ``emu``."""
    state = Path(emu.ctx.state_dir)
    msgs = accepted(solapi_messages(state))
    per_key: dict[str, Any] = {}
    for m in msgs:
        per_key.setdefault("|".join(map(str, m["key"])), []).append(
            {
                "type": m["type"],
                "status": m["status_code"],
                "final": m["final_code"],
                "to": hashlib.sha256(str(m["doc"].get("to")).encode()).hexdigest()[:12],
                "text": _h(m["doc"].get("text")),
                "scheduled": m["scheduled_date"],
            }
        )
    hooks: dict[str, Any] = {}
    for m in webhook_messages(state):
        cf = m.get("custom_fields") or {}
        key = "|".join(map(str, (cf.get("campaign_id"), cf.get("customer_id"), cf.get("run_date"))))
        hooks.setdefault(key, []).append(_h({k: m.get(k) for k in ("name", "to", "send_at", "message")}))
    intents = {
        i["idempotency_key"]: {**{f: i[f] for f in INTENT_FIELDS}, "payload": _h(i["payload"])}
        for i in ledger_intents(root / "ledger.sqlite")
    }
    return Fingerprint(
        warehouse=warehouse_fingerprint(root / "warehouse.duckdb"),
        messages=per_key,
        webhook=hooks,
        channeltalk=channeltalk_users(emu.urls["channeltalk"]),
        intents=intents,
        counts={
            "messages": len(msgs),
            "webhook": sum(len(v) for v in hooks.values()),
            "intents": Counter(i["status"] for i in intents.values()),
            "channeltalk_users": None,
        },
    )
