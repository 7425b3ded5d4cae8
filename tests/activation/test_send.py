"""End to end against the local emulators: the right people get the right text, once, lawfully."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from act_helpers import KST, REF, RUN_DATE, Emu, build_warehouse, campaigns_dir, customer, sms_campaign
from sqlalchemy import select

from activation import assignment
from activation.api import plan_and_send, preview, run_status
from activation.ledger import Ledger
from activation.ledger import schema as s

pytestmark = pytest.mark.integration
SALT = "petmarket-crm-2026"


class Scenario:
    """A campaigns folder, a warehouse and a ledger in one tmp dir; calls the public API on them."""

    def __init__(
        self,
        tmp: Path,
        campaigns: dict,
        models: dict,
        *,
        settings: dict | None = None,
        shipped=(),
        ledger_url: str | None = None,
    ):
        self.dir = campaigns_dir(
            tmp, campaigns, settings={"control_group_pct": 0, **(settings or {})}, shipped=list(shipped)
        )
        self.wh = build_warehouse(tmp / "wh.duckdb", models)
        self.ledger_url = ledger_url or f"sqlite:///{tmp / 'ledger.sqlite'}"
        self.kw = {"campaigns_dir": self.dir, "ledger_url": self.ledger_url, "warehouse": self.wh}

    def send(self, ref: datetime = REF, run_id: str = "run-1", **kw: Any):
        return plan_and_send(RUN_DATE, reference_time=ref, run_id=run_id, **self.kw, **kw)

    def preview(self, campaign_id: str, ref: datetime = REF) -> dict:
        return preview(campaign_id, RUN_DATE, reference_time=ref, **self.kw)

    def intents(self) -> list[dict]:
        ledger = Ledger(self.ledger_url)
        try:
            with ledger.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(select(s.intents))]
        finally:
            ledger.close()


def accepted(emu: Emu) -> list[dict]:
    return [m for m in emu.solapi_messages() if m["phase"] != "rejected"]


def by_campaign(messages: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in messages:
        out.setdefault(m["doc"]["customFields"]["campaign_id"], []).append(m)
    return out


def test_scheduled_and_triggered_campaigns_send_the_right_text(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    signups = [
        {**customer(1), "days_since_signup": 15},
        {**customer(2), "days_since_signup": 30},
        {**customer(3), "days_since_signup": 10},  # too recent
        {**customer(4, region="부산광역시"), "days_since_signup": 20},  # not Seoul
        {**customer(5, is_opted_out=True), "days_since_signup": 20},
        {**customer(6, consent_sms=False), "days_since_signup": 20},
    ] + [{**customer(i), "days_since_signup": 14} for i in range(100, 140)]
    transitions = [
        {**customer(11), "from_segment": "G1", "to_segment": "G2"},
        {**customer(12), "from_segment": "G3", "to_segment": "G2"},  # not from G1
    ] + [{**customer(i), "from_segment": "G1", "to_segment": "G2"} for i in range(200, 230)]
    sc = Scenario(
        tmp_path,
        {},
        {"audience_signup_no_purchase": signups, "audience_segment_transitions": transitions},
        shipped=["seoul_signup_no_purchase_weekly", "transition_g1_to_g2_secret_coupon"],
    )
    seoul_id, secret_id = "seoul_signup_no_purchase_weekly", "transition_g1_to_g2_secret_coupon"
    previews = {cid: sc.preview(cid) for cid in (seoul_id, secret_id)}

    result = sc.send()
    assert result.ok, result.errors
    # the groups are scheduled for 09:00 and 12:00; let the emulator's clock pass both
    emu.set_clock(datetime(2026, 11, 23, 12, 30, tzinfo=KST))
    status = run_status(
        RUN_DATE,
        refresh=True,
        reference_time=datetime(2026, 11, 23, 12, 30, tzinfo=KST),
        campaigns_dir=sc.dir,
        ledger_url=sc.ledger_url,
    )
    assert status["errors"] == []

    sent = by_campaign(accepted(emu))
    seoul_eligible = {f"m{i:06d}" for i in (1, 2, *range(100, 140))}
    seoul_expected = {c for c in seoul_eligible if not assignment.in_holdout(seoul_id, c, SALT, 10)}
    secret_eligible = {f"m{i:06d}" for i in (11, *range(200, 230))}
    secret_expected = {c for c in secret_eligible if not assignment.in_holdout(secret_id, c, SALT, 10)}
    assert {m["doc"]["customFields"]["customer_id"] for m in sent[seoul_id]} == seoul_expected
    assert {m["doc"]["customFields"]["customer_id"] for m in sent[secret_id]} == secret_expected
    # the preview's counts are what was sent (counted at the emulator)
    assert previews[seoul_id]["to_send"] == len(sent[seoul_id]) == previews[seoul_id]["summary"]["recipients"]
    assert previews[secret_id]["to_send"] == len(sent[secret_id])
    assert previews[seoul_id]["summary"]["holdout"] == len(seoul_eligible - seoul_expected)
    assert previews[seoul_id]["summary"]["by_reason"] == {"opted_out": 1, "no_consent": 1}
    # rendered exactly, sent at the scheduled times
    one = next(m for m in sent[seoul_id] if m["doc"]["customFields"]["customer_id"] in seoul_expected)
    cid = one["doc"]["customFields"]["customer_id"]
    n = int(cid[1:])
    assert one["doc"]["text"] == (
        f"(광고)펫마켓 1588-0000\n고객{n}님, 가입 선물로 드린 첫 구매 10% 할인이 아직 남아 있어요. "
        f"https://petmarket.example/?utm_source=crm&utm_medium=sms&utm_campaign={seoul_id}&utm_content=A\n"
        "무료수신거부 080-500-0000"
    )
    assert one["doc"]["to"] == f"010{10000000 + n:08d}" and one["doc"]["from"] == "0212345678"
    assert {m["sent_at"][:16] for m in sent[seoul_id]} == {"2026-11-23T00:00"}  # 09:00 KST in UTC
    assert {m["sent_at"][:16] for m in sent[secret_id]} == {"2026-11-23T03:00"}  # 12:00 KST
    assert {m["status_code"] for m in sent[seoul_id]} <= {"4000", "3040", "3043"}
    # the ledger agrees
    intents = sc.intents()
    delivered = [i for i in intents if i["status"] == "delivered"]
    assert len(delivered) >= len(seoul_expected) + len(secret_expected) - 5
    assert all(i["reason"] for i in intents if i["status"] == "suppressed")

    # re-running the same date sends nothing new
    before = len(emu.solapi_messages())
    again = sc.send(run_id="run-2")
    assert again.ok and again.sent == {} and len(emu.solapi_messages()) == before


def test_no_advertising_at_night_without_night_consent(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    rows = [customer(i) for i in range(1, 21)] + [
        customer(i, consent_night=True, consent_night_at=datetime(2026, 1, 1)) for i in range(21, 31)
    ]
    campaigns = {
        "late_sms": sms_campaign(trigger={"type": "schedule", "cron": "30 22 * * MON"}),
        "late_drop": sms_campaign(
            trigger={"type": "schedule", "cron": "30 22 * * MON"},
            quiet_hours="drop",
            channel="email",
            priority=5,
        ),
    }
    sc = Scenario(tmp_path, campaigns, {"audience_customers": rows}, settings={"daily_limit": 2})
    result = sc.send()
    assert result.ok, result.errors
    emu.set_clock(datetime(2026, 11, 24, 9, 0, tzinfo=KST))
    run_status(
        RUN_DATE,
        refresh=True,
        reference_time=datetime(2026, 11, 24, 9, 0, tzinfo=KST),
        campaigns_dir=sc.dir,
        ledger_url=sc.ledger_url,
    )
    messages = accepted(emu)
    assert len(messages) == 30
    night_consent = {f"m{i:06d}" for i in range(21, 31)}
    for m in messages:
        sent = datetime.fromisoformat(m["sent_at"].replace("Z", "+00:00")).astimezone(KST)
        is_night = sent.hour >= 21 or sent.hour < 8
        if m["doc"]["customFields"]["customer_id"] not in night_consent:
            assert not is_night, (m["doc"]["customFields"]["customer_id"], sent)
            assert sent == datetime(2026, 11, 24, 8, 0, tzinfo=KST)
        else:
            assert sent == datetime(2026, 11, 23, 22, 30, tzinfo=KST)
    held = [i for i in sc.intents() if i["held"] == "night_hold"]
    assert len(held) == 20
    # e-mail is exempt from the night rule: sent at 22:30 to everyone, held for no one
    mails = emu.hooks("email")
    assert sum(len(h["payload"]["messages"]) for h in mails) == 30


def test_every_advertising_message_carries_the_marks(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for(solapi_non_kakao_rate=0.5)
    rows = [customer(i) for i in range(1, 41)]
    review = [
        {
            **customer(i),
            "order_id": f"o{i}",
            "product_no": 1,
            "product_name": "패드",
            "days_since_delivery": 3,
        }
        for i in range(1, 11)
    ]
    campaigns = {
        "ad_sms": sms_campaign(
            message={"text": "(광고) 이미 표시한 문구 #{이름}님\n무료수신거부 080-000-0000"}
        ),
        "ad_ft": sms_campaign(
            channel="friendtalk", message={"text": "#{이름}님 " + "긴 본문 " * 20}, priority=50
        ),
    }
    sc = Scenario(
        tmp_path,
        campaigns,
        {"audience_customers": rows, "audience_review_requests": review},
        settings={"daily_limit": 3},
        shipped=["review_request_3d"],
    )
    result = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST))  # past 10:00: sent at once
    assert result.ok, result.errors
    emu.set_clock(datetime(2026, 11, 23, 15, 0, tzinfo=KST))
    run_status(
        RUN_DATE,
        refresh=True,
        reference_time=datetime(2026, 11, 23, 15, 0, tzinfo=KST),
        campaigns_dir=sc.dir,
        ledger_url=sc.ledger_url,
    )
    msgs = accepted(emu)
    camps = Counter(m["doc"]["customFields"]["campaign_id"] for m in msgs)
    assert camps == {"ad_sms": 40, "ad_ft": 40, "review_request_3d": 10}
    for m in msgs:
        text = m["doc"]["text"]
        if m["doc"]["customFields"]["campaign_id"] == "review_request_3d":
            assert not text.startswith("(광고)") and "무료수신거부" not in text
            continue
        assert text.startswith("(광고)펫마켓 1588-0000\n"), text
        assert text.endswith("\n무료수신거부 080-500-0000"), text
        assert text.count("(광고)") == 1 and text.count("무료수신거부") == 1
    # FriendTalk that fell back to SMS/LMS (non-Kakao users) kept the marks: the fallback text is the same text
    fallbacks = [m for m in msgs if m["replacement"]]
    assert fallbacks and all(
        m["doc"]["text"].startswith("(광고)")
        for m in fallbacks
        if m["doc"]["customFields"]["campaign_id"] == "ad_ft"
    )


def test_nothing_reaches_opted_out_control_or_holdout(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    rows = [customer(i) for i in range(1, 201)] + [customer(i, is_opted_out=True) for i in range(201, 211)]
    blocked = f"010{10000000 + 7:08d}"
    requests.put(emu.urls["solapi"] + "/_emulator/solapi/optouts", json={"numbers": [blocked]}, timeout=5)
    sc = Scenario(
        tmp_path,
        {
            "first": sms_campaign(holdout_pct=20),
            "second": sms_campaign(channel="friendtalk", message={"text": "안녕 #{이름}"}),
        },
        {"audience_customers": rows},
        settings={"control_group_pct": 15},
    )
    result = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST), campaign_ids=["first"])
    assert result.ok, result.errors
    assert result.opt_outs_learned == 1  # Solapi answered 1061 for the 080-listed number
    intents = {(i["campaign_id"], i["customer_id"]): i for i in sc.intents()}
    assert intents[("first", "m000007")]["reason"] == "provider_opt_out"
    # the second campaign, planned later in the same day, no longer targets the learned opt-out
    result2 = sc.send(ref=datetime(2026, 11, 23, 10, 40, tzinfo=KST), campaign_ids=["second"], run_id="run-2")
    assert result2.ok, result2.errors
    intents = {(i["campaign_id"], i["customer_id"]): i for i in sc.intents()}
    excluded = {
        cid
        for (camp, cid), i in intents.items()
        if i["status"] in ("control", "holdout") or i["reason"] in ("opted_out", "provider_opt_out")
    }
    control = {cid for (camp, cid), i in intents.items() if i["status"] == "control"}
    holdout = {cid for (camp, cid), i in intents.items() if camp == "first" and i["status"] == "holdout"}
    assert len(control) > 10 and len(holdout) > 10
    reached = [m for m in accepted(emu)]
    for m in reached:
        cid, camp = m["doc"]["customFields"]["customer_id"], m["doc"]["customFields"]["campaign_id"]
        assert cid not in control, cid
        assert not (camp == "first" and cid in holdout)
        assert int(cid[1:]) <= 200, "opted-out customer reached"
        assert m["doc"]["to"] != blocked
    assert intents[("second", "m000007")]["reason"] == "opted_out"
    assert excluded  # recorded, with reasons
    assert all(i["reason"] for i in intents.values() if i["status"] in ("suppressed", "control", "holdout"))


def test_push_and_email_go_through_the_signed_webhook_once(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for(extra={"max_batch_messages": 7})
    rows = [customer(i) for i in range(1, 31)] + [customer(31, email="broken-address")]
    campaigns = {
        "app_push": sms_campaign(channel="push", message={"text": "#{이름}님 추천", "subject": "추천 상품"}),
        "news": sms_campaign(
            channel="email", message={"text": "#{이름}님 소식", "subject": "이번 주 소식"}, priority=10
        ),
    }
    sc = Scenario(tmp_path, campaigns, {"audience_customers": rows}, settings={"daily_limit": 2})
    result = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST))
    assert result.ok, result.errors
    pushes = [m for h in emu.hooks("push") for m in h["payload"]["messages"]]
    mails = [m for h in emu.hooks("email") for m in h["payload"]["messages"]]
    assert len(pushes) == 31 and len({p["intent_id"] for p in pushes}) == 31
    assert len(mails) == 30  # the malformed address is suppressed
    assert all(p["message"]["title"].startswith("(광고)") for p in pushes)
    assert all(m["message"]["text"].endswith("무료수신거부 080-500-0000") for m in mails)
    stored = emu.stats("webhook")["webhook.stored"]
    assert stored == 5 + 5  # batches of at most 7
    again = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST), run_id="run-2")
    assert again.ok and emu.stats("webhook")["webhook.stored"] == stored


@pytest.mark.postgres
def test_postgres_ledger_gives_the_same_result(
    tmp_path: Path, start_emulators_for, pg_ledger_url: str
) -> None:
    emu = start_emulators_for()
    rows = [customer(i) for i in range(1, 61)]
    sc = Scenario(
        tmp_path,
        {"pg_sms": sms_campaign(holdout_pct=10)},
        {"audience_customers": rows},
        ledger_url=pg_ledger_url,
    )
    pv = sc.preview("pg_sms", ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST))
    result = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST))
    assert result.ok, result.errors
    assert pv["to_send"] == len(accepted(emu)) == result.campaigns["pg_sms"].by_status["accepted"]
    again = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST), run_id="run-2")
    assert again.sent == {} and len(accepted(emu)) == pv["to_send"]
    holdout = {i["customer_id"] for i in sc.intents() if i["status"] == "holdout"}
    assert holdout == {
        f"m{i:06d}" for i in range(1, 61) if assignment.in_holdout("pg_sms", f"m{i:06d}", SALT, 10)
    }


def test_send_list_gate_runs_before_anything_is_sent(tmp_path: Path, start_emulators_for) -> None:
    from expectations import validate_send_list

    emu = start_emulators_for()
    rows = [customer(i) for i in range(1, 31)] + [
        customer(31, consent_night=True, consent_night_at=datetime(2026, 1, 1))
    ]
    campaigns = {
        "gated_sms": sms_campaign(holdout_pct=10),
        "gated_ft": sms_campaign(channel="friendtalk", priority=5, message={"text": "#{이름}님 안녕"}),
    }
    sc = Scenario(tmp_path, campaigns, {"audience_customers": rows}, settings={"daily_limit": 2})
    seen: dict = {}

    def refuse(send_list) -> None:
        seen["rows"] = len(send_list.rows)
        raise RuntimeError("send list refused")

    with pytest.raises(RuntimeError, match="send list refused"):
        sc.send(before_send=refuse)
    assert seen["rows"] > 40 and sc.intents() == [] and accepted(emu) == []

    def gate(send_list) -> None:
        frame = send_list.frame()
        assert set(frame["campaign_id"]) == {"gated_sms", "gated_ft"}
        result = validate_send_list(
            frame,
            send_list.campaigns,
            send_list.run_date,
            send_list.run_id,
            reference_time=send_list.reference_time,
            report_dir=tmp_path / "quality",
        )
        seen["gate"] = result
        result.raise_if_failed()

    result = sc.send(before_send=gate)
    assert result.ok, result.errors
    assert len(accepted(emu)) == seen["rows"]


def test_retryable_failures_are_carried_to_the_next_run_and_obey_the_night_rule(
    tmp_path: Path, start_emulators_for
) -> None:
    emu = start_emulators_for(
        solapi_balance=500
    )  # enough for 10 LMS; the rest is rejected with 1030 (no balance)
    rows = [customer(i) for i in range(1, 26)]
    sc = Scenario(tmp_path, {"promo": sms_campaign()}, {"audience_customers": rows})
    first = sc.send(ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST))
    assert first.ok, first.errors
    assert first.sent == {"accepted": 10, "retry": 15}
    retry = [i for i in sc.intents() if i["status"] == "retry"]
    assert len(retry) == 15 and {i["reason"] for i in retry} == {"provider_1030"}

    emu.handle.ctx.options["solapi_balance"] = None  # the account is topped up
    next_ref = datetime(2026, 11, 24, 1, 0, tzinfo=KST)  # the next nightly run, at night
    second = plan_and_send(RUN_DATE.replace(day=23), reference_time=next_ref, run_id="run-next", **sc.kw)
    assert second.ok, second.errors
    carried = {i["intent_id"]: i for i in sc.intents() if i["intent_id"] in {r["intent_id"] for r in retry}}
    assert {i["status"] for i in carried.values()} == {"accepted"}
    assert {i["attempts"] for i in carried.values()} == {2}
    # advertising at 01:00 without night consent: held to 08:00 and scheduled at the provider
    assert {i["held"] for i in carried.values()} == {"night_hold"}
    emu.set_clock(datetime(2026, 11, 24, 9, 0, tzinfo=KST))
    run_status(
        RUN_DATE,
        refresh=True,
        reference_time=datetime(2026, 11, 24, 9, 0, tzinfo=KST),
        campaigns_dir=sc.dir,
        ledger_url=sc.ledger_url,
    )
    sent_times = {
        m["sent_at"][:16] for m in accepted(emu) if m["doc"]["customFields"]["intent_id"] in carried
    }
    assert sent_times == {"2026-11-23T23:00"}  # 08:00 KST
    assert len(accepted(emu)) == 25


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_campaign_runs_are_serialised_by_the_ledger_lock(
    tmp_path: Path, start_emulators_for, engine: str, request: pytest.FixtureRequest
) -> None:
    import threading

    emu = start_emulators_for()
    url = None if engine == "sqlite" else request.getfixturevalue("pg_ledger_url")
    rows = [customer(i) for i in range(1, 41)]
    campaigns = {
        "high": sms_campaign(priority=500),
        "low": sms_campaign(priority=10, channel="friendtalk", message={"text": "안녕"}),
    }
    sc = Scenario(tmp_path, campaigns, {"audience_customers": rows}, ledger_url=url)
    results: dict[str, Any] = {}

    def run(cid: str) -> None:
        results[cid] = sc.send(
            ref=datetime(2026, 11, 23, 10, 30, tzinfo=KST), campaign_ids=[cid], run_id=f"dag-{cid}"
        )

    threads = [threading.Thread(target=run, args=(cid,)) for cid in ("low", "high")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["low"].ok and results["high"].ok
    per_customer = Counter(m["doc"]["customFields"]["customer_id"] for m in accepted(emu))
    assert len(per_customer) == 40 and set(per_customer.values()) == {
        1
    }  # daily_limit 1 held across both runs
    assert {m["doc"]["customFields"]["campaign_id"] for m in accepted(emu)} == {
        "high"
    }  # priority, whatever ran first
    assert results["low"].campaigns["low"].by_reason == {"lower_priority": 40}
