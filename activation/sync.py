"""Diff-based audience sync to an audience destination (Channel Talk).

The state of the last successful sync is kept in the ledger (``sync_state``: one row per member with the
fingerprint of what was written). A run computes the desired state from the audience model and sends only the
differences: adds, changes and removes. An unchanged audience makes no write call at all. Removes follow the
sync's ``delete_policy``: ``remove_tag`` clears the tags the pipeline manages (by the destination's user id, so a
removed member is never re-created); ``do_nothing`` only forgets the member.

The pipeline owns a synced user's ``tags`` (Channel Talk replaces the whole list on write). Opt-outs travel both
ways: a customer opted out in the shop is sent as ``unsubscribeTexting``/``unsubscribeEmail: true`` (never
``false``, so an unsubscribe made in Channel Talk is not undone), and a write answered with an unsubscribe the shop
does not know is recorded as an opt-out in the ledger, suppressing the customer's messages at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from activation.audience import AudienceReader
from activation.config.models import SyncSpec
from activation.destinations.base import AudienceDestination, RemoteUser
from activation.destinations.limits import CHANNELTALK_MAX_TAGS
from activation.ledger import Ledger
from include.core.http import HttpError, PermanentError
from include.core.pii import hash_contact
from include.core.rules import korean_mobile

log = logging.getLogger(__name__)
SAVE_EVERY = 50


@dataclass
class SyncReport:
    """What one sync run did."""

    sync_id: str
    members: int = 0
    adds: int = 0
    changes: int = 0
    removes: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    opt_outs_learned: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return self.adds + self.changes + (self.removes if self.removes else 0)


def _scalar(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _e164(phone: Any) -> str | None:
    digits = re.sub(r"\D", "", str(phone or ""))
    if korean_mobile().fullmatch(digits):
        return "+82" + digits[1:]
    return None


def _tag(prefix: str, column: str, value: Any) -> str:
    return f"{prefix}{column}_{str(value).strip().lower().replace(' ', '_')}"[:50]


def desired_body(spec: SyncSpec, row: dict[str, Any]) -> dict[str, Any]:
    """The write body that makes the destination hold this member as the audience says."""
    profile: dict[str, Any] = {}
    for key, column in sorted(spec.profile.items()):
        value = row.get(column)
        if key == "mobileNumber":
            value = _e164(value)
        elif key == "email" and value is not None and "@" not in str(value):
            value = None
        profile[key] = _scalar(value)
    tags = [f"{spec.tag_prefix}{spec.id}"]
    for column in spec.tag_columns:
        value = row.get(column)
        if value not in (None, ""):
            tags.append(_tag(spec.tag_prefix, column, value))
    tags = sorted(dict.fromkeys(tags))[:CHANNELTALK_MAX_TAGS]
    body: dict[str, Any] = {"profile": profile, "tags": tags}
    if row.get("is_opted_out") is True:
        body["unsubscribeTexting"] = True
        body["unsubscribeEmail"] = True
    return body


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


class AudienceSync:
    """Runs one sync spec against one destination."""

    def __init__(
        self, spec: SyncSpec, reader: AudienceReader, ledger: Ledger, destination: AudienceDestination
    ) -> None:
        self.spec = spec
        self.reader = reader
        self.ledger = ledger
        self.dest = destination

    def run(self, run_date: date, reference_time: datetime, run_id: str) -> SyncReport:
        spec = self.spec
        report = SyncReport(spec.id)
        audience = self.reader.read(
            spec.audience.model,
            list(spec.audience.filter),
            run_date,
            required_columns=set(spec.profile.values()) | set(spec.tag_columns) | {"member_id"},
        )
        desired: dict[str, tuple[dict, dict]] = {}
        for row in audience.rows:
            member = row.get("member_id")
            if not member:
                report.skipped += 1
                continue
            desired[str(member)] = (desired_body(spec, row), row)
        report.members = len(desired)
        state = self.ledger.sync_rows(spec.id)
        pending: dict[str, dict] = {}
        opt_outs: list[dict] = []

        def flush() -> None:
            self.ledger.save_sync(spec.id, pending, reference_time)
            pending.clear()
            if opt_outs:
                report.opt_outs_learned += self.ledger.add_opt_outs(list(opt_outs), reference_time, run_id)
                opt_outs.clear()

        try:
            for member in sorted(desired):
                body, row = desired[member]
                fp = fingerprint(body)
                prior = state.get(member)
                if prior is not None and prior["present"] and prior["fingerprint"] == fp:
                    report.unchanged += 1
                    continue
                try:
                    user = self.dest.upsert_member(member, body)
                except PermanentError as exc:
                    report.failed += 1
                    report.errors.append(f"member {member}: {exc}")
                    continue
                if prior is not None and prior["present"]:
                    report.changes += 1
                else:
                    report.adds += 1
                self._learn(user, row, opt_outs)
                pending[member] = {
                    "destination_user_id": user.user_id,
                    "fingerprint": fp,
                    "state": body,
                    "present": True,
                    "run_date": run_date,
                }
                if len(pending) >= SAVE_EVERY:
                    flush()
            for member in sorted(set(state) - set(desired)):
                prior = state[member]
                if not prior["present"]:
                    continue
                if spec.delete_policy == "remove_tag" and prior.get("destination_user_id"):
                    try:
                        self.dest.update_user(prior["destination_user_id"], {"tags": []})
                    except PermanentError as exc:
                        if exc.status != 404:
                            report.failed += 1
                            report.errors.append(f"member {member}: {exc}")
                            continue
                    report.removes += 1
                pending[member] = {
                    "destination_user_id": prior.get("destination_user_id"),
                    "fingerprint": "",
                    "state": {},
                    "present": False,
                    "run_date": run_date,
                }
                if len(pending) >= SAVE_EVERY:
                    flush()
        except HttpError as exc:
            report.errors.append(f"{self.dest.name} sync stopped: {exc}")
        finally:
            flush()
        return report

    @staticmethod
    def _learn(user: RemoteUser, row: dict, out: list[dict]) -> None:
        if row.get("is_opted_out") is True or not (user.unsubscribe_texting or user.unsubscribe_email):
            return
        contact = row.get("phone") if user.unsubscribe_texting else row.get("email")
        contact_hash = hash_contact(re.sub(r"\D", "", str(contact)) if user.unsubscribe_texting else contact)
        cid = str(row["customer_id"])
        out.append(
            {
                "opt_out_id": hashlib.sha256(f"{cid}|channeltalk".encode()).hexdigest(),
                "customer_id": cid,
                "contact_hash": contact_hash if contact else None,
                "source": "channeltalk_unsubscribe",
                "detail": "unsubscribeTexting" if user.unsubscribe_texting else "unsubscribeEmail",
            }
        )
