"""Solapi delivery simulation: status progression on the simulated clock, fallback, FriendTalk hours, reports."""

from __future__ import annotations

from datetime import datetime

from emulators.helpers import KST, SENDER, Solapi, sms


def _ata(to: str, name: str = "김하나", **kakao) -> dict:
    variables = {"#{이름}": name, "#{주문번호}": "20250304-0000123"}
    options = {"pfId": "PF_SHOP", "templateId": "TPL_ORDER_01", "variables": variables, **kakao}
    return {"to": to, "from": SENDER, "type": "ATA", "kakaoOptions": options}


def test_status_goes_2000_3000_4000_as_the_clock_moves(start):
    solapi = Solapi(start(apis=("solapi",), solapi_processing_delay_s=10, solapi_report_delay_s=60))
    r = solapi.send_many([sms()])
    assert r.json()["groupInfo"]["status"] == "SENDING"
    [msg] = solapi.list()["messageList"].values()
    assert (msg["statusCode"], msg["dateProcessed"]) == ("2000", None)
    solapi.advance(15)
    [msg] = solapi.list()["messageList"].values()
    assert msg["statusCode"] == "3000" and msg["dateProcessed"] is not None and msg["dateReported"] is None
    solapi.advance(60)
    [msg] = solapi.list()["messageList"].values()
    assert msg["statusCode"] in ("4000", "3040", "3043")
    assert msg["dateReported"] == msg["dateUpdated"] > msg["dateCreated"]
    group = solapi.request("GET", f"/messages/v4/groups/{msg['groupId']}").json()
    assert group["status"] == "COMPLETE" and group["count"]["sentPending"] == 0


def test_incremental_reads_by_date_updated_see_every_change(start):
    solapi = Solapi(start(apis=("solapi",), solapi_processing_delay_s=10, solapi_report_delay_s=60))
    solapi.send_many([sms(to=f"0101234000{i}") for i in range(5)])
    first = solapi.list(dateType="UPDATED", limit=500)["messageList"]
    cursor = max(m["dateUpdated"] for m in first.values())
    solapi.advance(120)
    changed = solapi.list(dateType="UPDATED", startDate=cursor, limit=500)["messageList"]
    assert set(changed) == set(first)
    assert all(m["statusCode"] != "2000" and m["dateUpdated"] > cursor for m in changed.values())


def test_alimtalk_fallback_goes_sms_or_lms_by_euc_kr_length(start):
    # every recipient is "not a KakaoTalk user", so each AlimTalk falls back unless disableSms is set
    solapi = Solapi(
        start(
            apis=("solapi",),
            solapi_processing_delay_s=0,
            solapi_report_delay_s=0,
            solapi_non_kakao_rate=1.0,
            solapi_carrier_failure_rate=0.0,
        )
    )
    short = _ata("01012340001", name="김")  # 36 Hangul + ASCII: fits 90 bytes
    long = _ata("01012340002", name="김" * 30)  # over 90 bytes
    no_fallback = _ata("01012340003", disableSms=True)
    r = solapi.send_many([short, long, no_fallback])
    assert r.status_code == 200 and r.json()["failedMessageList"] == []
    reports = list(solapi.list()["messageList"].values())
    assert [(m["type"], m["statusCode"], m["replacement"]) for m in reports] == [
        ("SMS", "4000", True),
        ("LMS", "4000", True),
        ("ATA", "3104", False),
    ]
    group = solapi.request("GET", f"/messages/v4/groups/{reports[0]['groupId']}").json()
    assert group["count"]["sentReplacement"] == 2 and group["count"]["sentFailed"] == 1
    stats = solapi.stats()
    assert stats["solapi.messages.fallback.SMS"] == 1 and stats["solapi.messages.fallback.LMS"] == 1


def test_outcomes_are_deterministic_per_phone_and_roughly_at_the_documented_rates(start):
    solapi = Solapi(start(apis=("solapi",), solapi_processing_delay_s=0, solapi_report_delay_s=0, seed=3))
    phones = [f"010{7000_0000 + i:08d}" for i in range(600)]
    solapi.send_many([_ata(p, disableSms=True) for p in phones])
    codes = [m["statusCode"] for m in solapi.list(limit=500)["messageList"].values()]
    codes += [
        m["statusCode"]
        for m in solapi.list(limit=500, startKey=_nth_key(solapi, 500))["messageList"].values()
    ]
    share = {c: codes.count(c) / len(codes) for c in set(codes)}
    assert 0.06 < share["3104"] < 0.14 and 0.005 < share["3107"] < 0.05
    # the same phones in a new group end the same way
    solapi.send_many([_ata(p, disableSms=True) | {"text": None} for p in phones[:50]], allowDuplicates=True)
    again = [
        m["statusCode"]
        for m in solapi.list(limit=500, startKey=_nth_key(solapi, 600))["messageList"].values()
    ]
    assert again == codes[:50]


