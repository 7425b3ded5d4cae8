"""Campaign YAML: the shipped campaigns load, every mistake is reported with file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from act_helpers import SHIPPED, campaigns_dir, sms_campaign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation.config import ConfigError, load_campaigns, load_config
from activation.config.models import TRIGGER_MODELS


def issues(folder: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    return [(i.file, i.field, i.reason) for i in info.value.issues]


def test_shipped_campaigns_cover_the_brief() -> None:
    config = load_config(SHIPPED)
    by_id = {c.id: c for c in config.campaigns}
    triggers = {c.trigger.type for c in config.campaigns}
    assert set(TRIGGER_MODELS) | {"schedule"} <= triggers
    assert {c.channel for c in config.campaigns} == {"alimtalk", "friendtalk", "sms", "push", "email"}
    seoul = by_id["seoul_signup_no_purchase_weekly"]
    assert seoul.trigger.cron == "0 9 * * MON" and seoul.trigger.timezone == "Asia/Seoul"
    assert {(f.column, f.op, f.value) for f in seoul.audience.filter} == {
        ("region", "eq", "서울특별시"),
        ("days_since_signup", "gte", 14),
    }
    assert all(c.kind == "informational" for c in config.campaigns if c.channel == "alimtalk")
    assert [v.id for v in by_id["g2_time_limited_coupon"].resolved_variants()] == ["A", "B"]
    assert by_id["transition_any_to_g4_welcome"].trigger.from_ == "any"


def test_alimtalk_advertising_is_a_config_error(tmp_path: Path) -> None:
    body = sms_campaign(channel="alimtalk", message={"template_id": "TPL_REVIEW_REQUEST"})
    found = issues(campaigns_dir(tmp_path, {"bad_ad": body}))
    assert found == [
        (
            "bad_ad.yml",
            "kind",
            "channel alimtalk carries only informational messages (Kakao rule); send advertising by friendtalk, sms, push or email",
        )
    ]


def test_errors_of_all_files_are_collected(tmp_path: Path) -> None:
    folder = campaigns_dir(
        tmp_path,
        {
            "no_fallback": sms_campaign(variables={"별명": {"column": "customer_name"}}),
            "unknown_var": sms_campaign(message={"text": "#{없는변수} 안녕하세요"}),
            "bad_op": sms_campaign(
                audience={
                    "model": "audience_customers",
                    "filter": [{"column": "segment", "op": "in", "value": "G2"}],
                }
            ),
            "bad_template": {
                **sms_campaign(channel="alimtalk", kind="informational", message={"template_id": "NOPE"}),
            },
            "wrong_model": sms_campaign(
                trigger={"type": "tier_change", "from": "any", "to": "loyal", "send_time": "10:00"}
            ),
        },
    )
    (folder / "broken.yml").write_text("id: [unclosed\n", encoding="utf-8")
    (folder / "a_list.yml").write_text("- 1\n- 2\n", encoding="utf-8")
    found = issues(folder)
    files = {f for f, _, _ in found}
    assert files == {
        "no_fallback.yml",
        "unknown_var.yml",
        "bad_op.yml",
        "bad_template.yml",
        "wrong_model.yml",
        "broken.yml",
        "a_list.yml",
    }
    by_file = {f: (field, reason) for f, field, reason in found}
    assert by_file["no_fallback.yml"][0] == "variables.별명"
    assert "needs a non-empty fallback" in by_file["no_fallback.yml"][1]
    assert by_file["unknown_var.yml"][0] == "message.text"
    assert "#{없는변수}" in by_file["unknown_var.yml"][1]
    assert by_file["bad_op.yml"][0] == "audience.filter[0]"
    assert "non-empty list" in by_file["bad_op.yml"][1]
    assert by_file["bad_template.yml"] == ("message.template_id", "template 'NOPE' is not in templates.yml")
    assert by_file["wrong_model.yml"][0] == "audience.model"
    assert "audience_tier_changes" in by_file["wrong_model.yml"][1]
    assert by_file["broken.yml"][0].startswith("line 2")
    assert "mapping" in by_file["a_list.yml"][1]


def test_sql_in_a_filter_is_rejected(tmp_path: Path) -> None:
    body = sms_campaign(
        audience={
            "model": "audience_customers",
            "filter": [{"column": "segment = 'G2' or 1=1 --", "op": "eq", "value": "x"}],
        }
    )
    ((file, field, reason),) = issues(campaigns_dir(tmp_path, {"inject": body}))
    assert (file, field) == ("inject.yml", "audience.filter[0].column")
    assert "is not allowed here" in reason


def test_id_must_match_file_name_and_be_unique(tmp_path: Path) -> None:
    folder = campaigns_dir(tmp_path, {"one": sms_campaign()})
    (folder / "two.yml").write_text(yaml.safe_dump({"id": "one", **sms_campaign()}), encoding="utf-8")
    found = issues(folder)
    assert ("two.yml", "id", "duplicate campaign id 'one' (also in one.yml)") in found


def test_missing_settings_file_is_reported(tmp_path: Path) -> None:
    folder = campaigns_dir(tmp_path, {"one": sms_campaign()})
    (folder / "settings.yml").unlink()
    ((file, _, reason),) = issues(folder)
    assert file == "settings.yml" and "missing" in reason


def test_cron_firing_twice_a_day_and_bad_timezone(tmp_path: Path) -> None:
    folder = campaigns_dir(
        tmp_path,
        {
            "twice": sms_campaign(trigger={"type": "schedule", "cron": "0 9,18 * * *"}),
            "nowhere": sms_campaign(
                trigger={"type": "schedule", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}
            ),
        },
    )
    found = {f: (field, reason) for f, field, reason in issues(folder)}
    assert (
        found["twice.yml"][0] == "trigger.schedule.cron" and "more than once a day" in found["twice.yml"][1]
    )
    assert (
        found["nowhere.yml"][0] == "trigger.schedule.timezone"
        and "unknown timezone" in found["nowhere.yml"][1]
    )


def test_informational_text_must_not_claim_advertising(tmp_path: Path) -> None:
    body = sms_campaign(kind="informational", message={"text": "(광고) 세일"})
    ((_, field, reason),) = issues(campaigns_dir(tmp_path, {"mislabelled": body}))
    assert field == "message.text" and "set kind: advertising" in reason


def test_load_campaigns_returns_models() -> None:
    ids = [c.id for c in load_campaigns(SHIPPED)]
    assert "review_request_3d" in ids and ids == sorted(ids)


# ---- property tests: any input gives a clear ConfigError or a valid campaign, never a crash -----------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
known_keys = st.sampled_from(
    [
        "id",
        "name",
        "audience",
        "trigger",
        "channel",
        "kind",
        "message",
        "variants",
        "variables",
        "holdout_pct",
        "frequency_cap",
        "priority",
        "quiet_hours",
        "goal",
        "max_recipients",
        "exit_on_conversion",
        "enabled",
    ]
)


def _check_load(folder: Path) -> None:
    try:
        load_config(folder)
    except ConfigError as exc:
        assert exc.issues, "a ConfigError must list its issues"
        for issue in exc.issues:
            assert issue.file and issue.reason, issue
        assert str(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_gives_a_clear_result(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = campaigns_dir(tmp_path_factory.mktemp("h"), {})
    (folder / "fuzz.yml").write_text(text, encoding="utf-8")
    _check_load(folder)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(known_keys, values, max_size=8),
    mutate=st.dictionaries(known_keys, values, max_size=3),
)
def test_any_mapping_gives_a_clear_result(
    tmp_path_factory: pytest.TempPathFactory, data: dict, mutate: dict
) -> None:
    base = {"id": "fuzz", **sms_campaign()}
    folder = campaigns_dir(tmp_path_factory.mktemp("h"), {})
    for body in (data, {**base, **mutate}):
        (folder / "fuzz.yml").write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
        _check_load(folder)


@settings(max_examples=25, deadline=None)
@given(raw=st.binary(max_size=200))
def test_any_bytes_give_a_clear_result(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    folder = campaigns_dir(tmp_path_factory.mktemp("h"), {})
    (folder / "fuzz.yml").write_bytes(raw)
    _check_load(folder)


def test_the_documented_example_is_the_shipped_campaign() -> None:
    doc = (SHIPPED.parents[1] / "docs" / "campaigns.md").read_text(encoding="utf-8")
    example = doc.split("## Example", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    shipped = yaml.safe_load((SHIPPED / "seoul_signup_no_purchase_weekly.yml").read_text(encoding="utf-8"))
    documented = yaml.safe_load(example)
    shipped.pop("description")
    documented.pop("description")
    assert documented == shipped
