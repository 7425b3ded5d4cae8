"""Solapi as a message destination: crash-safe group sends with reconciliation.

Protocol for one batch (each step committed to the ledger through the journal before the next):

1. create a group (``customFields.batch_id``) and record its id — before any message is added;
2. add the messages in chunks within the endpoint limits (a ``413`` halves the chunk); when an add may or may
   not have happened (timeout, reset, 5xx), list the group's messages and add only the ones not there;
3. send the group, or schedule it for the batch's send time; an unclear answer is settled by reading the group.

Resuming a batch a crashed run left behind reads the group's status and contents: messages already in the group
are never added again, a sent group is never sent again, messages that never arrived go back to the queue.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from activation.destinations.base import BatchInfo, BatchJournal, MessageResult, OutboundMessage
from activation.destinations.limits import EndpointLimits, limits_for
from activation.destinations.solapi import codes
from activation.destinations.solapi.client import SolapiClient
from include.core.connections import SOLAPI, ApiConnection, get_connection
from include.core.http import AmbiguousRequestError, PermanentError, split_on_413

log = logging.getLogger(__name__)
SENT_STATES = {"SENDING", "COMPLETE", "SCHEDULED"}
DUPLICATE = "1026"
MAX_RECONCILE_ROUNDS = 8


class ScheduleInPastError(PermanentError):
    """The provider's clock is past the batch's send time: the run's reference time is behind real time."""


def _result_from(intent_id: str, item: dict) -> MessageResult:
    code = str(item.get("statusCode") or "")
    return MessageResult(
        intent_id=intent_id,
        outcome=codes.outcome(code),
        message_id=item.get("messageId") or item.get("_id"),
        status_code=code or None,
        status_message=item.get("statusMessage"),
        message_type=item.get("type"),
        replacement=item.get("replacement"),
    )


