"""Planning on a real DuckDB audience and a real ledger: every policy, its reason code and its order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from act_helpers import KST, REF, RUN_DATE, build_warehouse, campaigns_dir, customer, sms_campaign

from activation.audience import AudienceReader
from activation.config import load_config
from activation.intent import FIELDS, LEDGER_ONLY, Intent
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.planning import Plan, Planner, idempotency_key, intent_id


def make_plan(
    tmp_path: Path,
    campaigns: dict[str, dict],
    models: dict[str, list[dict]],
    *,
    settings: dict | None = None,
    ref: datetime = REF,
    run_date: date = RUN_DATE,
    ledger: Ledger | None = None,
    shipped: list[str] = (),
) -> Plan:
    folder = campaigns_dir(
        tmp_path, campaigns, settings={"control_group_pct": 0, **(settings or {})}, shipped=shipped
    )
    wh = tmp_path / "wh.duckdb"
    if models:
        build_warehouse(wh, models, run_date=run_date)
    own = ledger is None
    ledger = ledger or Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        return Planner(load_config(folder), ledger, AudienceReader(wh)).plan(run_date, ref, "test-run")
    finally:
        if own:
            ledger.close()


def by_customer(plan: Plan, campaign_id: str) -> dict[str, Intent]:
    cp = plan.get(campaign_id)
    assert cp is not None and cp.error is None, cp and cp.error
    return {i.customer_id: i for i in cp.intents}


def test_policies_give_the_first_failing_reason(tmp_path: Path) -> None:
    old = datetime(2023, 1, 1)
    rows = [
        customer(0, phone=None),
        customer(1, has_valid_phone=False, phone="0212345678"),
        customer(2, is_opted_out=True, consent_sms=False),
        customer(3, consent_sms=False),
        customer(4, consent_sms_at=old),
        customer(5, customer_name="가" * 1100),
        customer(6, customer_name="별🌟"),
        customer(7),
        customer(8, segment="G3"),  # not in the audience filter: no intent at all
    ]
    plan = make_plan(tmp_path, {"sms_ad": sms_campaign()}, {"audience_customers": rows})
    got = {cid: (i.status, i.reason) for cid, i in by_customer(plan, "sms_ad").items()}
    assert got == {
        "m000000": ("suppressed", "invalid_contact"),
        "m000001": ("suppressed", "invalid_contact"),
        "m000002": ("suppressed", "opted_out"),
        "m000003": ("suppressed", "no_consent"),
        "m000004": ("suppressed", "consent_expired"),
        "m000005": ("suppressed", "message_too_long"),
        "m000006": ("suppressed", "unencodable_text"),
        "m000007": ("planned", None),
    }
    sent = by_customer(plan, "sms_ad")["m000007"]
    assert sent.recipient == "01010000007" and sent.recipient_masked == "010-****-0007"
    text = sent.payload["body"]["text"]
    assert text.startswith("(광고)펫마켓 1588-0000\n고객7님 쿠폰 https://petmarket.example/?utm_source=crm")
    assert text.endswith("\n무료수신거부 080-500-0000")
    assert sent.message_type == "SMS" if len(text.encode("euc-kr")) <= 90 else "LMS"
    assert sent.intent_id == intent_id(idempotency_key("sms_ad", RUN_DATE, "m000007", "main"))
    # suppressed intents keep no raw address
    assert all(i.recipient is None for cid, i in by_customer(plan, "sms_ad").items() if cid != "m000007")


@pytest.mark.parametrize("quiet", ["hold", "drop"])
def test_night_rule_hold_or_drop(tmp_path: Path, quiet: str) -> None:
    rows = [customer(1), customer(2, consent_night=True, consent_night_at=datetime(2026, 1, 1))]
    campaigns = {
        "night_ad": sms_campaign(trigger={"type": "schedule", "cron": "30 22 * * MON"}, quiet_hours=quiet),
        "night_info": sms_campaign(
            trigger={"type": "schedule", "cron": "30 22 * * MON"},
            kind="informational",
            priority=1,
            message={"text": "#{이름}님, 주문하신 상품이 출발했어요 #{링크}"},
        ),
    }
    plan = make_plan(tmp_path, campaigns, {"audience_customers": rows}, settings={"daily_limit": 2})
    ad = by_customer(plan, "night_ad")
    night = datetime(2026, 11, 23, 22, 30, tzinfo=KST)
    assert ad["m000002"].status == "planned" and ad["m000002"].send_at == night
    if quiet == "hold":
        assert ad["m000001"].status == "planned"
        assert ad["m000001"].send_at == datetime(2026, 11, 24, 8, 0, tzinfo=KST)
        assert ad["m000001"].held == "night_hold"
    else:
        assert (ad["m000001"].status, ad["m000001"].reason) == ("suppressed", "night_no_consent")
    info = by_customer(plan, "night_info")
    assert {i.status for i in info.values()} == {"planned"}  # informational messages are not advertising
    assert all(i.send_at == night for i in info.values())


def test_email_is_exempt_from_the_night_rule_and_friendtalk_waits_for_its_window(tmp_path: Path) -> None:
    rows = [customer(1)]
    campaigns = {
        "night_mail": sms_campaign(channel="email", trigger={"type": "schedule", "cron": "0 23 * * MON"}),
        "evening_ft": sms_campaign(
            channel="friendtalk",
            trigger={"type": "schedule", "cron": "30 20 * * MON"},
            message={"text": "#{이름}님 안녕하세요"},
        ),
        "evening_ft_drop": sms_campaign(
            channel="friendtalk",
            quiet_hours="drop",
            trigger={"type": "schedule", "cron": "30 20 * * MON"},
            message={"text": "안녕"},
        ),
    }
    plan = make_plan(
        tmp_path,
        campaigns,
        {"audience_customers": rows},
        settings={"daily_limit": 3, "frequency_cap": {"max": 5, "days": 7}},
    )
    mail = by_customer(plan, "night_mail")["m000001"]
    assert mail.status == "planned" and mail.send_at == datetime(2026, 11, 23, 23, 0, tzinfo=KST)
    assert mail.payload["body"]["title"].startswith("(광고)")
    ft = by_customer(plan, "evening_ft")["m000001"]
    assert ft.held == "friendtalk_hold" and ft.send_at == datetime(2026, 11, 24, 8, 0, tzinfo=KST)
    dropped = by_customer(plan, "evening_ft_drop")["m000001"]
    assert (dropped.status, dropped.reason) == ("suppressed", "friendtalk_window")


def test_friendtalk_evening_with_night_consent_still_waits_for_window(tmp_path: Path) -> None:
    rows = [customer(1, consent_night=True, consent_night_at=datetime(2026, 1, 1))]
    body = sms_campaign(
        channel="friendtalk", trigger={"type": "schedule", "cron": "30 20 * * MON"}, message={"text": "안녕"}
    )
    ft = by_customer(make_plan(tmp_path, {"ft": body}, {"audience_customers": rows}), "ft")["m000001"]
    assert ft.held == "friendtalk_hold" and ft.send_at == datetime(2026, 11, 24, 8, 0, tzinfo=KST)


def test_friendtalk_fallback_needs_sms_consent(tmp_path: Path) -> None:
    rows = [customer(1), customer(2, consent_sms=False)]
    body = sms_campaign(channel="friendtalk", message={"text": "#{이름}님 안녕"})
    ft = by_customer(make_plan(tmp_path, {"ft": body}, {"audience_customers": rows}), "ft")
    assert ft["m000001"].payload["body"]["kakaoOptions"]["disableSms"] is False
    assert ft["m000001"].fallback_type in ("SMS", "LMS")
    assert ft["m000002"].status == "planned"
    assert ft["m000002"].payload["body"]["kakaoOptions"]["disableSms"] is True


def test_priority_daily_limit_and_global_cap(tmp_path: Path) -> None:
    rows = [customer(i) for i in range(40)]
    campaigns = {
        "high": sms_campaign(
            priority=500,
            holdout_pct=20,
            audience={
                "model": "audience_customers",
                "filter": [{"column": "customer_id", "op": "lt", "value": "m000020"}],
            },
        ),
        "low": sms_campaign(priority=10),
    }
    plan = make_plan(tmp_path, campaigns, {"audience_customers": rows})
    assert [cp.campaign.id for cp in plan.campaigns] == ["high", "low"]
    high, low = by_customer(plan, "high"), by_customer(plan, "low")
    assert {i.status for i in high.values()} == {"planned", "holdout"}
    assert sum(i.status == "holdout" for i in high.values()) > 0
    for cid, i in low.items():
        expected = ("suppressed", "lower_priority") if cid in high else ("planned", None)
        assert (i.status, i.reason) == expected, cid


def _prior(
    ledger: Ledger, campaign: str, customer_id: str, when: datetime, kind: str = "advertising"
) -> None:
    key = idempotency_key(campaign, when.date() - timedelta(days=1), customer_id, "main")
    ledger.insert_intents(
        [
            Intent(
                intent_id=intent_id(key),
                idempotency_key=key,
                run_id="earlier",
                run_date=when.date() - timedelta(days=1),
                campaign_id=campaign,
                step="main",
                customer_id=customer_id,
                channel="sms",
                destination="solapi",
                message_kind=kind,
                priority=1,
                status="accepted",
                send_at=when,
                planned_send_at=when,
                created_at=when,
                updated_at=when,
                is_control=False,
                is_holdout=False,
            )
        ]
    )


def test_frequency_caps_count_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    _prior(ledger, "other", "m000001", datetime(2026, 11, 19, 10, 0, tzinfo=KST))
    _prior(ledger, "other2", "m000001", datetime(2026, 11, 20, 10, 0, tzinfo=KST))
    _prior(ledger, "other", "m000002", datetime(2026, 11, 20, 10, 0, tzinfo=KST))
    _prior(ledger, "other", "m000003", datetime(2026, 11, 10, 10, 0, tzinfo=KST))  # outside the 7 days
    _prior(ledger, "capped", "m000004", datetime(2026, 11, 12, 10, 0, tzinfo=KST))
    _prior(ledger, "info", "m000005", datetime(2026, 11, 20, 10, 0, tzinfo=KST), kind="informational")
    _prior(ledger, "info", "m000005", datetime(2026, 11, 21, 10, 0, tzinfo=KST), kind="informational")
    rows = [customer(i) for i in range(1, 6)]
    body = sms_campaign(frequency_cap={"max": 1, "days": 14})
    plan = make_plan(tmp_path, {"capped": body}, {"audience_customers": rows}, ledger=ledger)
    got = {cid: i.reason for cid, i in by_customer(plan, "capped").items()}
    assert got == {
        "m000001": "global_frequency_cap",
        "m000002": None,
        "m000003": None,
        "m000004": "campaign_frequency_cap",
        "m000005": None,  # informational messages do not count for the advertising cap
    }
    ledger.close()


def test_max_recipients_control_and_holdout_are_deterministic(tmp_path: Path) -> None:
    rows = [customer(i) for i in range(200)]
    body = sms_campaign(max_recipients=50, holdout_pct=20)
    first = make_plan(
        tmp_path / "a", {"mx": body}, {"audience_customers": rows}, settings={"control_group_pct": 10}
    )
    second = make_plan(
        tmp_path / "b", {"mx": body}, {"audience_customers": rows}, settings={"control_group_pct": 10}
    )
    a, b = by_customer(first, "mx"), by_customer(second, "mx")
    assert {k: (v.status, v.variant) for k, v in a.items()} == {
        k: (v.status, v.variant) for k, v in b.items()
    }
    counts: dict[str, int] = {}
    for i in a.values():
        counts[i.status] = counts.get(i.status, 0) + 1
    assert counts["suppressed"] == 150
    assert counts["planned"] + counts.get("holdout", 0) + counts.get("control", 0) == 50
    assert counts.get("control", 0) > 0 and counts.get("holdout", 0) > 0
    assert all(i.reason == "max_recipients" for i in a.values() if i.status == "suppressed")
    assert all(i.is_control for i in a.values() if i.status == "control")


def test_max_recipients_renders_only_until_the_recipients_are_chosen(tmp_path: Path) -> None:
    """The chosen customers are the first max_recipients renderable ones in rank order, as if every row had been
    rendered and ranked; the rest are not rendered (no payload) and carry max_recipients."""
    from activation import assignment

    salt = "crm-assignment-v1-petmarket"
    settings = {"assignment_salt": salt}
    ranked = sorted((f"m{i:06d}" for i in range(60)), key=lambda c: assignment.rank("mx", c, salt))
    too_long = {ranked[0], ranked[3], ranked[40]}  # two inside the first ten, one far behind
    rows = [
        customer(i, customer_name="가" * 1100) if f"m{i:06d}" in too_long else customer(i) for i in range(60)
    ]
    plan = make_plan(
        tmp_path, {"mx": sms_campaign(max_recipients=10)}, {"audience_customers": rows}, settings=settings
    )
    got = by_customer(plan, "mx")
    chosen = [c for c in ranked if c not in too_long][:10]
    assert {c for c, i in got.items() if i.status == "planned"} == set(chosen)
    assert got[ranked[0]].reason == got[ranked[3]].reason == "message_too_long"
    behind = [i for c, i in got.items() if c not in chosen and c not in {ranked[0], ranked[3]}]
    assert len(behind) == 48 and {i.reason for i in behind} == {"max_recipients"}
    assert all(i.payload is None for i in behind)  # ranked[40] was never rendered: its reason is the cut
    assert [i.customer_id for i in plan.get("mx").intents] == [
        f"m{i:06d}" for i in range(60)
    ]  # audience order


def test_global_control_group_is_the_same_customer_set_for_every_campaign(tmp_path: Path) -> None:
    rows = [customer(i) for i in range(300)]
    campaigns = {"one": sms_campaign(), "two": sms_campaign(channel="email", priority=50)}
    plan = make_plan(
        tmp_path,
        campaigns,
        {"audience_customers": rows},
        settings={"control_group_pct": 10, "daily_limit": 2},
    )
    one = {c for c, i in by_customer(plan, "one").items() if i.status == "control"}
    two = {c for c, i in by_customer(plan, "two").items() if i.status == "control"}
    assert one == two and 15 < len(one) < 45


def test_exit_on_conversion_reads_the_goal_from_the_warehouse(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    first = datetime(2026, 11, 16, 9, 0, tzinfo=KST)
    for cid in ("m000001", "m000002", "m000003"):
        _prior(ledger, "weekly", cid, first)
    rows = [customer(i) for i in range(1, 5)]
    build_warehouse(tmp_path / "wh.duckdb", {"audience_customers": rows})
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.fct_orders (order_id varchar, customer_id varchar, ordered_at timestamp)")
    con.execute(
        "insert into marts.fct_orders values ('o1', 'm000001', '2026-11-18 12:00:00'), ('o2', 'm000002', '2026-11-10 12:00:00'),"
        " ('o3', 'm000004', '2026-11-18 12:00:00')"
    )
    con.close()
    body = sms_campaign(
        exit_on_conversion=True,
        goal={"event": "purchase", "attribution_days": 7},
        frequency_cap={"max": 5, "days": 7},
    )
    plan = make_plan(
        tmp_path, {"weekly": body}, {}, ledger=ledger, settings={"frequency_cap": {"max": 5, "days": 7}}
    )
    got = {cid: i.reason for cid, i in by_customer(plan, "weekly").items()}
    # m000001 bought after the first message: exits; m000002 bought before; m000004 never got one
    assert got == {"m000001": "converted", "m000002": None, "m000003": None, "m000004": None}
    ledger.close()


def test_missing_conversion_source_stops_only_that_campaign(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    _prior(ledger, "weekly", "m000001", datetime(2026, 11, 16, 9, 0, tzinfo=KST))
    body = sms_campaign(exit_on_conversion=True, goal={"event": "purchase", "attribution_days": 7})
    plan = make_plan(
        tmp_path,
        {"weekly": body, "other": sms_campaign(channel="email")},
        {"audience_customers": [customer(1)]},
        ledger=ledger,
    )
    assert "marts.fct_orders" in (plan.get("weekly").error or "")
    assert plan.get("other").error is None and plan.get("other").intents
    ledger.close()


def test_stale_or_broken_audience_is_refused(tmp_path: Path) -> None:
    rows = [customer(1, run_date=date(2026, 11, 20))]
    plan = make_plan(tmp_path, {"sms_ad": sms_campaign()}, {"audience_customers": rows})
    cp = plan.get("sms_ad")
    assert "refusing stale data" in (cp.error or "") and cp.intents == []
    body = sms_campaign(
        variables={"별명": {"column": "nickname", "fallback": "고객"}}, message={"text": "#{별명}님"}
    )
    plan = make_plan(tmp_path / "x", {"nick": body}, {"audience_customers": [customer(1)]})
    assert "nickname" in (plan.get("nick").error or "")


def test_triggered_campaigns_read_their_transition_rows(tmp_path: Path) -> None:
    trans = [
        {**customer(1), "from_segment": "G1", "to_segment": "G2"},
        {**customer(2), "from_segment": "G3", "to_segment": "G4"},
        {**customer(3), "from_segment": "G2", "to_segment": "G4"},
        {**customer(4), "from_segment": "G2", "to_segment": "G3"},
    ]
    plan = make_plan(
        tmp_path,
        {},
        {"audience_segment_transitions": trans},
        shipped=["transition_any_to_g4_welcome", "transition_g1_to_g2_secret_coupon"],
        settings={"daily_limit": 2},
    )
    welcome = by_customer(plan, "transition_any_to_g4_welcome")
    secret = by_customer(plan, "transition_g1_to_g2_secret_coupon")
    assert set(welcome) == {"m000002", "m000003"}
    assert set(secret) == {"m000001"}
    assert welcome["m000002"].send_at == datetime(2026, 11, 23, 11, 0, tzinfo=KST)


def test_alimtalk_renders_the_template_exactly_without_consent(tmp_path: Path) -> None:
    rows = [
        {
            **customer(1, consent_sms=False, consent_kakao=False),
            "order_id": "o1",
            "product_no": 7,
            "product_name": "강아지 패드",
            "days_since_delivery": 3,
        },
        {
            **customer(2),
            "order_id": "o2",
            "product_no": 7,
            "product_name": "강아지 패드",
            "days_since_delivery": 2,
        },
    ]
    plan = make_plan(tmp_path, {}, {"audience_review_requests": rows}, shipped=["review_request_3d"])
    got = by_customer(plan, "review_request_3d")
    assert set(got) == {"m000001"}
    body = got["m000001"].payload["body"]
    assert body["type"] == "ATA" and body["kakaoOptions"]["templateId"] == "TPL_REVIEW_REQUEST"
    assert body["text"].startswith("[펫마켓] 고객1님, 주문하신 강아지 패드 잘 받으셨나요?")
    assert "(광고)" not in body["text"]
    assert body["kakaoOptions"]["variables"]["#{상품명}"] == "강아지 패드"
    assert body["kakaoOptions"]["disableSms"] is False


def test_existing_intents_are_never_planned_again(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    rows = [customer(i) for i in range(10)]
    first = make_plan(tmp_path, {"sms_ad": sms_campaign()}, {"audience_customers": rows}, ledger=ledger)
    assert ledger.insert_intents(first.new_rows()) == 10
    again = make_plan(tmp_path, {"sms_ad": sms_campaign()}, {"audience_customers": rows}, ledger=ledger)
    assert again.get("sms_ad").intents == [] and len(again.get("sms_ad").existing) == 10
    # the ledger gives back exactly the intents the planner built (timestamps as the same instants, in UTC)
    assert again.get("sms_ad").existing == sorted(first.new_rows(), key=lambda i: i.customer_id)
    assert ledger.insert_intents(first.new_rows()) == 0
    ledger.close()


def test_the_intent_record_covers_the_ledger_columns() -> None:
    columns = [c.name for c in s.intents.columns]
    assert [c for c in columns if c not in LEDGER_ONLY] == list(FIELDS)
    assert set(LEDGER_ONLY) <= set(columns)
    required = {c.name for c in s.intents.columns if not c.nullable and c.default is None}
    defaults = Intent(**{f: None for f in required})  # type: ignore[arg-type]
    for c in s.intents.columns:
        if c.name in FIELDS and c.name not in required:
            # a field left out is what the column holds when the insert leaves it out
            assert getattr(defaults, c.name) == (c.default.arg if c.default is not None else None), c.name
    extra = {**defaults.as_row(), "batch_id": "b1", "final_at": None}
    assert Intent.from_row(extra) == defaults


def test_mapped_variables_never_print_a_raw_code(tmp_path: Path) -> None:
    rows = [
        customer(1, benefit_scope="all_products"),
        customer(2, benefit_scope="mystery_code"),
        customer(3, benefit_scope=None),
    ]
    body = sms_campaign(
        variables={
            "범위": {"column": "benefit_scope", "map": {"all_products": "전 상품"}, "fallback": "일부 상품"}
        },
        message={"text": "#{범위} 할인"},
    )
    got = by_customer(make_plan(tmp_path, {"scope": body}, {"audience_customers": rows}), "scope")
    texts = {cid: i.payload["body"]["text"].split("\n")[1] for cid, i in got.items()}
    assert texts == {"m000001": "전 상품 할인", "m000002": "일부 상품 할인", "m000003": "일부 상품 할인"}
