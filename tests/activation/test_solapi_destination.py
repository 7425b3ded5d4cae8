"""The Solapi destination on the emulator: an oversized add is split in halves, a lost answer is settled by reading."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from activation.destinations.base import BatchInfo, MessageResult, OutboundMessage
from activation.destinations.limits import SOLAPI
from activation.destinations.solapi import SolapiDestination

pytestmark = pytest.mark.integration


class Journal:
    """Records what the destination reports (the ledger's role, in memory)."""

    def __init__(self) -> None:
        self.group: str | None = None
        self.got: dict[str, MessageResult] = {}
        self.sent_as: bool | None = None
        self.released: list[str] = []

    def group_created(self, group_id: str) -> None:
        self.group = group_id

    def results(self, results: list[MessageResult]) -> None:
        for r in results:
            self.got[r.intent_id] = r

    def handed_over(self) -> None:
        pass

    def sent(self, scheduled: bool) -> None:
        self.sent_as = scheduled

    def release(self, intent_ids: list[str]) -> None:
        self.released.extend(intent_ids)


def messages(n: int) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            intent_id=f"i{k:08d}",
            idempotency_key=f"c:2026-11-22:m{k}:main",
            channel="sms",
            recipient=f"010{20000000 + k:08d}",
            body={"type": "SMS", "text": f"안내 {k}"},
            custom_fields={"intent_id": f"i{k:08d}", "campaign_id": "c"},
        )
        for k in range(n)
    ]


def test_an_add_over_10000_messages_is_split_in_halves(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    dest = SolapiDestination.from_connection("0212345678")
    dest.limits = replace(SOLAPI, max_batch_messages=12_000)  # let one request exceed the provider's 10,000
    journal = Journal()
    batch = BatchInfo("b1", "solapi", "c", None, False)
    dest.send_batch(batch, messages(10_050), journal)
    dest.close()
    stats = emu.stats("solapi")
    assert stats.get("solapi.add_group_messages.413") == 1
    assert stats.get("solapi.add_group_messages.200") == 2
    assert len(journal.got) == 10_050 and journal.sent_as is False
    assert {r.outcome for r in journal.got.values()} == {"accepted"}
    assert sum(1 for m in emu.solapi_messages() if m["phase"] != "rejected") == 10_050


def test_resume_reads_the_group_and_adds_only_what_is_missing(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    dest = SolapiDestination.from_connection("0212345678")
    msgs = messages(30)
    group = dest.client.create_group({"batch_id": "b2"})
    dest.client.add_messages(group, [dest.wire(m) for m in msgs[:12]])  # a crashed run got this far
    journal = Journal()
    dest.resume_batch(BatchInfo("b2", "solapi", "c", None, False, group_id=group), msgs, journal)
    dest.close()
    at_provider = [
        m["doc"]["customFields"]["intent_id"] for m in emu.solapi_messages() if m["phase"] != "rejected"
    ]
    assert sorted(at_provider) == sorted(m.intent_id for m in msgs)
    assert journal.sent_as is False and not journal.released
