"""Diff-based audience sync to the Channel Talk emulator: only changes are written, opt-outs travel both ways."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import requests
from act_helpers import KST, REF, RUN_DATE, build_warehouse, campaigns_dir, customer, sms_campaign

from activation.api import plan_and_send, sync_audiences
from activation.ledger import Ledger

pytestmark = pytest.mark.integration

SPEC = {
    "id": "ct_members",
    "audience": {
        "model": "audience_customers",
        "filter": [{"column": "is_member", "op": "eq", "value": True}],
    },
    "profile": {"name": "customer_name", "mobileNumber": "phone", "email": "email", "segment": "segment"},
    "tag_columns": ["segment", "tier"],
}


def users(emu) -> dict[str, dict]:
    data = requests.get(emu.urls["channeltalk"] + "/_emulator/users", timeout=10).json()
    return {u["memberId"]: u for u in data["users"]}


def writes(emu) -> int:
    return emu.stats("channeltalk").get("channeltalk.writes", 0)


def run_sync(tmp_path: Path, rows: list[dict], policy: str = "remove_tag", run_id: str = "sync"):
    folder = campaigns_dir(tmp_path, {}, settings={"syncs": [{**SPEC, "delete_policy": policy}]})
    wh = build_warehouse(tmp_path / "wh.duckdb", {"audience_customers": rows})
    kw = {"campaigns_dir": folder, "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "warehouse": wh}
    (report,) = sync_audiences(RUN_DATE, reference_time=REF, run_id=run_id, **kw)
    return report, kw


def test_only_differences_are_written(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    rows = [customer(i) for i in range(1, 41)] + [
        customer(99, member_id=None, is_member=False, customer_id="guest_abc")
    ]
    report, _ = run_sync(tmp_path, rows)
    assert (report.adds, report.changes, report.removes, report.unchanged) == (40, 0, 0, 0)
    assert writes(emu) == 40
    stored = users(emu)
    assert stored["m000001"]["tags"] == ["crm_ct_members", "crm_segment_g2", "crm_tier_second"]
    assert stored["m000001"]["profile"]["mobileNumber"] == "+821010000001"

    report, _ = run_sync(tmp_path, rows, run_id="sync-2")
    assert (report.adds, report.changes, report.removes, report.unchanged) == (0, 0, 0, 40)
    assert writes(emu) == 40, "an unchanged audience makes no write call"

    rows[0] = customer(1, segment="G4")
    rows[1] = customer(2, customer_name="새이름")
    del rows[2]  # m000003 leaves the audience
    rows.append(customer(41))
    report, _ = run_sync(tmp_path, rows, run_id="sync-3")
    assert (report.adds, report.changes, report.removes, report.unchanged) == (1, 2, 1, 37)
    assert writes(emu) == 44
    stored = users(emu)
    assert "crm_segment_g4" in stored["m000001"]["tags"]
    assert stored["m000002"]["profile"]["name"] == "새이름"
    assert stored["m000003"]["tags"] == []  # remove_tag: the managed tags are cleared, the user stays
    assert "m000041" in stored

    report, _ = run_sync(tmp_path, rows, run_id="sync-4")
    assert report.unchanged == 40 and writes(emu) == 44


def test_do_nothing_policy_makes_no_call_for_removals(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    rows = [customer(i) for i in range(1, 6)]
    run_sync(tmp_path, rows, policy="do_nothing")
    report, _ = run_sync(tmp_path, rows[:3], policy="do_nothing", run_id="sync-2")
    assert report.removes == 0 and writes(emu) == 5
    assert users(emu)["m000005"]["tags"]  # left as it was


def test_opt_outs_travel_both_ways(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for()
    rows = [customer(1), customer(2), customer(3, is_opted_out=True)]
    report, kw = run_sync(tmp_path, rows)
    stored = users(emu)
    assert stored["m000003"]["unsubscribeTexting"] is True  # the shop's opt-out reaches Channel Talk
    assert stored["m000001"]["unsubscribeTexting"] is False
    # the customer unsubscribes in Channel Talk itself
    creds = emu.handle.credentials["channeltalk"]
    headers = {"x-access-key": creds["key"], "x-access-secret": creds["secret"]}
    user_id = stored["m000001"]["id"]
    r = requests.patch(
        emu.urls["channeltalk"] + f"/open/v5/users/{user_id}",
        json={"unsubscribeTexting": True},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 200
    rows[0] = customer(
        1, segment="G3"
    )  # a change makes the next sync write this member and read the flag back
    report, kw = run_sync(tmp_path, rows, run_id="sync-2")
    assert report.opt_outs_learned == 1
    assert users(emu)["m000001"]["unsubscribeTexting"] is True  # never switched back on
    ledger = Ledger(kw["ledger_url"])
    customers, _ = ledger.opt_out_keys()
    ledger.close()
    assert customers == {"m000001"}
    # and the learned opt-out suppresses the customer's messages at once
    folder = campaigns_dir(
        tmp_path,
        {"promo": sms_campaign(audience={"model": "audience_customers"})},
        settings={"syncs": [SPEC], "control_group_pct": 0},
    )
    result = plan_and_send(
        RUN_DATE,
        reference_time=datetime(2026, 11, 23, 10, 30, tzinfo=KST),
        run_id="r",
        **{**kw, "campaigns_dir": folder},
    )
    summary = result.campaigns["promo"]
    assert summary.by_reason == {"opted_out": 2}
    assert summary.recipients == 1


def test_client_paces_itself_to_the_declared_rate(tmp_path: Path, start_emulators_for) -> None:
    emu = start_emulators_for(
        channeltalk_rate_limit=40, channeltalk_rate_burst=5, extra={"rate_limit_per_s": 35}
    )
    rows = [customer(i) for i in range(1, 31)]
    report, _ = run_sync(tmp_path, rows)
    assert report.adds == 30 and not report.errors
    assert emu.stats("channeltalk").get("channeltalk.rate_limited", 0) <= 1
