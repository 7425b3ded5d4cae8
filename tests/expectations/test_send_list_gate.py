"""Send-list gate: a lawful planned list passes; each legal or planning fault fails it by name, before any send."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from gx_helpers import DATA_DATE, REFERENCE_TIME, RUN_ID, critical, sql

from expectations import GateFailedError, validate_send_list
from testbed.synthetic import KST

CAMPAIGNS = {
    "g3_repurchase": {"expected_min": 50, "expected_max": 1000, "max_recipients": 5000},
    "review_request_3d": {"expected_min": None, "expected_max": None, "max_recipients": 100},
}


def send_list(n: int = 200) -> pd.DataFrame:
    """A lawful plan: FriendTalk/SMS/e-mail ads at 10:00 KST with consent, AlimTalk review requests."""
    ads = pd.DataFrame(
        {
            "campaign_id": "g3_repurchase",
            "customer_id": [f"m{i:07d}" for i in range(n)],
            "channel": ["email" if i % 10 == 0 else "sms" if i % 10 == 1 else "friendtalk" for i in range(n)],
            "message_kind": "advertising",
            "recipient": [f"user{i}@naver.com" if i % 10 == 0 else f"0109{i:07d}" for i in range(n)],
            "has_channel_consent": True,
            "consent_night": [i % 3 == 0 for i in range(n)],
            "planned_send_at": pd.Timestamp("2026-11-23 10:00", tz=KST),
            "is_opted_out": False,
            "is_holdout": False,
            "is_control": False,
            "text": "(광고)멍냥마켓 02-1588-0000\n김민준님, 다시 만나요! 10% 쿠폰\n무료수신거부 080-123-4567",
        }
    )
    info = pd.DataFrame(
        {
            "campaign_id": "review_request_3d",
            "customer_id": [f"m{i:07d}" for i in range(20)],
            "channel": "alimtalk",
            "message_kind": "informational",
            "recipient": [f"0108{i:07d}" for i in range(20)],
            "has_channel_consent": False,  # informational messages need no advertising consent
            "consent_night": False,
            "planned_send_at": pd.Timestamp("2026-11-22 22:30", tz=KST),  # informational: no night rule
            "is_opted_out": False,
            "is_holdout": False,
            "is_control": False,
            "text": "김민준님, 주문하신 상품은 만족스러우셨나요? 리뷰를 남겨주세요.",
        }
    )
    return pd.concat([ads, info], ignore_index=True)


def check(df, report_dir, campaigns=CAMPAIGNS, **kw):
    return validate_send_list(
        df, campaigns, DATA_DATE, RUN_ID, reference_time=REFERENCE_TIME, report_dir=report_dir, **kw
    )


def test_lawful_list_passes(report_dir):
    result = check(send_list(), report_dir)
    assert result.status == "PASS", result.summary()
    assert result.counts["campaigns"] == {"g3_repurchase": 200, "review_request_3d": 20}
    assert result.report_path.exists()


def _set(df, row, **values):
    for k, v in values.items():
        df.loc[row, k] = v
    return df


NIGHT = pd.Timestamp("2026-11-22 22:30", tz=KST)
FAULTS = {
    "opted-out customer": (
        lambda d: _set(d, 5, is_opted_out=True),
        ("is_opted_out", "expect_column_values_to_be_in_set"),
    ),
    "holdout customer": (
        lambda d: _set(d, 6, is_holdout=True),
        ("is_holdout", "expect_column_values_to_be_in_set"),
    ),
    "control customer": (
        lambda d: _set(d, 7, is_control=True),
        ("is_control", "expect_column_values_to_be_in_set"),
    ),
    "night-time ad without night consent": (
        lambda d: _set(d, 2, planned_send_at=NIGHT, consent_night=False, channel="sms"),
        ("consent_night", "expect_column_values_to_be_in_set"),
    ),
    "early-morning ad without night consent": (
        lambda d: _set(d, 4, planned_send_at=pd.Timestamp("2026-11-23 07:59", tz=KST), consent_night=False),
        ("consent_night", "expect_column_values_to_be_in_set"),
    ),
    "missing (광고)": (
        lambda d: _set(d, 8, text="멍냥마켓 김민준님 10% 쿠폰\n무료수신거부 080-123-4567"),
        ("text", "expect_column_values_to_match_regex"),
    ),
    "missing opt-out footer": (
        lambda d: _set(d, 9, text="(광고)멍냥마켓 김민준님 10% 쿠폰"),
        ("text", "expect_column_values_to_match_regex"),
    ),
    "ad without channel consent": (
        lambda d: _set(d, 11, has_channel_consent=False),
        ("has_channel_consent", "expect_column_values_to_be_in_set"),
    ),
    "landline for SMS": (
        lambda d: _set(d, 12, recipient="0212345678"),
        ("recipient", "expect_column_values_to_match_regex"),
    ),
    "broken e-mail": (
        lambda d: _set(d, 10, recipient="user10-at-naver"),
        ("recipient", "expect_column_values_to_match_regex"),
    ),
    "missing contact": (
        lambda d: _set(d, 13, recipient=None),
        ("recipient", "expect_column_values_to_not_be_null"),
    ),
    "duplicate message": (
        lambda d: pd.concat([d, d.iloc[[14]]], ignore_index=True),
        ("campaign_id,customer_id", "expect_compound_columns_to_be_unique"),
    ),
    "advertising by AlimTalk": (
        lambda d: _set(
            d,
            205,
            message_kind="advertising",
            text="(광고)멍냥마켓 쿠폰 무료수신거부 080",
            has_channel_consent=True,
        ),
        ("message_kind", "expect_column_values_to_be_in_set"),
    ),
    "unknown campaign": (
        lambda d: _set(d, 15, campaign_id="nope"),
        ("campaign_id", "expect_column_values_to_be_in_set"),
    ),
    "unknown opt-out state": (
        lambda d: _set(d.astype({"is_opted_out": "object"}), 16, is_opted_out=None),
        ("is_opted_out", "expect_column_values_to_not_be_null"),
    ),
    "list larger than planned": (
        lambda d: pd.concat(
            [d] + [d.iloc[:200].assign(customer_id=lambda x, k=k: x.customer_id + f"-{k}") for k in range(5)],
            ignore_index=True,
        ),
        ("n_recipients", "expect_column_values_to_be_between"),
    ),
    "list empty for a campaign expected to send": (
        lambda d: d[d.campaign_id != "g3_repurchase"].reset_index(drop=True),
        ("n_recipients", "expect_column_values_to_be_between"),
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_the_send_list_gate(report_dir, fault):
    mutate, (column, expectation) = FAULTS[fault]
    result = check(mutate(send_list()), report_dir)
    assert not result.passed, f"{fault} slipped through: {result.summary()}"
    assert ("send_list", column, expectation) in critical(result), critical(result)
    with pytest.raises(GateFailedError, match=r"^send_list gate FAILED for 2026-11-22: "):
        result.raise_if_failed()


def test_faults_name_the_customer_and_keep_contacts_masked(report_dir):
    df = _set(send_list(), 5, is_opted_out=True)
    df = _set(df, 12, recipient="0212345678")
    result = check(df, report_dir)
    reasons = " ".join(o.reason for o in result.critical)
    assert "g3_repurchase/m0000005" in reasons and "no opted-out customer" in reasons
    html = result.report_path.read_text(encoding="utf-8")
    assert "m0000012" in html
    assert "0212345678" not in html and "01090000001" not in html  # contacts never appear in clear
    assert "실패" in html


def test_night_rule_exemptions(report_dir):
    df = send_list()
    night = df.index[:10]
    df.loc[night, "planned_send_at"] = NIGHT
    df.loc[night, "consent_night"] = True  # with night consent: allowed
    df.loc[0, "consent_night"] = False  # row 0 is e-mail: exempt
    result = check(df, report_dir)
    assert result.passed, result.summary()
    # FriendTalk at night is not delivered by Solapi: a warning (the activation side holds it until 08:00)
    assert any(o.column_name == "send_hour_kst" for o in result.warnings)


def test_max_recipients_cap(report_dir):
    capped = {
        **CAMPAIGNS,
        "g3_repurchase": {"expected_min": None, "expected_max": None, "max_recipients": 150},
    }
    result = check(send_list(), report_dir, campaigns=capped)
    fault = next(o for o in result.critical if o.column_name == "n_recipients")
    assert (
        fault.reason
        == "campaign g3_repurchase has 200 recipients, breaking the rule 'campaign g3_repurchase: at most 150 recipients'"
    )


def test_naive_send_times_are_refused(report_dir):
    df = send_list()
    df["planned_send_at"] = df["planned_send_at"].dt.tz_localize(None)
    result = check(df, report_dir)
    assert ("send_list", "planned_send_at", "expect_column_values_to_be_timezone_aware") in critical(result)


def test_missing_adapter_column_fails(report_dir):
    result = check(send_list().drop(columns=["is_holdout"]), report_dir)
    assert not result.passed
    assert any(
        o.column_name == "is_holdout" and o.expectation == "expect_column_to_exist" for o in result.critical
    )


def test_results_are_stored_and_replaced_on_rerun(wh, report_dir):
    check(send_list(), report_dir, warehouse=wh.path)
    first = sql(
        wh.path, "select count(*), bool_and(success) from quality.gate_results where gate = 'send_list'"
    )[0]
    assert first[0] > 20 and first[1] is True
    bad = _set(send_list(), 5, is_opted_out=True)
    result = check(bad, report_dir, warehouse=wh.path)
    rows = sql(
        wh.path,
        "select column_name, severity, observed_value, details, evaluated_at from quality.gate_results "
        "where gate = 'send_list' and run_id = ? and not success",
        [RUN_ID],
    )
    assert (
        sql(wh.path, "select count(*) from quality.gate_results where gate = 'send_list'")[0][0] == first[0]
    )
    assert [r[0] for r in rows] == ["is_opted_out"]
    assert rows[0][1] == "critical" and rows[0][2] == "1 of 220 rows"
    assert json.loads(rows[0][3])["sample_keys"] == [
        {"campaign_id": "g3_repurchase", "customer_id": "m0000005"}
    ]
    assert rows[0][4] == REFERENCE_TIME
    assert not result.passed
