"""The ``crm`` command: validate, due, preview, send (dry run), status, consent-due."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from act_helpers import SHIPPED, build_warehouse, campaigns_dir, customer, sms_campaign

from activation.cli import main
from include.core.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    rows = [customer(i) for i in range(1, 21)] + [
        customer(21, consent_sms_at=datetime(2024, 11, 1)),  # two years old: expired
        customer(22, consent_email_at=datetime(2024, 12, 10)),  # due within 30 days
    ]
    wh = build_warehouse(tmp_path / "wh.duckdb", {"audience_customers": rows})
    monkeypatch.setenv("CRM_WAREHOUSE_PATH", str(wh))
    monkeypatch.setenv("CRM_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    get_settings.cache_clear()
    yield {"dir": campaigns_dir(tmp_path, {"cli_sms": sms_campaign(holdout_pct=10)}), "wh": wh}
    get_settings.cache_clear()


def test_validate_shipped_campaigns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dir", str(SHIPPED), "validate"]) == 0
    out = capsys.readouterr().out
    assert (
        "ok: 12 campaign(s)" in out and "seoul_signup_no_purchase_weekly: sms/advertising, 0 9 * * MON" in out
    )


def test_validate_reports_file_field_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = campaigns_dir(
        tmp_path, {"bad": sms_campaign(channel="alimtalk", message={"template_id": "TPL_REVIEW_REQUEST"})}
    )
    assert main(["--dir", str(folder), "validate"]) == 2
    err = capsys.readouterr().err
    assert "bad.yml: kind: channel alimtalk carries only informational messages" in err


def test_validate_against_the_warehouse(
    env: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = campaigns_dir(
        tmp_path / "x",
        {
            "nick": sms_campaign(
                variables={"별명": {"column": "nickname", "fallback": "고객"}}, message={"text": "#{별명}님"}
            )
        },
    )
    assert main(["--dir", str(folder), "validate", "--check-warehouse"]) == 2
    out = capsys.readouterr().out
    assert "nick.yml: variables: 'nickname' is not a column of audience_customers" in out
    assert "settings.yml: syncs[0]" not in out  # the shipped sync reads existing columns


def test_due_preview_send_status(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--dir", str(env["dir"])]
    assert main([*d, "due", "--date", "2026-11-22", "--json"]) == 0
    due = json.loads(capsys.readouterr().out)
    assert [x["campaign_id"] for x in due] == ["cli_sms"]
    assert main([*d, "preview", "--campaign", "cli_sms", "--date", "2026-11-22", "--json"]) == 0
    pv = json.loads(capsys.readouterr().out)
    assert pv["summary"]["by_reason"] == {"consent_expired": 1}
    assert pv["to_send"] + pv["summary"]["holdout"] + pv["summary"]["control"] == 21
    assert all("****" in s["to"] for s in pv["samples"])
    assert main([*d, "send", "--campaign", "cli_sms", "--date", "2026-11-22", "--dry-run"]) == 0
    assert "dry_run: True" in capsys.readouterr().out
    assert main([*d, "status", "--date", "2026-11-22", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["campaigns"] == {}  # a dry run writes nothing
    assert main([*d, "preview", "--campaign", "nope", "--date", "2026-11-22"]) == 2


def test_consent_due_lists_two_year_old_consents(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["--dir", str(env["dir"]), "consent-due", "--date", "2026-11-22", "--within-days", "30", "--json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    got = {(c["customer_id"], c["channel"], c["expired"]) for c in out["customers"]}
    assert got == {("m000021", "sms", True), ("m000022", "email", False)}