def _nth_key(solapi: Solapi, n: int) -> str:
    keys = list(solapi.list(limit=500)["messageList"])
    while len(keys) <= n:
        page = solapi.list(limit=500, startKey=keys[-1])["messageList"]
        keys += [k for k in page if k not in keys]
    return keys[n]


def test_friendtalk_outside_08_to_20_kst_fails_with_3108(start):
    night = datetime(2025, 3, 4, 21, 30, tzinfo=KST)
    solapi = Solapi(start(apis=("solapi",), now=night, solapi_processing_delay_s=0, solapi_report_delay_s=0))
    cta = {
        "to": "01012340001",
        "from": SENDER,
        "type": "CTA",
        "text": "(광고) 봄맞이 할인",
        "kakaoOptions": {"pfId": "PF_SHOP"},
    }
    solapi.send_many([cta])
    [msg] = solapi.list()["messageList"].values()
    assert (msg["statusCode"], msg["replacement"]) == ("3108", False)  # never falls back to a night-time SMS
    # the same message scheduled for 09:00 the next morning is delivered (or falls back) at 09:00
    r = solapi.send_many([cta], scheduledDate="2025-03-05T09:00:00+09:00")
    assert r.json()["groupInfo"]["status"] == "SCHEDULED"
    solapi.advance(12 * 3600)
    second = list(solapi.list()["messageList"].values())[1]
    assert second["statusCode"] != "3108" and second["statusCode"] != "2000"


def test_list_pagination_with_start_key(solapi):
    solapi.send_many([sms(to=f"010555500{i:02d}") for i in range(25)])
    seen, key, pages = [], None, 0
    while True:
        page = solapi.list(limit=10, **({"startKey": key} if key else {}))
        seen += list(page["messageList"])
        pages += 1
        key = page["nextKey"]
        if key is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 25
    assert solapi.request("GET", "/messages/v4/list", params={"limit": 501}).status_code == 400
    by_to = solapi.list(to="010-5555-0007")["messageList"]
    assert [m["to"] for m in by_to.values()] == ["01055550007"]
    by_criteria = solapi.list(criteria="to,statusCode", cond="eq,eq", value="01055550008,4000")["messageList"]
    assert len(by_criteria) <= 1


def test_group_lifecycle_and_schedule_rules(start):
    solapi = Solapi(start(apis=("solapi",), solapi_processing_delay_s=0, solapi_report_delay_s=0))
    group = solapi.request("POST", "/messages/v4/groups", json={}).json()
    assert group["status"] == "PENDING" and group["count"]["total"] == 0
    gid = group["groupId"]
    added = solapi.request(
        "PUT", f"/messages/v4/groups/{gid}/messages", json={"messages": [sms(), sms(to="1")]}
    )
    assert added.json()["errorCount"] == 1 and len(added.json()["resultList"]) == 2
    too_far = solapi.request(
        "POST", f"/messages/v4/groups/{gid}/schedule", json={"scheduledDate": "2025-09-05T10:00:00+09:00"}
    )
    assert (too_far.status_code, too_far.json()["errorCode"]) == (400, "InvalidScheduledDate")
    ok = solapi.request(
        "POST", f"/messages/v4/groups/{gid}/schedule", json={"scheduledDate": "2025-09-03T10:00:00+09:00"}
    )
    assert ok.json()["status"] == "SCHEDULED"
    cancelled = solapi.request("DELETE", f"/messages/v4/groups/{gid}/schedule")
    assert cancelled.json()["status"] == "PENDING" and cancelled.json()["scheduledDate"] is None
    sent = solapi.request("POST", f"/messages/v4/groups/{gid}/send").json()
    assert sent["status"] == "COMPLETE" and sent["count"]["registeredFailed"] == 1
    assert sent["count"]["sentTotal"] == 1 and sent["dateSent"] is not None
    again = solapi.request("POST", f"/messages/v4/groups/{gid}/send")
    assert again.status_code == 400
    listed = solapi.request("GET", "/messages/v4/groups").json()["groupList"]
    assert gid in listed
    missing = solapi.request("GET", "/messages/v4/groups/G4VNOPE")
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "NotFound")
