"""Helpers for the activation tests: a small audience warehouse, campaign folders, emulator access."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "include" / "campaigns"
KST = timezone(timedelta(hours=9))
RUN_DATE = date(2026, 11, 22)  # a Sunday: the run sends on Monday 2026-11-23
REF = datetime(2026, 11, 23, 0, 0, tzinfo=KST)  # end of the data interval

CONTRACT = [
    ("customer_id", "varchar"),
    ("member_id", "varchar"),
    ("is_member", "boolean"),
    ("customer_name", "varchar"),
    ("phone", "varchar"),
    ("has_valid_phone", "boolean"),
    ("email", "varchar"),
    ("consent_sms", "boolean"),
    ("consent_kakao", "boolean"),
    ("consent_email", "boolean"),
    ("consent_push", "boolean"),
    ("consent_night", "boolean"),
    ("consent_sms_at", "timestamp"),
    ("consent_kakao_at", "timestamp"),
    ("consent_email_at", "timestamp"),
    ("consent_push_at", "timestamp"),
    ("consent_night_at", "timestamp"),
    ("is_opted_out", "boolean"),
    ("region", "varchar"),
    ("segment", "varchar"),
    ("tier", "varchar"),
    ("preferred_category_name", "varchar"),
    ("preferred_product_no", "bigint"),
    ("preferred_product_name", "varchar"),
    ("benefit_code", "varchar"),
    ("benefit_discount_pct", "double"),
    ("benefit_scope", "varchar"),
    ("run_date", "date"),
]
EXTRA = {
    "audience_customers": [],
    "audience_segment_transitions": [
        ("from_segment", "varchar"),
        ("to_segment", "varchar"),
        ("transition_date", "date"),
    ],
    "audience_tier_changes": [("from_tier", "varchar"), ("to_tier", "varchar"), ("transition_date", "date")],
    "audience_review_requests": [
        ("order_id", "varchar"),
        ("product_no", "bigint"),
        ("product_name", "varchar"),
        ("delivered_date", "date"),
        ("days_since_delivery", "integer"),
    ],
    "audience_subscription_renewals": [
        ("subscription_id", "varchar"),
        ("remaining_deliveries", "integer"),
        ("total_deliveries", "integer"),
        ("renewal_cycle_key", "varchar"),
        ("end_date", "date"),
    ],
    "audience_signup_no_purchase": [("signed_up_date", "date"), ("days_since_signup", "integer")],
}


def customer(i: int, run_date: date = RUN_DATE, **overrides: Any) -> dict[str, Any]:
    """A reachable, fully consenting member; override any contract column."""
    given = datetime(2026, 1, 10, 12, 0)
    row: dict[str, Any] = {
        "customer_id": f"m{i:06d}",
        "member_id": f"m{i:06d}",
        "is_member": True,
        "customer_name": f"고객{i}",
        "phone": f"010{10000000 + i:08d}",
        "has_valid_phone": True,
        "email": f"user{i}@example.com",
        "consent_sms": True,
        "consent_kakao": True,
        "consent_email": True,
        "consent_push": True,
        "consent_night": False,
        "consent_sms_at": given,
        "consent_kakao_at": given,
        "consent_email_at": given,
        "consent_push_at": given,
        "consent_night_at": None,
        "is_opted_out": False,
        "region": "서울특별시",
        "segment": "G2",
        "tier": "second",
        "preferred_category_name": "간식",
        "preferred_product_no": 101,
        "preferred_product_name": "닭가슴살 져키",
        "benefit_code": "SECOND",
        "benefit_discount_pct": 20.0,
        "benefit_scope": "전 상품",
        "run_date": run_date,
    }
    row.update(overrides)
    return row


def build_warehouse(
    path: Path, models: dict[str, list[dict[str, Any]]], *, run_date: date = RUN_DATE
) -> Path:
    """A DuckDB file with every audience model (contract + kind columns); ``models`` gives their rows."""
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists audiences")
        for model, extra in EXTRA.items():
            cols = CONTRACT + extra
            con.execute(f"drop table if exists audiences.{model}")
            con.execute(f"create table audiences.{model} ({', '.join(f'{n} {t}' for n, t in cols)})")
            rows = models.get(model, [])
            if rows:
                names = [n for n, _ in cols]
                # the transition models hold the data date's transitions: transition_date = run_date
                given = {"run_date": run_date, "transition_date": run_date}
                values = [[{**given, **r}.get(n) for n in names] for r in rows]
                con.executemany(
                    f"insert into audiences.{model} values ({', '.join('?' for _ in names)})", values
                )
    finally:
        con.close()
    return path


def campaigns_dir(
    tmp: Path,
    campaigns: dict[str, dict[str, Any]],
    *,
    settings: dict[str, Any] | None = None,
    shipped: list[str] = (),
) -> Path:
    """A campaigns folder: the shipped settings (with overrides) and templates, plus the given campaigns."""
    out = tmp / "campaigns"
    out.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((SHIPPED / "settings.yml").read_text(encoding="utf-8"))
    base.update(settings or {})
    (out / "settings.yml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    shutil.copy(SHIPPED / "templates.yml", out / "templates.yml")
    for name in shipped:
        shutil.copy(SHIPPED / f"{name}.yml", out / f"{name}.yml")
    for cid, body in campaigns.items():
        (out / f"{cid}.yml").write_text(
            yaml.safe_dump({"id": cid, **body}, allow_unicode=True), encoding="utf-8"
        )
    return out


def sms_campaign(**overrides: Any) -> dict[str, Any]:
    """A weekly advertising SMS to segment G2, Monday 10:00 (due in the run of RUN_DATE)."""
    body: dict[str, Any] = {
        "name": "test sms",
        "audience": {
            "model": "audience_customers",
            "filter": [{"column": "segment", "op": "eq", "value": "G2"}],
        },
        "trigger": {"type": "schedule", "cron": "0 10 * * MON", "timezone": "Asia/Seoul"},
        "channel": "sms",
        "kind": "advertising",
        "message": {"text": "#{이름}님 쿠폰 #{링크}", "subject": "쿠폰"},
        "priority": 100,
    }
    body.update(overrides)
    return body


class Emu:
    """Test access to running emulators: stats, clock, the Solapi message store."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.urls = handle.urls

    def stats(self, api: str) -> dict[str, int]:
        return requests.get(self.urls[api] + "/_emulator/stats", timeout=10).json()["stats"]

    def set_clock(self, now: datetime) -> None:
        for api in self.urls:
            requests.put(self.urls[api] + "/_emulator/clock", json={"now": now.isoformat()}, timeout=10)
            break  # one shared clock

    def set_faults(self, spec: str) -> None:
        for api in self.urls:
            requests.put(
                self.urls[api] + "/_emulator/faults", json={"spec": spec, "scope": "all"}, timeout=10
            )
            break

    def solapi_messages(self) -> list[dict[str, Any]]:
        """Every message the Solapi emulator stored (read from its state file, bypassing the API)."""
        import sqlite3

        path = Path(self.handle.ctx.state_dir) / "solapi.sqlite"
        con = sqlite3.connect(str(path))
        con.row_factory = sqlite3.Row
        try:
            rows = con.execute("select * from messages order by seq").fetchall()
            return [{**dict(r), "doc": json.loads(r["doc"])} for r in rows]
        finally:
            con.close()

    def hooks(self, name: str) -> list[dict[str, Any]]:
        return requests.get(self.urls["webhook"] + f"/_emulator/hooks/{name}", timeout=10).json()["items"]


def connection_env(handle: Any, **extra: Any) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` for the emulators, with fast retry settings and any extra merged in."""
    out = {}
    for key, raw in handle.connection_env().items():
        conn = json.loads(raw)
        conn["extra"] = {
            **conn.get("extra", {}),
            "retry_base_s": 0.01,
            "retry_max_s": 0.05,
            "timeout_s": 2,
            **extra,
        }
        out[key] = json.dumps(conn)
    return out
