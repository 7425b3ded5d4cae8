"""The send ledger: every read and write the planner, sender and sync make, each a short transaction.

Crash safety comes from the order of commits, not from luck: intents are committed before any API call; a batch's
intents are marked ``sending`` with the batch id in one transaction; the provider's group id is committed before
any message is added to the group; per-message results are committed as they come back. Timestamps are the
run's reference time, passed in by the caller, never ``now()``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, event, func, insert, inspect, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from activation.intent import Intent
from activation.ledger import schema as s

log = logging.getLogger(__name__)
_CHUNK = 500
_INTENT_TIMES = ("planned_send_at", "send_at", "created_at", "updated_at")  # the timestamps of an Intent


class LedgerBusyError(RuntimeError):
    """Another process holds the ledger lock (a send or sync is already running)."""


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime from what the database returned (SQLite hands back naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _w(value: datetime | None) -> datetime | None:
    """What is written: UTC (naive for SQLite is fine: it is always UTC here)."""
    return None if value is None else as_utc(value)


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def make_engine(url: str) -> Engine:
    """An engine for the ledger URL; SQLite gets WAL, full sync and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(
                "PRAGMA cache_size=-65536"
            )  # 64 MiB of pages (the default 2 MiB re-reads the indexes)
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Ledger:
    """Access to the ledger database at ``url`` (tables are created when missing)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        for attempt in range(5):  # two processes may create a new ledger at the same moment
            try:
                s.metadata.create_all(self.engine)
                break
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
        self._upgrade()

    def _upgrade(self) -> None:
        """Adds the columns and indexes of newer releases to a ledger created by an older one (``create_all`` only
        creates missing tables). Each step is idempotent, so two processes opening an old ledger at once are safe."""
        have = {c["name"] for c in inspect(self.engine).get_columns("intents")}
        for name, ddl in s.INTENT_COLUMNS_ADDED:
            if name in have:
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE intents ADD COLUMN {name} {ddl}"))
            except DBAPIError:
                # another process added it first
                if name not in {c["name"] for c in inspect(self.engine).get_columns("intents")}:
                    raise
        for index in s.intents.indexes:
            index.create(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def exclusive(self, name: str, timeout_s: float = 900.0) -> Iterator[None]:
        """Holds a ledger-wide lock while planning and sending (or syncing): one writer at a time.

        PostgreSQL: a session advisory lock; SQLite: ``flock`` on a file beside the database. Both are released by
        the operating system or the server when the process dies, so a killed run never leaves a stale lock.
        """
        deadline = time.monotonic() + timeout_s
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            conn = self.engine.connect()
            try:
                while not conn.execute(select(func.pg_try_advisory_lock(key))).scalar():
                    conn.commit()
                    if time.monotonic() > deadline:
                        raise LedgerBusyError(f"ledger lock '{name}' still held after {timeout_s:.0f}s")
                    time.sleep(0.2)
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(select(func.pg_advisory_unlock(key)))
                    conn.commit()
            finally:
                conn.close()
            return
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield
            return
        path = Path(f"{database}.{name}.lock")
        with open(path, "a+b") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LedgerBusyError(
                            f"ledger lock '{name}' still held after {timeout_s:.0f}s"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def tx(self) -> Any:
        """A transaction (``with ledger.tx() as conn``), committed when the block ends without error."""
        return self.engine.begin()

    # ---- reads used by the planner ----------------------------------------------------------------------------
    def intents_for_run(self, run_date: date, campaign_ids: Iterable[str] | None = None) -> list[Intent]:
        """Every intent of a run date (optionally only some campaigns)."""
        q = select(s.intents).where(s.intents.c.run_date == run_date)
        if campaign_ids is not None:
            q = q.where(s.intents.c.campaign_id.in_(list(campaign_ids)))
        with self.engine.connect() as conn:
            return [
                self._row(r)
                for r in conn.execute(q.order_by(s.intents.c.campaign_id, s.intents.c.customer_id))
            ]

    def decisions_for_run(self, run_date: date, campaign_ids: Iterable[str]) -> list[Any]:
        """The columns a run summary counts (campaign, status, reason, variant, message type, held, cost) of every
        intent of a run date's campaigns, as rows with attribute access: no payloads decoded, no records built."""
        c = s.intents.c
        q = select(c.campaign_id, c.status, c.reason, c.variant, c.message_type, c.held, c.cost_krw).where(
            c.run_date == run_date, c.campaign_id.in_(list(campaign_ids))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Which idempotency keys already have an intent."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for part in _chunks(list(keys)):
                q = select(s.intents.c.idempotency_key).where(s.intents.c.idempotency_key.in_(part))
                found.update(conn.execute(q).scalars())
        return found

    def cap_events(self, since: datetime, until: datetime) -> list[dict]:
        """Messages that count for frequency caps with a send time in ``[since, until]``."""
        c = s.intents.c
        q = select(c.customer_id, c.campaign_id, c.message_kind, c.send_at, c.run_date, c.status).where(
            c.status.in_(s.CAP_STATUSES), c.send_at >= _w(since), c.send_at <= _w(until)
        )
        with self.engine.connect() as conn:
            return [{**r._mapping, "send_at": as_utc(r.send_at)} for r in conn.execute(q)]

    def reservations(self, run_date: date) -> list[dict]:
        """(customer, campaign) pairs already holding a slot of the run date."""
        c = s.intents.c
        q = select(c.customer_id, c.campaign_id).where(
            c.run_date == run_date, c.status.in_(s.RESERVING_STATUSES)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def first_sent(self, campaign_id: str) -> dict[str, datetime]:
        """Customer → time of the first message of the campaign that reached the provider."""
        c = s.intents.c
        q = (
            select(c.customer_id, func.min(c.send_at))
            .where(c.campaign_id == campaign_id, c.status.in_((s.ACCEPTED, s.DELIVERED)))
            .group_by(c.customer_id)
        )
        with self.engine.connect() as conn:
            return {cid: as_utc(at) for cid, at in conn.execute(q)}  # type: ignore[misc]

    def entries(self, campaign_id: str, step: str) -> dict[str, list[tuple[str | None, datetime]]]:
        """Customer → the campaign step's entries (re-entry key, planned send time), oldest first: intents in
        :data:`activation.ledger.schema.ENTRY_STATUSES` of every run date."""
        c = s.intents.c
        q = (
            select(c.customer_id, c.reentry_key, c.planned_send_at)
            .where(c.campaign_id == campaign_id, c.step == step, c.status.in_(s.ENTRY_STATUSES))
            .order_by(c.customer_id, c.planned_send_at)
        )
        out: dict[str, list[tuple[str | None, datetime]]] = {}
        with self.engine.connect() as conn:
            for cid, key, at in conn.execute(q):
                out.setdefault(cid, []).append((key, as_utc(at)))  # type: ignore[arg-type]
        return out

    def opt_out_keys(self) -> tuple[set[str], set[str]]:
        """Customer ids and contact hashes with a learned opt-out."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.opt_outs.c.customer_id, s.opt_outs.c.contact_hash)).all()
        return {r[0] for r in rows if r[0]}, {r[1] for r in rows if r[1]}

    # ---- writes -------------------------------------------------------------------------------------------------
    def insert_intents(self, intents: list[Intent]) -> int:
        """Inserts new intents (all in one transaction); keys that already exist are left untouched.

        ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING`` in statements of 1,000 rows: no read of the existing
        keys first (a 1M-member plan read them back 500 at a time)."""
        if not intents:
            return 0
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        stmt = dialect_insert(s.intents).on_conflict_do_nothing(index_elements=["idempotency_key"])
        written = 0
        with self.tx() as conn:
            for part in _chunks(intents, 1000):
                written += conn.execute(stmt, [self._prep(i) for i in part]).rowcount
        return written

    @staticmethod
    def _prep(intent: Intent) -> dict:
        """The insert values of an intent: timestamps as UTC, the payload as JSON."""
        out = intent.as_row()
        for key in _INTENT_TIMES:
            out[key] = _w(out[key])
        if isinstance(out.get("payload"), dict):
            out["payload"] = json.dumps(out["payload"], ensure_ascii=False, sort_keys=True)
        return out

    @staticmethod
    def _row(r: Any) -> Intent:
        """The :class:`Intent` of an ``intents`` row: timestamps aware UTC, the payload decoded."""
        d = dict(r._mapping)
        for key in _INTENT_TIMES:
            d[key] = as_utc(d[key])
        if d.get("payload"):
            d["payload"] = json.loads(d["payload"])
        return Intent.from_row(d)

    def update_intent(self, conn: Connection, intent_id: str, at: datetime, **values: Any) -> None:
        """Updates one intent inside ``conn``'s transaction, stamping ``updated_at``."""
        values = {k: (_w(v) if isinstance(v, datetime) else v) for k, v in values.items()}
        if isinstance(values.get("payload"), dict):
            values["payload"] = json.dumps(values["payload"], ensure_ascii=False, sort_keys=True)
        conn.execute(
            update(s.intents).where(s.intents.c.intent_id == intent_id).values(updated_at=_w(at), **values)
        )

    # ---- sending --------------------------------------------------------------------------------------------------
    def sendable(self, *, campaign_ids: Iterable[str] | None, max_attempts: int) -> list[Intent]:
        """Intents waiting to be sent (planned, or retry with attempts left) that are in no batch."""
        c = s.intents.c
        q = select(s.intents).where(
            c.batch_id.is_(None),
            or_(c.status == s.PLANNED, and_(c.status == s.RETRY, c.attempts < max_attempts)),
        )
        if campaign_ids is not None:
            q = q.where(c.campaign_id.in_(list(campaign_ids)))
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(q.order_by(c.campaign_id, c.send_at, c.intent_id))]

    def open_batch(self, batch: dict, intent_ids: list[str], at: datetime) -> list[str]:
        """Records a batch and moves its intents to ``sending`` in one transaction; returns the ids it got."""
        c = s.intents.c
        with self.tx() as conn:
            conn.execute(insert(s.batches).values(**{**batch, "created_at": _w(at), "updated_at": _w(at)}))
            taken: list[str] = []
            for part in _chunks(intent_ids):
                conn.execute(
                    update(s.intents)
                    .where(c.intent_id.in_(part), c.batch_id.is_(None), c.status.in_(s.SENDABLE_STATUSES))
                    .values(
                        batch_id=batch["batch_id"],
                        status=s.SENDING,
                        attempts=c.attempts + 1,
                        updated_at=_w(at),
                    )
                )
                q = select(c.intent_id).where(c.intent_id.in_(part), c.batch_id == batch["batch_id"])
                taken.extend(conn.execute(q).scalars())
            conn.execute(
                update(s.batches)
                .where(s.batches.c.batch_id == batch["batch_id"])
                .values(message_count=len(taken))
            )
        return taken

    def batch_intents(self, batch_id: str) -> list[Intent]:
        q = select(s.intents).where(s.intents.c.batch_id == batch_id).order_by(s.intents.c.intent_id)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(q)]

    def set_batch(self, batch_id: str, at: datetime, **values: Any) -> None:
        values = {k: (_w(v) if isinstance(v, datetime) else v) for k, v in values.items()}
        with self.tx() as conn:
            conn.execute(
                update(s.batches).where(s.batches.c.batch_id == batch_id).values(updated_at=_w(at), **values)
            )

    def batches_in_flight(self, destinations: Iterable[str] | None = None) -> list[dict]:
        q = select(s.batches).where(s.batches.c.status.in_(s.INFLIGHT_BATCH))
        if destinations is not None:
            q = q.where(s.batches.c.destination.in_(list(destinations)))
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(q.order_by(s.batches.c.created_at, s.batches.c.batch_id))
            ]

    def batches_to_reconcile(self, destination: str, since: datetime) -> list[dict]:
        """Sent batches that still have intents without a final provider status."""
        b, c = s.batches.c, s.intents.c
        open_q = select(c.batch_id).where(c.status.in_((s.ACCEPTED, s.SENDING))).distinct()
        q = select(s.batches).where(
            b.destination == destination,
            b.status == s.B_SENT,
            b.created_at >= _w(since),
            b.batch_id.in_(open_q),
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(b.created_at))]

    def release_intents(self, intent_ids: list[str], at: datetime, status: str = s.PLANNED) -> None:
        """Takes intents out of a batch that never reached the provider (they are sent again later)."""
        c = s.intents.c
        with self.tx() as conn:
            for part in _chunks(intent_ids):
                conn.execute(
                    update(s.intents)
                    .where(c.intent_id.in_(part), c.status == s.SENDING)
                    .values(batch_id=None, group_id=None, status=status, updated_at=_w(at))
                )

    # ---- opt-outs -------------------------------------------------------------------------------------------------
    def add_opt_outs(self, items: list[dict], at: datetime, run_id: str) -> int:
        """Records opt-outs (idempotent by ``opt_out_id``); returns how many were new."""
        if not items:
            return 0
        new = 0
        with self.tx() as conn:
            for item in items:
                exists = conn.execute(
                    select(s.opt_outs.c.opt_out_id).where(s.opt_outs.c.opt_out_id == item["opt_out_id"])
                ).first()
                if exists:
                    continue
                conn.execute(insert(s.opt_outs).values(**item, learned_at=_w(at), run_id=run_id))
                new += 1
        return new

    # ---- runs -------------------------------------------------------------------------------------------------------
    def record_run(
        self, run_id: str, kind: str, run_date: date, reference_time: datetime, status: str, summary: Any
    ) -> None:
        """Upserts the run row (a retried task keeps its run id and counts attempts)."""
        payload = json.loads(json.dumps(summary, default=str))
        with self.tx() as conn:
            r = s.runs.c
            row = conn.execute(select(r.attempts, r.status).where(r.run_id == run_id, r.kind == kind)).first()
            values = {
                "run_date": run_date,
                "reference_time": _w(reference_time),
                "status": status,
                "summary": payload,
                "updated_at": _w(reference_time),
            }
            if row is None:
                conn.execute(insert(s.runs).values(run_id=run_id, kind=kind, attempts=1, **values))
            else:
                attempts = row.attempts + (1 if status == "started" else 0)
                conn.execute(
                    update(s.runs)
                    .where(r.run_id == run_id, r.kind == kind)
                    .values(attempts=attempts, **values)
                )

    # ---- sync state ---------------------------------------------------------------------------------------------
    def sync_rows(self, sync_id: str) -> dict[str, dict]:
        q = select(s.sync_state).where(s.sync_state.c.sync_id == sync_id)
        with self.engine.connect() as conn:
            return {r.member_key: dict(r._mapping) for r in conn.execute(q)}

    def save_sync(self, sync_id: str, items: dict[str, dict], at: datetime) -> None:
        """Upserts the synced state of members (member key → values) after their writes succeeded."""
        if not items:
            return
        t = s.sync_state
        with self.tx() as conn:
            keys = list(items)
            existing: set[str] = set()
            for part in _chunks(keys):
                q = select(t.c.member_key).where(t.c.sync_id == sync_id, t.c.member_key.in_(part))
                existing.update(conn.execute(q).scalars())
            for key, values in items.items():
                values = {**values, "synced_at": _w(at)}
                if key in existing:
                    conn.execute(
                        update(t).where(t.c.sync_id == sync_id, t.c.member_key == key).values(**values)
                    )
                else:
                    conn.execute(insert(t).values(sync_id=sync_id, member_key=key, **values))
