"""Persistent state of the Solapi emulator (``<state_dir>/solapi.sqlite``): groups, messages, used signatures.

Message lifecycle (``phase``): ``rejected`` (1xxx at intake) · ``registered`` (2000, group not sent yet) ·
``queued`` (sent, 2000 until ``due_processing``) · ``processing`` (3000 until ``due_final``) · ``final``. The
simulated fate (``final_code``/``final_type``/``final_replacement``) is decided when the group is sent and
revealed when the simulated clock passes ``due_final``.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testbed.emulators.solapi_rules import KST
from testbed.emulators.state import StateDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    allow_duplicates INTEGER NOT NULL DEFAULT 0,
    app_id TEXT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    log TEXT NOT NULL DEFAULT '[]',
    scheduled_date TEXT,
    date_sent TEXT,
    date_completed TEXT,
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT UNIQUE NOT NULL,
    group_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    type TEXT NOT NULL,
    status_code TEXT NOT NULL,
    replacement INTEGER NOT NULL DEFAULT 0,
    dedup_key TEXT,
    phase TEXT NOT NULL,
    price INTEGER NOT NULL DEFAULT 0,
    sent_at TEXT,
    due_processing TEXT,
    due_final TEXT,
    final_code TEXT,
    final_type TEXT,
    final_replacement INTEGER,
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL,
    date_processed TEXT,
    date_reported TEXT,
    date_received TEXT
);
CREATE INDEX IF NOT EXISTS messages_group ON messages(group_id, seq);
CREATE INDEX IF NOT EXISTS messages_phase ON messages(phase, due_final);
CREATE INDEX IF NOT EXISTS messages_updated ON messages(date_updated);
CREATE TABLE IF NOT EXISTS signatures (signature TEXT PRIMARY KEY, used_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    customer_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    run_date TEXT NOT NULL,
    message_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    PRIMARY KEY (customer_id, campaign_id, run_date)
);
CREATE INDEX IF NOT EXISTS responses_group ON responses(group_id);
"""


