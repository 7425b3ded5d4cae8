"""Content decides what an advertisement is (정보통신망법 §50), and what a message says is checked by ``crm validate``:
advertising by content, the marks never doubled, SMS characters and length, the cron's clock, customer values."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from act_helpers import KST, REF, RUN_DATE, build_warehouse, campaigns_dir, customer, sms_campaign

from activation.audience import AudienceReader
from activation.config import ConfigError, load_config
from activation.content import advertising_findings
from activation.ledger import Ledger
from activation.personalize import render_message
from activation.planning import Planner

# the issue's example: informational label, promotional text, 23:00, customers without consent
BYPASS = sms_campaign(
    kind="informational",
    trigger={"type": "schedule", "cron": "0 23 * * MON"},
    message={"text": "[광고] 50% 할인 쿠폰 #{링크}"},
)
PROMO_INFO = sms_campaign(
    kind="informational",
    trigger={"type": "schedule", "cron": "0 23 * * MON"},
    message={"text": "#{이름}님, 50% 할인 쿠폰이 도착했어요 #{링크}"},
)
REVIEW = {
    "decision": "informational",
    "approved_by": "법무팀 김지현",
    "approved_on": "2026-11-01",
    "reason": "약관 고지",
}


def issues(folder: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    return [(i.file, i.field, i.reason) for i in info.value.issues]


def test_the_informational_label_does_not_hide_an_advertisement(tmp_path: Path) -> None:
    found = issues(campaigns_dir(tmp_path, {"bypass": BYPASS, "promo_info": PROMO_INFO}))
    by_file = {f: (field, reason) for f, field, reason in found}
    field, reason = by_file["bypass.yml"]
    assert (
        field == "message.text"
        and "advertising marker '[광고]'" in reason
        and "set kind: advertising" in reason
    )
    field, reason = by_file["promo_info.yml"]
    assert field == "message.text" and "variant 'A'" in reason
    assert "'할인'" in reason and "'쿠폰'" in reason and "percentage '50%'" in reason
    assert "advertising_review" in reason  # the way out is named


@pytest.mark.parametrize(
    "text",
    [
        "( 광고 ) 주문 안내",
        "【광고】 주문 안내",
        "주문하신 상품 9,900원",
        "FREE SHIPPING this week",
        "ＳＡＬＥ 진행 중",  # full-width letters
        "쿠\u200b폰 도착",  # a zero-width space inside the word
        "무료 배송 안내",
        "Use promo code PET10",
        "지금 보러 가기 https://petmarket.example/product/detail.html?product_no=12",
    ],
)
def test_promotional_content_is_found_in_any_disguise(text: str) -> None:
    assert advertising_findings(text), text


@pytest.mark.parametrize(
    "text",
    [
        "[펫마켓] 김민준님, 주문하신 상품이 출발했습니다. 배송 조회: https://petmarket.example/?utm_source=crm",
        "정기배송이 1회 남았습니다. 이용 종료 예정일: 2026-12-01",
        "무료수신거부 080-500-0000",
        "Your order has shipped; it is a great ideal for wholesale",
    ],
)
def test_information_is_not_flagged(text: str) -> None:
    assert advertising_findings(text) == []


def test_every_variant_subject_button_and_template_is_checked(tmp_path: Path) -> None:
    info = {"kind": "informational", "trigger": {"type": "schedule", "cron": "0 10 * * MON"}}
    folder = campaigns_dir(
        tmp_path,
        {
            "second_variant": sms_campaign(
                **info,
                channel="push",
                message={"text": "주문 안내 #{링크}", "subject": "안내"},
                variants=[{"id": "A"}, {"id": "B", "subject": "Black Friday"}],
            ),
            "button_link": sms_campaign(
                **info,
                channel="friendtalk",
                message={
                    "text": "주문 안내",
                    "buttons": [{"name": "보기", "link_mobile": "https://petmarket.example/event/77"}],
                },
            ),
        },
    )
    templates = folder / "templates.yml"
    templates.write_text(
        templates.read_text(encoding="utf-8")
        + "  - id: TPL_PROMO\n    pf_id: KA01PF2026PETMARKET\n    name: promo\n"
        + '    content: "#{이름}님, 적립금 2배 이벤트!"\n',
        encoding="utf-8",
    )
    (folder / "alim_promo.yml").write_text(
        "id: alim_promo\nname: x\naudience: {model: audience_customers}\n"
        "trigger: {type: schedule, cron: '0 10 * * MON'}\nchannel: alimtalk\nkind: informational\n"
        "message: {template_id: TPL_PROMO}\n",
        encoding="utf-8",
    )
    by_file = {f: (field, reason) for f, field, reason in issues(folder)}
    assert by_file["second_variant.yml"][0] == "variants[1].text"
    assert (
        "variant 'B'" in by_file["second_variant.yml"][1]
        and "Black Friday" in by_file["second_variant.yml"][1]
    )
    assert (
        "link to a product or event page 'https://petmarket.example/event/77'"
        in by_file["button_link.yml"][1]
    )
    assert by_file["alim_promo.yml"][0] == "message.template_id"
    assert (
        "template 'TPL_PROMO'" in by_file["alim_promo.yml"][1] and "'적립금'" in by_file["alim_promo.yml"][1]
    )


def test_a_recorded_review_lets_it_through_and_is_printed_with_every_plan(tmp_path: Path) -> None:
    folder = campaigns_dir(tmp_path, {"promo_info": {**PROMO_INFO, "advertising_review": REVIEW}})
    config = load_config(folder)
    record = config.reviews["promo_info"]
    assert (record.approved_by, record.approved_on) == ("법무팀 김지현", "2026-11-01")
    assert "'할인'" in record.findings
    wh = build_warehouse(tmp_path / "wh.duckdb", {"audience_customers": [customer(1, consent_sms=False)]})
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        plan = Planner(config, ledger, AudienceReader(wh)).plan(RUN_DATE, REF, "t")
    finally:
        ledger.close()
    cp = plan.get("promo_info")
    assert cp is not None and any(
        "advertising_review: sent as informational by decision of 법무팀 김지현 on 2026-11-01" in w
        for w in cp.warnings
    ), cp.warnings


def test_a_review_cannot_cover_a_declared_advertisement_or_an_advertising_campaign(tmp_path: Path) -> None:
    folder = campaigns_dir(
        tmp_path,
        {
            "marked": {**BYPASS, "advertising_review": REVIEW},
            "already_ad": sms_campaign(advertising_review=REVIEW),
            "no_name": {
                **PROMO_INFO,
                "advertising_review": {"decision": "informational", "approved_on": "2026-11-01"},
            },
        },
    )
    by_file = {f: (field, reason) for f, field, reason in issues(folder)}
    assert "advertising marker" in by_file["marked.yml"][1]
    assert by_file["already_ad.yml"][0] == "advertising_review"
    assert by_file["no_name.yml"][0] == "advertising_review.approved_by"


def test_ad_marks_are_never_doubled_whatever_the_marketer_typed(tmp_path: Path) -> None:
    folder = campaigns_dir(
        tmp_path,
        {
            "sms_typed": sms_campaign(
                message={"text": "[광고] 펫마켓 1588-0000\n#{이름}님 쿠폰\n수신거부 080-500-0000"}
            ),
            "header": sms_campaign(message={"text": "[펫마켓] #{이름}님 쿠폰"}),
            "push_typed": sms_campaign(
                channel="push", message={"text": "쿠폰", "subject": "[광고] 주말 세일"}
            ),
        },
    )
    config = load_config(folder)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=KST)
    texts = {}
    for cid in ("sms_typed", "header", "push_typed"):
        c = config.campaign(cid)
        texts[cid] = render_message(
            c,
            c.resolved_variants()[0],
            config.settings,
            config.templates,
            customer(1),
            at,
            sms_fallback_allowed=False,
        )
    for cid in ("sms_typed", "header"):
        text = texts[cid].text
        assert text.startswith("(광고)펫마켓 1588-0000\n고객1님 쿠폰"), text
        assert text.count("광고") == 1 and text.count("펫마켓") == 1 and text.count("수신거부") == 1, text
    assert texts["push_typed"].subject == "(광고) 주말 세일"


def test_sms_emoji_and_length_are_caught_by_validate(tmp_path: Path) -> None:
    folder = campaigns_dir(
        tmp_path,
        {
            "emoji": sms_campaign(message={"text": "#{이름}님 쿠폰 도착 🎁 #{링크}"}),
            "emoji_value": sms_campaign(
                variables={"선물": {"value": "🎁"}}, message={"text": "#{선물} 쿠폰"}
            ),
            "too_long": sms_campaign(message={"text": "가" * 995}),  # 1990 bytes: over 2000 with the marks
            "kakao_long": sms_campaign(channel="friendtalk", message={"text": "가" * 990}),
            "fits": sms_campaign(message={"text": "가" * 960}),
        },
    )
    by_file = {f: (field, reason) for f, field, reason in issues(folder)}
    assert set(by_file) == {"emoji.yml", "emoji_value.yml", "too_long.yml", "kakao_long.yml"}
    assert by_file["emoji.yml"][0] == "message.text" and "'🎁'" in by_file["emoji.yml"][1]
    assert "EUC-KR" in by_file["emoji_value.yml"][1]
    assert "over the LMS limit of 2000 bytes" in by_file["too_long.yml"][1]
    assert "with the advertising marks" in by_file["too_long.yml"][1]
    assert "over the FriendTalk limit of 1000" in by_file["kakao_long.yml"][1]


def test_a_cron_in_another_timezone_is_rejected_with_its_korean_time(tmp_path: Path) -> None:
    folder = campaigns_dir(
        tmp_path,
        {
            "new_york": sms_campaign(
                trigger={"type": "schedule", "cron": "0 9 * * MON", "timezone": "America/New_York"}
            ),
            "tokyo": sms_campaign(
                trigger={"type": "schedule", "cron": "0 9 * * MON", "timezone": "Asia/Tokyo"}
            ),
        },
    )
    ((file, field, reason),) = issues(folder)
    assert (file, field) == ("new_york.yml", "trigger.schedule.timezone")
    assert "Mon 09:00 America/New_York is Mon 23:00 in Asia/Seoul" in reason


def test_customer_values_cannot_put_links_or_lines_into_a_message(tmp_path: Path) -> None:
    config = load_config(campaigns_dir(tmp_path, {"ad": sms_campaign()}))
    c = config.campaign("ad")
    at = datetime(2026, 11, 23, 10, 0, tzinfo=KST)

    def text_for(name: str) -> str:
        row = customer(1, customer_name=name)
        return render_message(
            c,
            c.resolved_variants()[0],
            config.settings,
            config.templates,
            row,
            at,
            sms_fallback_allowed=False,
        ).text

    text = text_for("김철수\n\n당첨! https://evil.example/win 접속\u202e")
    body = text.split("\n")[1]
    assert body.startswith("김철수 당첨! 접속님 쿠폰 https://petmarket.example/"), text
    assert "evil" not in text and text.count("\n") == 2 and "\u202e" not in text
    assert text_for("www.evil.com\t").split("\n")[1].startswith("고객님 쿠폰")  # nothing left: the fallback


def test_a_text_in_a_number_filter_is_named_not_a_duckdb_error(tmp_path: Path) -> None:
    from activation.api import plan_and_send
    from activation.validation import check_against_warehouse

    bad = sms_campaign(
        audience={
            "model": "audience_signup_no_purchase",
            "filter": [{"column": "days_since_signup", "op": "gte", "value": "14"}],
        }
    )
    folder = campaigns_dir(tmp_path, {"typed": bad})
    wh = build_warehouse(
        tmp_path / "wh.duckdb", {"audience_signup_no_purchase": [customer(1, days_since_signup=20)]}
    )
    problems = check_against_warehouse(load_config(folder), wh)
    assert problems == [
        "typed.yml: audience.filter[0].value: value '14' (text) does not fit column 'days_since_signup' of type "
        "INTEGER: write a whole number without quotes (audience_signup_no_purchase)"
    ]
    result = plan_and_send(
        RUN_DATE,
        reference_time=REF,
        run_id="t",
        dry_run=True,
        campaigns_dir=folder,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        warehouse=wh,
    )
    assert result.errors == [
        "typed: audiences.audience_signup_no_purchase: filter on 'days_since_signup': value '14' (text) does not "
        "fit column 'days_since_signup' of type INTEGER: write a whole number without quotes"
    ]
