"""Solapi intake rules: request limits, 1xxx status codes, templates, duplicates, balance, opt-outs."""

from __future__ import annotations

import json

import requests

from emulators.helpers import SENDER, Solapi, sms
from testbed.emulators.solapi_rules import euckr_len


def _codes(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    failed = {f["messageId"]: f["statusCode"] for f in body["failedMessageList"]}
    return [failed.get(m["messageId"], m["statusCode"]) for m in body["messageList"]]


def test_more_than_10000_messages_is_413_and_stores_nothing(solapi):
    messages = [sms(to=f"010{i:08d}") for i in range(10_001)]
    r = solapi.send_many(messages)
    assert (r.status_code, r.json()["errorCode"]) == (413, "RecipientsTooMany")
    assert solapi.list()["messageList"] == {}
    ok = solapi.send_many(messages[:10_000])
    assert ok.status_code == 200
    assert ok.json()["groupInfo"]["count"]["registeredSuccess"] == 10_000


def test_body_over_15_mb_is_413(solapi):
    r = solapi.request("POST", "/messages/v4/groups")
    group_id = r.json()["groupId"]
    big = json.dumps({"messages": [sms(to="01012345678", text="x" * 1900, subject="s", type="LMS")] * 9_000})
    assert len(big.encode()) > 15 * 1024 * 1024
    r = solapi.request(
        "PUT",
        f"/messages/v4/groups/{group_id}/messages",
        data=big,
        headers={"Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["errorCode"]) == (413, "RecipientsTooMany")


def test_group_limit_of_messages(start):
    solapi = Solapi(start(apis=("solapi",), solapi_group_limit=5))
    group_id = solapi.request("POST", "/messages/v4/groups").json()["groupId"]
    path = f"/messages/v4/groups/{group_id}/messages"
    assert solapi.request("PUT", path, json={"messages": [sms(to=f"0101234000{i}") for i in range(4)]}).ok
    r = solapi.request("PUT", path, json={"messages": [sms(to="01099990000"), sms(to="01099990001")]})
    assert (r.status_code, r.json()["errorCode"]) == (413, "RecipientsTooMany")


def test_intake_status_codes(solapi):
    messages = [
        sms(),  # ok
        sms(to="0101234"),  # invalid recipient
        sms(to="01012340001", **{"from": "0299990000"}),  # unregistered sender
        sms(to="01012340002", text="가" * 46, type="SMS"),  # 92 bytes as SMS
        sms(to="01012340003", text="가" * 46, type="LMS"),  # same text as LMS: fine
        sms(to="01012340004", text="가" * 1001, type="LMS"),  # 2002 bytes
        sms(to="01012340005", customFields={"k" * 31: "v"}),  # key too long
        sms(to="01012340006", customFields={"campaign_id": "v" * 101}),  # value too long
        sms(to="01012340007", customFields={"campaign_id": "v" * 100, "k" * 30: "ok"}),  # at the limits: fine
        {"to": "01012340008", "from": SENDER},  # no text
    ]
    assert _codes(solapi.send_many(messages, showMessageList=True)) == [
        "2000",
        "1020",
        "1062",
        "1031",
        "2000",
        "1031",
        "1021",
        "1021",
        "2000",
        "1010",
    ]


def test_auto_type_detection_uses_euc_kr_bytes(solapi):
    r = solapi.send_many([sms(to="01012340001", text="가" * 45), sms(to="01012340002", text="가" * 46)])
    assert r.status_code == 200
    types = [m["type"] for m in solapi.list()["messageList"].values()]
    assert euckr_len("가" * 45) == 90
    assert types == ["SMS", "LMS"]


def test_alimtalk_template_must_match_exactly(solapi):
    def ata(to: str, **kakao) -> dict:
        return {"to": to, "from": SENDER, "type": "ATA", "kakaoOptions": {"pfId": "PF_SHOP", **kakao}}

    variables = {"#{이름}": "김하나", "#{주문번호}": "20250304-0000123"}
    rendered = "김하나님, 주문이 접수되었습니다. 주문번호: 20250304-0000123"
    messages = [
        ata("01012340001", templateId="TPL_ORDER_01", variables=variables),  # rendered by the service
        ata("01012340002", templateId="TPL_ORDER_01", variables=variables) | {"text": rendered},
        ata("01012340003", templateId="TPL_ORDER_01", variables=variables) | {"text": rendered + " "},
        ata("01012340004", templateId="TPL_ORDER_01", variables={"#{이름}": "김하나"}),  # missing variable
        ata(
            "01012340005", templateId="TPL_ORDER_01", variables={**variables, "#{쿠폰}": "X"}
        ),  # extra variable
        ata("01012340006", templateId="TPL_NOPE", variables=variables),  # unknown template
        ata("01012340007", templateId="TPL_REVIEW_01")
        | {"text": "이두리님, 구매하신 상품은 어떠셨나요? 리뷰를 남겨 주세요."},
        ata("01012340008", templateId="TPL_REVIEW_01")
        | {"text": "(광고) 이두리님, 구매하신 상품은 어떠셨나요?"},
        {
            **ata("01012340009", templateId="TPL_ORDER_01", variables=variables),
            "kakaoOptions": {"pfId": "PF_OTHER", "templateId": "TPL_ORDER_01", "variables": variables},
        },  # wrong channel
    ]
    codes = _codes(solapi.send_many(messages, showMessageList=True))
    assert codes == ["2000", "2000", "1043", "1043", "1043", "1042", "2000", "1043", "1042"]
    first = next(iter(solapi.list(limit=1)["messageList"].values()))
    assert first["text"] == rendered


def test_kakao_text_is_limited_to_1000_characters(solapi):
    def cta(to: str, n: int) -> dict:
        return {
            "to": to,
            "from": SENDER,
            "type": "CTA",
            "text": "가" * n,
            "kakaoOptions": {"pfId": "PF_SHOP"},
        }

    assert _codes(
        solapi.send_many([cta("01012340001", 1000), cta("01012340002", 1001)], showMessageList=True)
    ) == [
        "2000",
        "1031",
    ]


def test_duplicates_are_rejected_unless_allowed(solapi):
    same = [sms(), sms(), sms(text="다른 내용"), sms(type="LMS")]
    assert _codes(solapi.send_many(same, showMessageList=True)) == ["2000", "1026", "2000", "2000"]
    assert solapi.stats()["solapi.messages.duplicates_rejected"] == 1
    allowed = solapi.send_many(same, allowDuplicates=True, showMessageList=True)
    assert _codes(allowed) == ["2000"] * 4
    assert allowed.json()["groupInfo"]["allowDuplicates"] is True
    # within a group, duplicates are checked across separate PUT requests too
    group_id = solapi.request("POST", "/messages/v4/groups").json()["groupId"]
    path = f"/messages/v4/groups/{group_id}/messages"
    assert solapi.request("PUT", path, json={"messages": [sms()]}).json()["errorCount"] == 0
    second = solapi.request("PUT", path, json={"messages": [sms()]}).json()
    assert second["errorCount"] == 1 and second["resultList"][0]["statusCode"] == "1026"


def test_080_opt_out_numbers_get_1061(start):
    solapi = Solapi(start(apis=("solapi",), solapi_optout_numbers=["010-5555-0001"]))
    r = solapi.send_many([sms(to="01055550001"), sms(to="01055550002")], showMessageList=True)
    assert _codes(r) == ["1061", "2000"]
    # a customer calling the 080 line later (admin route) is refused from then on, also after a restart
    assert requests.put(solapi.url + "/_emulator/solapi/optouts", json={"numbers": ["01055550002"]}).ok
    assert _codes(solapi.send_many([sms(to="01055550002", text="새 소식")], showMessageList=True)) == ["1061"]


def test_no_balance_gives_1030(start):
    solapi = Solapi(start(apis=("solapi",), solapi_balance=50))  # SMS costs 20
    r = solapi.send_many([sms(to=f"0101234000{i}") for i in range(3)], showMessageList=True)
    assert _codes(r) == ["2000", "2000", "1030"]
    assert _codes(solapi.send_many([sms(to="01099990000")], showMessageList=True)) == ["1030"]


def test_all_failed_send_returns_200_with_the_failures(solapi):
    r = solapi.send_many([sms(to="123")])
    assert r.status_code == 200
    body = r.json()
    assert body["groupInfo"]["status"] == "FAILED"
    assert body["groupInfo"]["count"]["registeredFailed"] == 1
    failed = body["failedMessageList"][0]
    assert {"to", "from", "type", "statusCode", "statusMessage", "messageId", "accountId", "country"} <= set(
        failed
    )
    assert "messageList" not in body  # only with showMessageList