def iso(dt: datetime) -> str:
    """Solapi's timestamp format: UTC, milliseconds, ``Z`` (``2020-09-09T05:23:20.969Z``)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    """Parses an ISO 8601 timestamp; a naive one is taken as KST (how Korean clients write dates)."""
    dt = datetime.fromisoformat(value.strip().replace(" ", "T"))
    return dt if dt.tzinfo else dt.replace(tzinfo=KST)


def new_id(prefix: str, now: datetime) -> str:
    """``M4V``/``G4V`` + KST timestamp + 15 random characters, 32 characters like the real ids."""
    return new_ids(prefix, now, 1)[0]


def new_ids(prefix: str, now: datetime, n: int) -> list[str]:
    """``n`` fresh ids sharing one timestamp (random part: 15 characters of A–Z, 2–7)."""
    stamp = prefix + now.astimezone(KST).strftime("%Y%m%d%H%M%S")
    raw = base64.b32encode(secrets.token_bytes(10 * n)).decode()
    return [stamp + raw[16 * i : 16 * i + 15] for i in range(n)]


class SolapiStore:
    """SQL access for the Solapi emulator; every method is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.db = StateDB(path, _SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- signatures -------------------------------------------------------------------------------------------
    def use_signature(self, signature: str, now: datetime, window_s: int) -> bool:
        """Records a signature; False when it was already used within ``window_s`` of ``now``."""
        from datetime import timedelta

        with self.db.tx() as conn:
            conn.execute(
                "DELETE FROM signatures WHERE used_at < ?", (iso(now - timedelta(seconds=2 * window_s)),)
            )
            row = conn.execute("SELECT used_at FROM signatures WHERE signature = ?", (signature,)).fetchone()
            if row is not None:
                used = parse_iso(row["used_at"])
                if abs((now - used).total_seconds()) < window_s:
                    return False
            conn.execute("INSERT OR REPLACE INTO signatures VALUES (?, ?)", (signature, iso(now)))
        return True

    # --- counters ---------------------------------------------------------------------------------------------
    def counter(self, name: str) -> int:
        rows = self.db.query("SELECT value FROM counters WHERE name = ?", (name,))
        return rows[0]["value"] if rows else 0

    def add_counter(self, conn: Any, name: str, delta: int) -> int:
        conn.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, delta),
        )
        return conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()["value"]

    # --- groups -----------------------------------------------------------------------------------------------
    def create_group(
        self, now: datetime, allow_duplicates: bool, app_id: str | None, custom_fields: dict
    ) -> str:
        group_id = new_id("G4V", now)
        log = [{"createAt": iso(now), "message": "메시지 그룹이 생성되었습니다."}]
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO groups(group_id, status, allow_duplicates, app_id, custom_fields, log, date_created,"
                " date_updated) VALUES (?, 'PENDING', ?, ?, ?, ?, ?, ?)",
                (
                    group_id,
                    int(allow_duplicates),
                    app_id,
                    json.dumps(custom_fields),
                    json.dumps(log),
                    iso(now),
                    iso(now),
                ),
            )
        return group_id

    def group(self, group_id: str) -> dict | None:
        rows = self.db.query("SELECT * FROM groups WHERE group_id = ?", (group_id,))
        return dict(rows[0]) if rows else None

    def update_group(
        self, group_id: str, now: datetime, log_message: str | None = None, **values: Any
    ) -> None:
        with self.db.tx() as conn:
            self._update_group(conn, group_id, now, log_message, **values)

    def _update_group(
        self, conn: Any, group_id: str, now: datetime, log_message: str | None, **values: Any
    ) -> None:
        values["date_updated"] = iso(now)
        if log_message:
            log = json.loads(
                conn.execute("SELECT log FROM groups WHERE group_id = ?", (group_id,)).fetchone()[0]
            )
            log.append({"createAt": iso(now), "message": log_message})
            values["log"] = json.dumps(log, ensure_ascii=False)
        sets = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE groups SET {sets} WHERE group_id = ?", (*values.values(), group_id))

    def list_groups(
        self, start_key: str | None, limit: int, status: str | None = None
    ) -> tuple[list[dict], str | None]:
        where, params = ["1=1"], []
        if status:
            where.append("status = ?")
            params.append(status)
        if start_key:
            where.append("seq >= COALESCE((SELECT seq FROM groups WHERE group_id = ?), 1e18)")
            params.append(start_key)
        rows = self.db.query(
            f"SELECT * FROM groups WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", (*params, limit + 1)
        )
        next_key = rows[limit]["group_id"] if len(rows) > limit else None
        return [dict(r) for r in rows[:limit]], next_key

    def group_counts(self, group_id: str) -> dict[str, Any]:
        row = self.db.query(
            """SELECT COUNT(*) AS total,
                 COALESCE(SUM(phase = 'rejected'), 0) AS registered_failed,
                 COALESCE(SUM(phase != 'rejected'), 0) AS registered_success,
                 COALESCE(SUM(phase IN ('queued', 'processing', 'final')), 0) AS sent_total,
                 COALESCE(SUM(phase = 'final' AND status_code = '4000'), 0) AS sent_success,
                 COALESCE(SUM(phase = 'final' AND status_code != '4000'), 0) AS sent_failed,
                 COALESCE(SUM(phase IN ('queued', 'processing')), 0) AS sent_pending,
                 COALESCE(SUM(phase = 'final' AND replacement = 1), 0) AS sent_replacement,
                 COALESCE(SUM(CASE WHEN phase IN ('queued', 'processing', 'final') THEN price END), 0) AS requested,
                 COALESCE(SUM(CASE WHEN phase = 'final' AND status_code != '4000' THEN price END), 0) AS refund
               FROM messages WHERE group_id = ?""",
            (group_id,),
        )[0]
        per_type = self.db.query(
            "SELECT type, COUNT(*) AS n FROM messages WHERE group_id = ? AND phase IN ('queued', 'processing', 'final')"
            " GROUP BY type",
            (group_id,),
        )
        return {**dict(row), "per_type": {r["type"]: r["n"] for r in per_type}}

    # --- messages ---------------------------------------------------------------------------------------------
    def dedup_keys(self, group_id: str) -> set[str]:
        rows = self.db.query(
            "SELECT dedup_key FROM messages WHERE group_id = ? AND phase != 'rejected' AND dedup_key IS NOT NULL",
            (group_id,),
        )
        return {r["dedup_key"] for r in rows}

    def message_count(self, group_id: str) -> int:
        return self.db.query("SELECT COUNT(*) AS n FROM messages WHERE group_id = ?", (group_id,))[0]["n"]

    def insert_messages(self, rows: list[dict], spend: int) -> None:
        """Inserts intake results; ``spend`` is added to the account's spent balance in the same transaction."""
        with self.db.tx() as conn:
            conn.executemany(
                "INSERT INTO messages(message_id, group_id, doc, type, status_code, dedup_key, phase, price,"
                " date_created, date_updated) VALUES (:message_id, :group_id, :doc, :type, :status_code, :dedup_key,"
                " :phase, :price, :date_created, :date_created)",
                rows,
            )
            if spend:
                self.add_counter(conn, "spent", spend)

    def registered(self, group_id: str) -> list[dict]:
        rows = self.db.query(
            "SELECT seq, message_id, doc, type FROM messages WHERE group_id = ? AND phase = 'registered'",
            (group_id,),
        )
        return [dict(r) for r in rows]

    def dispatch(self, group_id: str, updates: list[dict], sent_at: datetime) -> None:
        """Marks a group's registered messages as sent, with their decided fates and due times."""
        with self.db.tx() as conn:
            conn.executemany(
                "UPDATE messages SET phase = 'queued', sent_at = :sent_at, due_processing = :due_processing,"
                " due_final = :due_final, final_code = :final_code, final_type = :final_type,"
                " final_replacement = :final_replacement WHERE seq = :seq",
                updates,
            )
            self._update_group(
                conn, group_id, sent_at, "메시지 발송 접수", status="SENDING", date_sent=iso(sent_at)
            )

    def advance(self, now: datetime) -> list[dict]:
        """Reveals every status transition due by ``now``; returns messages that just became final."""
        stamp = iso(now)
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE messages SET phase = 'processing', status_code = '3000', date_processed = due_processing,"
                " date_updated = due_processing WHERE phase = 'queued' AND due_processing <= ? AND due_final > ?",
                (stamp, stamp),
            )
            due = conn.execute(
                "SELECT * FROM messages WHERE phase IN ('queued', 'processing') AND due_final <= ?", (stamp,)
            ).fetchall()
            conn.executemany(
                "UPDATE messages SET phase = 'final', status_code = final_code, type = final_type,"
                " replacement = final_replacement, date_processed = COALESCE(date_processed, due_processing),"
                " date_reported = due_final, date_received = CASE WHEN final_code = '4000' THEN due_final END,"
                " date_updated = due_final WHERE seq = ?",
                [(r["seq"],) for r in due],
            )
            done = conn.execute(
                "SELECT g.group_id, MAX(m.due_final) AS last FROM groups g JOIN messages m ON m.group_id = g.group_id"
                " WHERE g.status = 'SENDING' GROUP BY g.group_id"
                " HAVING SUM(m.phase IN ('queued', 'processing', 'registered')) = 0",
            ).fetchall()
            for g in done:
                last = parse_iso(g["last"]) if g["last"] else now
                self._update_group(
                    conn, g["group_id"], last, "발송 완료", status="COMPLETE", date_completed=iso(last)
                )
        final = []
        for r in due:
            item = dict(r)
            item.update(status_code=r["final_code"], type=r["final_type"], replacement=r["final_replacement"])
            final.append(item)
        return final

    def due_scheduled(self, now: datetime) -> list[dict]:
        rows = self.db.query(
            "SELECT group_id, scheduled_date FROM groups WHERE status = 'SCHEDULED' AND scheduled_date <= ?"
            " ORDER BY scheduled_date",
            (iso(now),),
        )
        return [dict(r) for r in rows]

    def list_messages(
        self, filters: list[tuple[str, str, Any]], start_key: str | None, limit: int
    ) -> tuple[list, Any]:
        """Messages matching ``(column, op, value)`` filters, oldest first, keyed by ``start_key``."""
        where, params = ["1=1"], []
        for column, op, value in filters:
            where.append(f"{column} {op} ?")
            params.append(value)
        if start_key:
            where.append("seq >= (SELECT seq FROM messages WHERE message_id = ?)")
            params.append(start_key)
        rows = self.db.query(
            f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", (*params, limit + 1)
        )
        next_key = rows[limit]["message_id"] if len(rows) > limit else None
        return [dict(r) for r in rows[:limit]], next_key

    def message_exists(self, message_id: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM messages WHERE message_id = ?", (message_id,)))

    # --- simulated customer responses (closed loop) ----------------------------------------------------------
    def claim_responses(self, items: list[dict]) -> None:
        """Stores decisions for (customer, campaign, run date) keys not seen before; first message wins."""
        with self.db.tx() as conn:
            taken: set[tuple[str, str, str]] = set()
            for campaign_id in {i["campaign_id"] for i in items}:
                rows = conn.execute(
                    "SELECT customer_id, run_date FROM responses WHERE campaign_id = ?", (campaign_id,)
                ).fetchall()
                taken |= {(r["customer_id"], campaign_id, r["run_date"]) for r in rows}
            fresh = []
            for item in items:
                key = (item["customer_id"], item["campaign_id"], item["run_date"])
                if key not in taken:
                    taken.add(key)
                    fresh.append(item)
            per_day: dict[str, list[dict]] = {}
            for item in fresh:
                decision = item["decision"]
                if decision.get("converted") and not decision.get("order_id"):
                    per_day.setdefault(decision["order_day"], []).append(decision)
            for day, decisions in per_day.items():
                last = self.add_counter(conn, "order:" + day, len(decisions))
                for n, decision in enumerate(decisions, start=last - len(decisions) + 1):
                    decision["order_id"] = f"{day}-9{n:06d}"
            conn.executemany(
                "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        i["customer_id"],
                        i["campaign_id"],
                        i["run_date"],
                        i["message_id"],
                        i["group_id"],
                        json.dumps(i["decision"], ensure_ascii=False),
                    )
                    for i in fresh
                ],
            )

    def group_responses(self, group_id: str) -> list[dict]:
        rows = self.db.query("SELECT * FROM responses WHERE group_id = ? ORDER BY message_id", (group_id,))
        return [{**dict(r), "decision": json.loads(r["decision"])} for r in rows]
