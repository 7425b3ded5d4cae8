"""Erasing a customer from the send ledger (SQLite and PostgreSQL): contacts and names gone, rows, keys and counts kept,
open intents suppressed, the customer an opt-out for every later plan; idempotent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from activation.intent import Intent
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.ledger.erase import TOMBSTONE, erase_customer, suppress_customer
from include.core.pii import hash_contact

AT = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
PHONE, EMAIL, NAME = "01012345678", "kim.erase@example.com", "김지움"
OTHER_PHONE = "01098765432"


def _intent(key: str, customer: str, status: str, recipient: str | None, name: str) -> Intent:
    return Intent(
        intent_id=key[:32], idempotency_key=key, run_id="r1", run_date=date(2026, 11, 22), campaign_id="c1",
        step="main", customer_id=customer, member_id=customer, channel="sms", destination="solapi",
        message_kind="advertising", priority=1, status=status, recipient=recipient,
        recipient_masked="010-****-5678" if recipient else None, recipient_hash=hash_contact(recipient or ""),
        payload={"body": {"text": f"(광고){name}님, 쿠폰이 도착했어요"}}, created_at=AT, updated_at=AT,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request, tmp_path: Path) -> Ledger:
    url = (
        f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_ledger_url")
    )
    led = Ledger(url)
    led.insert_intents([
        _intent("k-a-planned", "m1", s.PLANNED, PHONE, NAME),
        _intent("k-a-accepted", "m1", s.ACCEPTED, PHONE, NAME),
        _intent("k-b-planned", "m2", s.PLANNED, OTHER_PHONE, "박남음"),
    ])  # fmt: skip
    profile = {"profile": {"mobileNumber": "+821012345678", "email": EMAIL, "name": NAME}}
    led.save_sync(
        "ct",
        {"m1": {"fingerprint": "f1", "state": profile, "present": True, "run_date": date(2026, 11, 22)}},
        AT,
    )
    led.save_sync("ct", {"m2": {"fingerprint": "f2", "state": {"profile": {"name": "박남음"}}, "present": True,
                            "run_date": date(2026, 11, 22)}}, AT)  # fmt: skip
    led.record_run("r1", "send", date(2026, 11, 22), AT, "done", {"sample": f"to {PHONE}"})
    yield led
    led.close()


def _erase(ledger: Ledger) -> dict:
    return erase_customer(
        ledger, customer_ids={"m1"}, contact_hashes={hash_contact(PHONE), hash_contact(EMAIL)},
        needles={PHONE, "010-1234-5678", "+821012345678", EMAIL, NAME}, at=AT,
    )  # fmt: skip


def test_erase_keeps_rows_and_keys_and_removes_the_contacts(ledger: Ledger) -> None:
    keys = sorted(i.idempotency_key for i in ledger.intents_for_run(date(2026, 11, 22)))
    assert suppress_customer(ledger, customer_ids={"m1"}, contact_hashes={hash_contact(PHONE)}, at=AT) == 2
    counts = _erase(ledger)
    assert (
        counts["intents"] == 2
        and counts["intents_recipient_cleared"] == 2
        and counts["intents_suppressed"] == 1
    )
    assert counts["sync_state"] == 1 and counts["runs_scrubbed"] == 1
    intents = {i.idempotency_key: i for i in ledger.intents_for_run(date(2026, 11, 22))}
    assert sorted(intents) == keys, "every row and idempotency key stays"
    a1, a2, b = intents["k-a-planned"], intents["k-a-accepted"], intents["k-b-planned"]
    assert (a1.status, a1.reason, a1.recipient) == (s.SUPPRESSED, "erased", None)
    assert (a2.status, a2.recipient, a2.recipient_masked) == (s.ACCEPTED, None, TOMBSTONE)
    assert NAME not in str(a1.payload) and TOMBSTONE in str(a1.payload)
    assert (b.status, b.recipient) == (s.PLANNED, OTHER_PHONE), "another customer is untouched"
    assert ledger.sync_rows("ct")["m1"]["state"] == {"erased": True}
    assert ledger.sync_rows("ct")["m2"]["state"] == {"profile": {"name": "박남음"}}
    customers, contacts = ledger.opt_out_keys()
    assert "m1" in customers and hash_contact(PHONE) in contacts and hash_contact(EMAIL) in contacts
    assert "m2" not in customers

    again = _erase(ledger)  # idempotent: nothing left to change, no opt-out added twice
    assert (
        again["intents_recipient_cleared"] == 0 and again["sync_state"] == 0 and again["opt_outs_added"] == 0
    )
    assert sorted(i.idempotency_key for i in ledger.intents_for_run(date(2026, 11, 22))) == keys

    if ledger.engine.dialect.name == "sqlite":  # no page of the file (nor its WAL) keeps the old values
        db = Path(ledger.engine.url.database)
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
        for needle in (PHONE, "+821012345678", EMAIL, NAME):
            assert needle.encode() not in raw, needle
        assert OTHER_PHONE.encode() in raw, "the scan would see a contact that is still there"
