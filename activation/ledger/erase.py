"""Erasing one customer from the send ledger (개인정보 보호법 §36 deletion requests), keeping what idempotency needs.

Every row stays — intents with their idempotency keys, statuses, counts and costs, batches, sync rows — so a rerun of
any date finds the same keys and sends nothing twice. What goes is the personal data: ``intents.recipient`` (the raw
address) is cleared and ``recipient_masked`` becomes the tombstone, the rendered ``payload`` and free-text fields lose
the customer's contacts and name, ``sync_state.state`` (the profile last written to the destination) is replaced by
``{"erased": true}``. Intents still waiting to be sent (planned, retry) are suppressed with reason ``erased``. The
customer ids and contact hashes are recorded as opt-outs (source ``erasure``): the planner, the audience exports and
every later campaign suppress them even when the storefront sends them again. The hashes (SHA-256 of the normalised
contact) are kept for that purpose only: they are how a suppression list recognises an address without holding it.

Deleted values can survive in free pages: SQLite is switched to ``secure_delete``, its WAL truncated and the file
vacuumed; on PostgreSQL the touched tables get ``VACUUM FULL`` (rewritten without the dead row versions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event, insert, or_, select, text, update

from activation.ledger import schema as s
from activation.ledger.store import Ledger, _w

TOMBSTONE = "[erased]"
ERASED_REASON = "erased"
SOURCE = "erasure"
_TABLES = ("intents", "sync_state", "opt_outs", "batches", "runs")


def scrub_text(value: str | None, needles: Iterable[str]) -> str | None:
    """``value`` with every needle (a contact in one of its stored forms, a name) replaced by the tombstone."""
    if not value:
        return value
    for needle in sorted({n for n in needles if n}, key=len, reverse=True):
        value = value.replace(needle, TOMBSTONE)
    return value


def _scrub_json(value: Any, needles: Iterable[str]) -> Any:
    """A JSON value with the needles replaced in every string (escaped Hangul is compared decoded)."""
    if isinstance(value, str):
        return scrub_text(value, needles)
    if isinstance(value, list):
        return [_scrub_json(v, needles) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v, needles) for k, v in value.items()}
    return value


def _scrub_payload(payload: str | None, needles: list[str]) -> str | None:
    if not payload:
        return payload
    try:
        data = json.loads(payload)
    except ValueError:
        return scrub_text(payload, needles)
    return json.dumps(_scrub_json(data, needles), ensure_ascii=False, sort_keys=True)


def erase_customer(
    ledger: Ledger,
    *,
    customer_ids: Iterable[str],
    contact_hashes: Iterable[str],
    needles: Iterable[str],
    at: datetime,
    dry_run: bool = False,
) -> dict[str, int]:
    """Erases a customer's personal data from ``ledger``; returns counts per table (idempotent).

    ``customer_ids``: the customer's ids (member id, customer id); ``contact_hashes``: :func:`hash_contact` of each of
    their contacts; ``needles``: the contacts in every stored form plus the names, replaced in free text.
    """
    ids, hashes = sorted(set(customer_ids)), sorted(set(contact_hashes))
    words = sorted({n for n in needles if n})
    counts = {"intents": 0, "intents_recipient_cleared": 0, "intents_suppressed": 0, "sync_state": 0}
    counts |= {"opt_outs_added": 0, "runs_scrubbed": 0, "batches_scrubbed": 0}
    sqlite = ledger.engine.dialect.name == "sqlite"
    if sqlite and not dry_run:
        event.listen(ledger.engine, "connect", _secure_delete)
        ledger.engine.dispose()  # new connections get the pragma
    try:
        with ledger.engine.connect() if dry_run else ledger.tx() as conn:
            if sqlite:
                conn.execute(text("PRAGMA secure_delete=ON"))
            _intents(conn, ids, hashes, words, at, counts, dry_run)
            _sync_state(conn, ids, at, counts, dry_run)
            _free_text(conn, words, counts, dry_run)
            if not dry_run:
                counts["opt_outs_added"] = _opt_outs(conn, ids, hashes, at)
    finally:
        if sqlite and not dry_run:
            event.remove(ledger.engine, "connect", _secure_delete)
    if not dry_run:
        _compact(ledger)
    return counts


def suppress_customer(
    ledger: Ledger, *, customer_ids: Iterable[str], contact_hashes: Iterable[str], at: datetime
) -> int:
    """Records the customer as an ``erasure`` opt-out (before anything is erased: suppressed whatever fails later)."""
    with ledger.tx() as conn:
        return _opt_outs(conn, sorted(set(customer_ids)), sorted(set(contact_hashes)), at)


def _secure_delete(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _intents(
    conn: Connection,
    ids: list[str],
    hashes: list[str],
    words: list[str],
    at: datetime,
    counts: dict,
    dry_run: bool,
) -> None:
    c = s.intents.c
    who = [c.customer_id.in_(ids), c.member_id.in_(ids)]
    if hashes:
        who.append(c.recipient_hash.in_(hashes))
    rows = conn.execute(
        select(
            c.intent_id,
            c.status,
            c.recipient,
            c.recipient_masked,
            c.payload,
            c.detail,
            c.provider_status_message,
        ).where(or_(*who))
    ).all()
    counts["intents"] = len(rows)
    for r in rows:
        values: dict[str, Any] = {}
        if r.recipient is not None:
            values["recipient"] = None
            counts["intents_recipient_cleared"] += 1
        if r.recipient_masked not in (None, TOMBSTONE):
            values["recipient_masked"] = TOMBSTONE
        if r.status in s.SENDABLE_STATUSES:
            values |= {
                "status": s.SUPPRESSED,
                "reason": ERASED_REASON,
                "detail": "erased on request (crm forget)",
            }
            counts["intents_suppressed"] += 1
        for col in ("payload", "detail", "provider_status_message"):
            old = values.get(col, getattr(r, col))
            new = _scrub_payload(old, words) if col == "payload" else scrub_text(old, words)
            if new != old:
                values[col] = new
        if values and not dry_run:
            conn.execute(
                update(s.intents).where(c.intent_id == r.intent_id).values(updated_at=_w(at), **values)
            )


def _sync_state(conn: Connection, ids: list[str], at: datetime, counts: dict, dry_run: bool) -> None:
    t = s.sync_state
    rows = conn.execute(select(t.c.sync_id, t.c.member_key, t.c.state).where(t.c.member_key.in_(ids))).all()
    todo = [r for r in rows if r.state != {"erased": True}]
    counts["sync_state"] = len(todo)
    for r in [] if dry_run else todo:
        conn.execute(
            update(t)
            .where(t.c.sync_id == r.sync_id, t.c.member_key == r.member_key)
            .values(state={"erased": True}, synced_at=_w(at))
        )


def _free_text(conn: Connection, words: list[str], counts: dict, dry_run: bool) -> None:
    """Run summaries and batch errors that quote a contact (a provider error message, a sample)."""
    if not words:
        return
    r = s.runs
    for row in conn.execute(select(r.c.run_id, r.c.kind, r.c.summary)).all():
        raw = json.dumps(row.summary, ensure_ascii=False)
        if any(w in raw for w in words):
            counts["runs_scrubbed"] += 1
            if not dry_run:
                conn.execute(
                    update(r)
                    .where(r.c.run_id == row.run_id, r.c.kind == row.kind)
                    .values(summary=_scrub_json(row.summary, words))
                )
    b = s.batches
    for row in conn.execute(select(b.c.batch_id, b.c.error).where(b.c.error.is_not(None))).all():
        new = scrub_text(row.error, words)
        if new != row.error:
            counts["batches_scrubbed"] += 1
            if not dry_run:
                conn.execute(update(b).where(b.c.batch_id == row.batch_id).values(error=new))


def _opt_outs(conn: Connection, ids: list[str], hashes: list[str], at: datetime) -> int:
    """One opt-out per customer id and per contact hash (ids derived from them, so a rerun adds none)."""
    o = s.opt_outs
    items = [{"customer_id": cid, "contact_hash": None, "key": f"customer:{cid}"} for cid in ids]
    items += [
        {"customer_id": ids[0] if ids else None, "contact_hash": h, "key": f"contact:{h}"} for h in hashes
    ]
    new = 0
    for item in items:
        oid = hashlib.sha256(f"{item.pop('key')}|{SOURCE}".encode()).hexdigest()
        if conn.execute(select(o.c.opt_out_id).where(o.c.opt_out_id == oid)).first():
            continue
        conn.execute(
            insert(o).values(
                opt_out_id=oid,
                source=SOURCE,
                detail="erased on request (crm forget)",
                learned_at=_w(at),
                **item,
            )
        )
        new += 1
    return new


def _compact(ledger: Ledger) -> None:
    """Makes the erased bytes unrecoverable from the database files (see the module docstring)."""
    dialect = ledger.engine.dialect.name
    with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif dialect == "postgresql":
            for table in _TABLES:
                conn.exec_driver_sql(f"VACUUM FULL {table}")
