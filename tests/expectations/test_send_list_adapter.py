"""The activation side's adapter (activation/send_list.py) produces exactly the frame the send-list gate reads."""

from __future__ import annotations

from datetime import datetime

from gx_helpers import DATA_DATE, REFERENCE_TIME, RUN_ID, critical

from activation.intent import Intent
from activation.send_list import SendList
from expectations import validate_send_list
from testbed.synthetic import KST


def intent(i: int, **over) -> Intent:
    base = {
        "intent_id": f"it-{i}",
        "idempotency_key": f"g3_repurchase:{DATA_DATE.isoformat()}:m{i:07d}:main",
        "run_id": RUN_ID,
        "run_date": DATA_DATE,
        "campaign_id": "g3_repurchase",
        "step": "main",
        "customer_id": f"m{i:07d}",
        "channel": "sms",
        "destination": "solapi",
        "message_kind": "advertising",
        "message_type": "LMS",
        "variant": "A",
        "priority": 100,
        "recipient": f"0109{i:07d}",
        "has_channel_consent": True,
        "night_consent": False,
        "send_at": datetime(2026, 11, 23, 10, 0, tzinfo=KST),
        "is_opted_out": False,
        "is_holdout": False,
        "is_control": False,
        "status": "planned",
        "payload": {"body": {"text": "(광고)멍냥마켓\n쿠폰 드려요\n무료수신거부 080-123-4567"}},
        "created_at": REFERENCE_TIME,
        "updated_at": REFERENCE_TIME,
    }
    return Intent(**{**base, **over})


def test_adapter_frame_passes_and_carries_faults_through(report_dir):
    sl = SendList(RUN_ID, DATA_DATE, REFERENCE_TIME, rows=[intent(i) for i in range(30)])
    sl.campaigns = {"g3_repurchase": {"expected_min": None, "expected_max": None, "max_recipients": 100}}
    ok = validate_send_list(
        sl.frame(), sl.campaigns, DATA_DATE, RUN_ID, reference_time=REFERENCE_TIME, report_dir=report_dir
    )
    assert ok.status == "PASS", ok.summary()

    sl.rows[3] = intent(3, is_opted_out=True)
    sl.rows[4] = intent(4, send_at=datetime(2026, 11, 22, 22, 0, tzinfo=KST))
    bad = validate_send_list(
        sl.frame(), sl.campaigns, DATA_DATE, RUN_ID, reference_time=REFERENCE_TIME, report_dir=report_dir
    )
    assert {
        ("send_list", "is_opted_out", "expect_column_values_to_be_in_set"),
        ("send_list", "consent_night", "expect_column_values_to_be_in_set"),
    } <= critical(bad)
