"""Re-entry rules (campaign ``reentry``): nights planned one after another on one real ledger.

Each night plans the run date against a DuckDB audience and writes the plan into the ledger, as a campaign run does;
the next night's plan reads those entries back.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from act_helpers import KST, RUN_DATE, build_warehouse, campaigns_dir, customer, sms_campaign
from sqlalchemy import create_engine, inspect, text

from activation.audience import AudienceReader
from activation.config import ConfigError, load_config
from activation.ledger import Ledger
from activation.ledger import schema as s
from activation.planning import Planner

NIGHTS = 8


def _nights(
    tmp_path: Path,
    campaigns: dict[str, dict],
    audience: str,
    rows_for: callable,
    *,
    shipped: list[str] = (),
    settings: dict | None = None,
    ledger_url: str | None = None,
) -> list[dict[str, dict]]:
    """Plans NIGHTS run dates from RUN_DATE on; returns, per night, campaign → customer → (status, reason, detail)."""
    folder = campaigns_dir(
        tmp_path,
        campaigns,
        settings={"control_group_pct": 0, "daily_limit": 5, **(settings or {})},
        shipped=shipped,
    )
    config = load_config(folder)
    ledger = Ledger(ledger_url or f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    out = []
    try:
        for n in range(NIGHTS):
            day = RUN_DATE + timedelta(days=n)
            wh = tmp_path / f"wh{n}.duckdb"
            build_warehouse(wh, {audience: rows_for(n, day)}, run_date=day)
            ref = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=KST)
            plan = Planner(config, ledger, AudienceReader(wh)).plan(day, ref, f"night-{n}")
            for cp in plan.campaigns:
                assert cp.error is None, cp.error
            ledger.insert_intents(plan.new_rows())
            out.append(
                {
                    cp.campaign.id: {i.customer_id: (i.status, i.reason, i.detail) for i in cp.intents}
                    for cp in plan.campaigns
                }
            )
    finally:
        ledger.close()
    return out


def _sent(nights: list[dict], campaign: str) -> list[set[str]]:
    return [{c for c, (st, _, _) in n.get(campaign, {}).items() if st == "planned"} for n in nights]


def _renewal_row(i: int, day: date, total: int, sub: str) -> dict:
    return {
        **customer(i, run_date=day),
        "subscription_id": sub,
        "remaining_deliveries": 1,
        "total_deliveries": total,
        "renewal_cycle_key": f"{sub}:{total}",
        "end_date": day + timedelta(days=7),
    }


def test_the_renewal_reminder_goes_once_per_plan_cycle(tmp_path: Path) -> None:
    """A weekly plan sits at one delivery left for a week: one reminder, not one a day; its renewal (the next
    cycle) gets the next reminder. The shipped campaign, read as shipped."""

    def rows(n: int, day: date) -> list[dict]:
        out = [_renewal_row(1, day, 8, "S1")]  # one delivery left all eight nights
        out.append(_renewal_row(2, day, 8 if n < 5 else 16, "S2"))  # renewed on night 5, one left again
        if n >= 3:
            out.append(_renewal_row(3, day, 4, "S3"))  # reaches one delivery left on night 3
        return out

    nights = _nights(
        tmp_path, {}, "audience_subscription_renewals", rows, shipped=["subscription_renewal_reminder"]
    )
    sent = _sent(nights, "subscription_renewal_reminder")
    per_customer = Counter(c for night in sent for c in night)
    assert per_customer == {"m000001": 1, "m000002": 2, "m000003": 1}
    assert "m000001" in sent[0] and "m000002" in sent[0] and "m000002" in sent[5] and "m000003" in sent[3]
    # every other night of a customer in the audience is a suppression with its reason, naming the cycle
    st, reason, detail = nights[4]["subscription_renewal_reminder"]["m000001"]
    assert (st, reason) == ("suppressed", "reentry")
    assert detail == "once per renewal_cycle_key: renewal_cycle_key S1:8 entered on 2026-11-23"
    suppressed = sum(
        1
        for n in nights
        for st, reason, _ in n["subscription_renewal_reminder"].values()
        if reason == "reentry"
    )
    assert suppressed == NIGHTS * 2 + (NIGHTS - 3) - 4


def _daily(**overrides) -> dict:
    return sms_campaign(
        trigger={"type": "schedule", "cron": "0 10 * * *", "timezone": "Asia/Seoul"}, **overrides
    )


def test_once_cooldown_and_what_counts_as_an_entry(tmp_path: Path) -> None:
    """``once``: the first entry only; ``cooldown_days: 3``: every third night. A suppressed night is no entry (the
    customer enters when the reason goes away); a holdout is one (the control stays comparable)."""

    def rows(n: int, day: date) -> list[dict]:
        return [
            customer(1, run_date=day),
            customer(2, run_date=day, consent_sms=n >= 2),  # no consent on nights 0 and 1
            customer(3, run_date=day),
        ]

    campaigns = {
        "daily_once": _daily(reentry={"once": True}, priority=300),
        "daily_cool": _daily(reentry={"cooldown_days": 3}, priority=200),
        "daily_free": _daily(priority=100),  # a schedule without a rule: every run may send (caps apply)
    }
    nights = _nights(
        tmp_path,
        campaigns,
        "audience_customers",
        rows,
        settings={"frequency_cap": {"max": 100, "days": 7, "applies_to": "advertising"}},
    )
    once = _sent(nights, "daily_once")
    assert [sorted(n) for n in once] == [["m000001", "m000003"], [], ["m000002"], [], [], [], [], []]
    assert nights[1]["daily_once"]["m000002"][1] == "no_consent"  # not an entry: enters on night 2
    assert nights[3]["daily_once"]["m000002"][1:] == ("reentry", "once per customer: entered on 2026-11-25")
    cool = _sent(nights, "daily_cool")
    assert [n for n, got in enumerate(cool) if "m000001" in got] == [0, 3, 6]
    assert [n for n, got in enumerate(cool) if "m000002" in got] == [2, 5]
    assert nights[1]["daily_cool"]["m000001"][2] == (
        "not within 3 days of the last entry: last entry on 2026-11-23"
    )
    assert all({"m000001", "m000003"} <= n for n in _sent(nights, "daily_free"))


def test_a_holdout_is_an_entry(tmp_path: Path) -> None:
    def rows(n: int, day: date) -> list[dict]:
        return [customer(i, run_date=day) for i in range(40)]

    nights = _nights(
        tmp_path, {"daily_once": _daily(reentry={"once": True}, holdout_pct=50)}, "audience_customers", rows
    )
    first = nights[0]["daily_once"]
    held = {c for c, (st, _, _) in first.items() if st == "holdout"}
    assert 5 < len(held) < 35
    for night in nights[1:]:
        assert {st for st, _, _ in night["daily_once"].values()} == {"suppressed"}
        assert {reason for _, reason, _ in night["daily_once"].values()} == {"reentry"}


def test_a_missing_key_value_is_suppressed_and_a_missing_column_stops_the_campaign(tmp_path: Path) -> None:
    def rows(n: int, day: date) -> list[dict]:
        return [{**_renewal_row(1, day, 8, "S1"), "renewal_cycle_key": None}]

    nights = _nights(
        tmp_path, {}, "audience_subscription_renewals", rows, shipped=["subscription_renewal_reminder"]
    )
    assert nights[0]["subscription_renewal_reminder"]["m000001"] == (
        "suppressed",
        "reentry",
        "once per renewal_cycle_key: the audience row has no renewal_cycle_key",
    )
    folder = campaigns_dir(tmp_path / "bad", {"keyed": _daily(reentry={"once_per": "plan_cycle"})})
    wh = build_warehouse(tmp_path / "bad.duckdb", {"audience_customers": [customer(1)]})
    ledger = Ledger(f"sqlite:///{tmp_path / 'bad.sqlite'}")
    try:
        plan = Planner(load_config(folder), ledger, AudienceReader(wh)).plan(
            RUN_DATE, datetime(2026, 11, 23, tzinfo=KST), "r"
        )
    finally:
        ledger.close()
    assert "plan_cycle" in (plan.get("keyed").error or "")


@pytest.mark.parametrize(
    ("reentry", "message"),
    [
        ({"once": True, "cooldown_days": 3}, "once allows one entry ever"),
        ({}, "give once: true, once_per"),
        ({"once_per": "Bad Column"}, "once_per"),
        ({"cooldown_days": 0}, "cooldown_days"),
        ({"every": 3}, "every"),
    ],
)
def test_bad_reentry_rules_are_refused_with_the_field(tmp_path: Path, reentry: dict, message: str) -> None:
    folder = campaigns_dir(tmp_path, {"bad_rule": _daily(reentry=reentry)})
    with pytest.raises(ConfigError) as err:
        load_config(folder)
    text_ = str(err.value)
    assert "bad_rule" in text_ and "reentry" in text_ and message in text_, text_


def test_the_shipped_triggered_campaigns_have_one_entry_per_occurrence() -> None:
    from activation.config.models import TRIGGER_MODELS, TRIGGER_REENTRY

    config = load_config(campaigns_dir(Path(__import__("tempfile").mkdtemp()), {}, shipped=_shipped()))
    assert set(TRIGGER_REENTRY) == set(TRIGGER_MODELS)
    for c in config.campaigns:
        rule = c.effective_reentry()
        if c.trigger.type == "schedule":
            assert c.frequency_cap is not None or rule is not None, c.id  # a repeating campaign is spaced
        else:
            assert rule is not None, c.id


def _shipped() -> list[str]:
    from act_helpers import SHIPPED

    return sorted(p.stem for p in SHIPPED.glob("*.yml") if p.stem not in ("settings", "templates"))


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_an_older_ledger_gains_the_reentry_column(tmp_path: Path, engine: str, request) -> None:
    """A ledger created before re-entry rules (no ``reentry_key``, no entry index) is upgraded when opened, twice
    without harm, and keeps its rows."""
    url = (
        f"sqlite:///{tmp_path / 'old.sqlite'}"
        if engine == "sqlite"
        else request.getfixturevalue("pg_ledger_url")
    )
    old = create_engine(url)
    with old.begin() as conn:
        for table in s.metadata.sorted_tables:
            if table.name != "intents":
                table.create(conn)
        cols = [c for c in s.intents.columns if c.name != "reentry_key"]
        names = ", ".join(f"{c.name} {c.type.compile(old.dialect)}" for c in cols)
        conn.execute(text(f"create table intents ({names})"))
        conn.execute(
            text(
                "insert into intents (intent_id, idempotency_key, run_id, run_date, campaign_id, step, customer_id,"
                " channel, destination, message_kind, priority, status, night_consent, cost_krw, attempts,"
                " created_at, updated_at, planned_send_at) values ('i1', 'k1', 'r', '2026-11-20', 'c', 'main',"
                " 'm1', 'sms', 'solapi', 'advertising', 1, 'accepted', false, 0, 0, '2026-11-21 01:00:00',"
                " '2026-11-21 01:00:00', '2026-11-21 01:00:00')"
            )
        )
    old.dispose()
    for _ in range(2):
        ledger = Ledger(url)
        ledger.close()
    ledger = Ledger(url)
    try:
        insp = inspect(ledger.engine)
        assert "reentry_key" in {c["name"] for c in insp.get_columns("intents")}
        assert "ix_intents_entries" in {i["name"] for i in insp.get_indexes("intents")}
        entries = ledger.entries("c", "main")
        assert list(entries) == ["m1"] and entries["m1"][0][0] is None
    finally:
        ledger.close()
