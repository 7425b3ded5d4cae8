"""The ledger side of a batch: every step a destination reports is committed before it takes the next one."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update

from activation.destinations.base import MessageResult
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.planning import policies as p

OPEN_FOR_RESULTS = (s.SENDING, s.ACCEPTED)


class LedgerJournal:
    """Implements :class:`activation.destinations.base.BatchJournal` on the ledger."""

    def __init__(self, ledger: Ledger, batch_id: str, at: datetime, run_id: str) -> None:
        self.ledger = ledger
        self.batch_id = batch_id
        self.at = at
        self.run_id = run_id
        self.counts: dict[str, int] = {}
        self.opt_outs_learned = 0

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def group_created(self, group_id: str) -> None:
        with self.ledger.tx() as conn:
            conn.execute(
                update(s.batches)
                .where(s.batches.c.batch_id == self.batch_id)
                .values(status=s.B_GROUP, group_id=group_id, updated_at=self.at)
            )
            conn.execute(
                update(s.intents)
                .where(s.intents.c.batch_id == self.batch_id)
                .values(group_id=group_id, updated_at=self.at)
            )

    def results(self, results: list[MessageResult]) -> None:
        if not results:
            return
        c = s.intents.c
        opt_outs: list[dict] = []
        updates: dict[tuple[str, ...], list[dict]] = {}
        with self.ledger.tx() as conn:
            ids = [r.intent_id for r in results]
            rows = {
                r.intent_id: r
                for r in conn.execute(
                    select(c.intent_id, c.status, c.customer_id, c.recipient_hash, c.batch_id).where(
                        c.intent_id.in_(ids)
                    )
                )
            }
            for res in results:
                row = rows.get(res.intent_id)
                if row is None or row.status not in OPEN_FOR_RESULTS:
                    continue  # never touch a final or unrelated intent
                common = {
                    "message_id": res.message_id,
                    "provider_status_code": res.status_code,
                    "provider_status_message": (res.status_message or None),
                }
                if res.outcome in ("accepted", "pending"):
                    values = common
                elif res.outcome == "delivered":
                    values = {
                        **common,
                        "status": s.DELIVERED,
                        "final_at": self.at,
                        "replacement": res.replacement,
                    }
                    self._count("delivered")
                elif res.outcome == "retry":
                    values = {
                        **common,
                        "status": s.RETRY,
                        "batch_id": None,
                        "reason": f"provider_{res.status_code}",
                    }
                    self._count("retry")
                elif res.outcome == "opted_out":
                    values = {**common, "status": s.FAILED, "reason": p.PROVIDER_OPT_OUT, "final_at": self.at}
                    opt_outs.append(
                        {
                            "opt_out_id": hashlib.sha256(f"{row.recipient_hash}|solapi".encode()).hexdigest(),
                            "customer_id": row.customer_id,
                            "contact_hash": row.recipient_hash,
                            "source": f"solapi_{res.status_code}",
                            "detail": res.status_message,
                        }
                    )
                    self._count("opted_out")
                else:
                    values = {
                        **common,
                        "status": s.FAILED,
                        "reason": f"provider_{res.status_code}",
                        "final_at": self.at,
                    }
                    self._count("failed")
                if values.get("status") in (s.DELIVERED, s.FAILED):
                    values["recipient"] = None  # settled: the raw address is no longer needed
                values["updated_at"] = self.at
                params = {f"v_{k}": v for k, v in values.items()}
                updates.setdefault(tuple(sorted(values)), []).append({"b_intent_id": res.intent_id, **params})
            # one executemany per set of changed columns (a handful per batch), in the same transaction: the
            # results of a 10,000-message batch were 10,000 single UPDATE statements
            for columns, params in updates.items():
                stmt = (
                    update(s.intents)
                    .where(c.intent_id == bindparam("b_intent_id"))
                    .values({k: bindparam(f"v_{k}", type_=c[k].type) for k in columns})
                )
                conn.execute(stmt, params)
        if opt_outs:
            self.opt_outs_learned += self.ledger.add_opt_outs(opt_outs, self.at, self.run_id)

    def handed_over(self) -> None:
        self.ledger.set_batch(self.batch_id, self.at, status=s.B_ADDED)

    def sent(self, scheduled: bool) -> None:
        c = s.intents.c
        with self.ledger.tx() as conn:
            res = conn.execute(
                update(s.intents)
                .where(and_(c.batch_id == self.batch_id, c.status == s.SENDING, c.message_id.is_not(None)))
                .values(status=s.ACCEPTED, sent_at=self.at, updated_at=self.at)
            )
            self._count("accepted", res.rowcount or 0)
            conn.execute(
                update(s.intents)
                .where(and_(c.batch_id == self.batch_id, c.status == s.SENDING, c.message_id.is_(None)))
                .values(status=s.PLANNED, batch_id=None, group_id=None, updated_at=self.at)
            )
            conn.execute(
                update(s.batches)
                .where(s.batches.c.batch_id == self.batch_id)
                .values(status=s.B_SENT, scheduled=scheduled, updated_at=self.at)
            )

    def release(self, intent_ids: list[str]) -> None:
        self.ledger.release_intents(intent_ids, self.at)
        self._count("released", len(intent_ids))