class SolapiDestination:
    """AlimTalk, FriendTalk and SMS/LMS through Solapi groups."""

    name = "solapi"

    def __init__(self, client: SolapiClient, *, sender: str, limits: EndpointLimits | None = None) -> None:
        self.client = client
        self.sender = sender
        self.limits = limits or limits_for("solapi", client.conn.extra)
        registered = client.conn.extra.get("senders")
        if registered and sender not in [str(s) for s in registered]:
            raise PermanentError(f"sender number {sender} is not registered for this Solapi account")

    @classmethod
    def from_connection(cls, sender: str, conn: ApiConnection | None = None) -> SolapiDestination:
        conn = conn or get_connection(SOLAPI)
        return cls(SolapiClient(conn), sender=sender)

    def close(self) -> None:
        self.client.close()

    # ---- message bodies ------------------------------------------------------------------------------------------
    def wire(self, m: OutboundMessage) -> dict:
        """The message as Solapi receives it."""
        return {**m.body, "to": m.recipient, "from": self.sender, "customFields": dict(m.custom_fields)}

    def message_size(self, message: OutboundMessage) -> int:
        return len(json.dumps(self.wire(message), ensure_ascii=False).encode()) + 1

    # ---- sending -------------------------------------------------------------------------------------------------
    def send_batch(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        group_id = batch.group_id
        fresh = group_id is None
        if group_id is None:
            group_id = self.client.create_group(
                {"batch_id": batch.batch_id, "campaign_id": batch.campaign_id}
            )
            journal.group_created(group_id)
            batch.group_id = group_id
        self._fill_and_send(batch, group_id, messages, journal, known_empty=fresh)

    def resume_batch(self, batch: BatchInfo, messages: list[OutboundMessage], journal: BatchJournal) -> None:
        if batch.group_id is None:  # nothing ever reached the provider
            journal.release([m.intent_id for m in messages])
            return
        group_id = batch.group_id
        try:
            status = str(self.client.get_group(group_id).get("status", "")).upper()
        except PermanentError as exc:
            if exc.status == 404:
                log.warning(
                    "solapi group of batch %s is gone; its messages go back to the queue", batch.batch_id
                )
                journal.release([m.intent_id for m in messages])
                return
            raise
        if status in SENT_STATES:
            present = self._contents(group_id, messages)
            journal.results(list(present.values()))
            missing = [m.intent_id for m in messages if m.intent_id not in present]
            if missing:
                journal.release(missing)
            journal.sent(status == "SCHEDULED")
            return
        if status != "PENDING":  # FAILED or DELETED: nothing in it was sent
            log.warning("solapi group %s is %s; its unsent messages go back to the queue", group_id, status)
            present = self._contents(group_id, messages)
            rejected = [r for r in present.values() if r.outcome not in ("accepted", "delivered")]
            journal.results(rejected)
            done = {r.intent_id for r in rejected}
            journal.release([m.intent_id for m in messages if m.intent_id not in done])
            return
        self._fill_and_send(batch, group_id, messages, journal, known_empty=False)

    def _fill_and_send(
        self,
        batch: BatchInfo,
        group_id: str,
        messages: list[OutboundMessage],
        journal: BatchJournal,
        *,
        known_empty: bool,
    ) -> None:
        present: dict[str, MessageResult] = {} if known_empty else self._contents(group_id, messages)
        if present:
            journal.results(list(present.values()))
        todo = [m for m in messages if m.intent_id not in present]
        for chunk in self._chunks(todo):
            self._add(group_id, chunk, journal)
        journal.handed_over()
        self._send(batch, group_id, journal)

    def _chunks(self, messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
        chunks: list[list[OutboundMessage]] = []
        current: list[OutboundMessage] = []
        size = 0
        for m in messages:
            n = self.message_size(m)
            if current and (
                len(current) >= self.limits.max_batch_messages or size + n > self.limits.max_batch_bytes
            ):
                chunks.append(current)
                current, size = [], 0
            current.append(m)
            size += n
        if current:
            chunks.append(current)
        return chunks

    def _add(self, group_id: str, chunk: list[OutboundMessage], journal: BatchJournal) -> None:
        split_on_413(chunk, lambda part, _label: self._add_settled(group_id, list(part), journal))

    def _add_settled(self, group_id: str, chunk: list[OutboundMessage], journal: BatchJournal) -> None:
        """Adds ``chunk``; an unclear answer is settled by reading the group, then only what is missing is added."""
        pending = list(chunk)
        for _ in range(MAX_RECONCILE_ROUNDS):
            if not pending:
                return
            try:
                results = self.client.add_messages(group_id, [self.wire(m) for m in pending])
            except (AmbiguousRequestError, ValueError) as exc:
                log.info("solapi add to %s unclear (%s); reading the group", group_id, exc)
                present = self._contents(group_id, pending)
                journal.results(list(present.values()))
                pending = [m for m in pending if m.intent_id not in present]
                continue
            out = [_result_from(m.intent_id, item) for m, item in zip(pending, results, strict=True)]
            dupes = [m for m, r in zip(pending, out, strict=True) if r.status_code == DUPLICATE]
            if dupes:  # an earlier add whose answer was lost may still have landed: trust the accepted copy
                present = self._contents(group_id, dupes)
                out = [present.get(r.intent_id, r) if r.status_code == DUPLICATE else r for r in out]
            journal.results(out)
            return
        raise AmbiguousRequestError(f"solapi group {group_id}: could not settle which messages were added")

    def _send(self, batch: BatchInfo, group_id: str, journal: BatchJournal) -> None:
        scheduled = bool(batch.scheduled and batch.send_at)
        for _ in range(MAX_RECONCILE_ROUNDS):
            try:
                if scheduled:
                    self.client.schedule_group(group_id, batch.send_at)  # type: ignore[arg-type]
                else:
                    self.client.send_group(group_id)
                journal.sent(scheduled)
                return
            except AmbiguousRequestError as exc:
                log.info("solapi send of %s unclear (%s); reading the group", group_id, exc)
            except PermanentError as exc:
                if exc.code == "InvalidScheduledDate":
                    raise ScheduleInPastError(f"solapi group {group_id}: {exc}") from exc
                if exc.code not in ("NoMessagesToSend", "InvalidGroupStatus"):
                    raise
            group = self.client.get_group(group_id)
            status = str(group.get("status", "")).upper()
            if status in SENT_STATES:
                journal.sent(status == "SCHEDULED")
                return
            if status == "PENDING":
                count = group.get("count") or {}
                if count and int(count.get("registeredSuccess", 1)) == 0:
                    journal.sent(False)  # every message was rejected at intake: nothing to send
                    return
                continue
            raise PermanentError(f"solapi group {group_id} is {status}; cannot send")
        raise AmbiguousRequestError(f"solapi group {group_id}: could not settle whether it was sent")

    # ---- reading back ------------------------------------------------------------------------------------------
    def _contents(self, group_id: str, messages: list[OutboundMessage]) -> dict[str, MessageResult]:
        """Intent id → result for the messages of ``messages`` found in the group."""
        wanted = {m.intent_id for m in messages}
        found: dict[str, MessageResult] = {}
        for item in self.client.group_messages(group_id):
            fields = item.get("customFields") or {}
            iid = fields.get("intent_id")
            if iid in wanted:
                result = _result_from(iid, item)
                prior = found.get(iid)
                # a rejected copy must not hide an accepted one
                if prior is None or (
                    prior.outcome not in ("accepted", "delivered") and result.outcome != "failed"
                ):
                    found[iid] = result
        return found

    def poll_results(self, batch: BatchInfo) -> list[MessageResult]:
        if not batch.group_id:
            return []
        out = []
        for item in self.client.group_messages(batch.group_id):
            iid = (item.get("customFields") or {}).get("intent_id")
            if iid:
                out.append(_result_from(iid, item))
        return out


def parse_when(value: str | None) -> datetime | None:
    """Solapi timestamps (``2020-09-09T05:23:20.969Z``) as aware datetimes."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
