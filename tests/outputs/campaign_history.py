"""Two weeks of campaign history written into a raw warehouse the way extraction lands it, so dbt builds real
message funnels and campaign results for the report.

Nothing here invents outcomes: conversions are the shop's own orders that dbt attributes within the window. What
the helper controls is who received which arm:

- ``g2_time_limited_coupon`` variant A was sent mostly to members who were about to buy (a campaign that "works":
  its 95 % CI must exclude 0), variant B to a random sample (no real effect: the CI should straddle 0);
- ``review_request_3d`` asked buyers for a review 3 days after delivery (random holdout; feeds the review funnel).

Each run also has suppressed rows (no consent), Solapi reports (delivered, failed, SMS fallback) and message-click
sessions (``utm_source=crm``) before some of the treatment customers' orders, as a real click would leave them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

KST = ZoneInfo("Asia/Seoul")
LOAD_ID = "1763800000.000000"


def _members(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0] for r in con.execute("select member_id from raw_cafe24.customers order by member_id").fetchall()
    ]


def _orders(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "select member_id, cast(order_date as timestamptz) as ordered_at, "
        "cast(shipend_date as timestamptz) as delivered_at, canceled "
        "from raw_cafe24.orders where member_id is not null"
    ).df()


def add_campaign_history(warehouse: Path, data_date: date, *, seed: int = 11) -> dict[str, int]:
    """Appends send-log rows, Solapi reports and click events for runs before ``data_date``; returns row counts."""
    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set TimeZone = 'Asia/Seoul'")
        members = np.array(_members(con))
        orders = _orders(con)
        live = orders[orders["canceled"] != "T"]
        sends: list[dict] = []
        for run in (data_date - timedelta(days=12), data_date - timedelta(days=5)):
            sent_at = datetime.combine(run + timedelta(days=1), time(10, 0), KST)
            window = live[
                (live["ordered_at"] >= sent_at) & (live["ordered_at"] < sent_at + timedelta(days=3))
            ]
            buyers = np.array(sorted(set(window["member_id"])))
            pool = rng.permutation(np.setdiff1d(members, buyers))
            keen = rng.permutation(buyers)[: int(len(buyers) * 0.7)]
            a_treat = np.concatenate([keen, pool[:150]])
            b_treat = rng.permutation(members)[:220]
            holdout = np.setdiff1d(rng.permutation(members)[:90], np.concatenate([a_treat, b_treat]))
            suppressed = pool[150:170]
            sends += _rows("g2_time_limited_coupon", "A", run, sent_at, a_treat)
            sends += _rows("g2_time_limited_coupon", "B", run, sent_at, np.setdiff1d(b_treat, a_treat))
            sends += _rows("g2_time_limited_coupon", "A", run, None, holdout, status="holdout")
            sends += _rows("g2_time_limited_coupon", "A", run, None, suppressed, status="suppressed")
        for k in range(1, 11):
            run = data_date - timedelta(days=k)
            sent_at = datetime.combine(run + timedelta(days=1), time(9, 30), KST)
            day = sent_at - timedelta(days=3)
            got = live[
                (live["delivered_at"] >= day - timedelta(hours=10))
                & (live["delivered_at"] < day + timedelta(hours=14))
            ]
            people = rng.permutation(np.array(sorted(set(got["member_id"]))))
            cut = max(1, len(people) // 10)
            sends += _rows("review_request_3d", "A", run, None, people[:cut], status="holdout")
            sends += _rows("review_request_3d", "A", run, sent_at, people[cut:])
        log = pd.DataFrame(sends)
        reports = _reports(rng, log)
        # the ledger learns the provider's final status, as the sender's status polling records it
        by_message = reports.set_index("message_id")
        sent = log["status"] == "sent"
        codes = log.loc[sent, "message_id"].map(by_message["status_code"])
        log.loc[sent, "status"] = np.where(codes == "4000", "delivered", "failed")
        log["provider_status_code"] = log["message_id"].map(by_message["status_code"])
        log["replacement"] = log["message_id"].map(by_message["replacement"]).astype("boolean")
        clicks = _clicks(rng, log, live)
        con.register("log_df", log)
        con.execute("insert into raw_messaging.send_log by name select * from log_df")
        con.register("rep_df", reports)
        con.execute("insert into raw_messaging.message_reports by name select * from rep_df")
        con.register("clk_df", clicks)
        con.execute("insert into raw_events.events by name select * from clk_df")
    finally:
        con.close()
    return {"send_log": len(log), "message_reports": len(reports), "click_events": len(clicks)}


# campaign → (channel, message kind, Solapi type, unit cost, goal event, attribution days), as in include/campaigns
CAMPAIGNS = {
    "g2_time_limited_coupon": ("friendtalk", "advertising", "CTA", 13.0, "purchase", 3),
    "review_request_3d": ("alimtalk", "informational", "ATA", 7.0, "review", 7),
}


def _rows(campaign, variant, run, sent_at, customers, *, status="sent") -> list[dict]:
    """Send-log rows (contract ``include.core.contracts.SEND_LOG``); ``sent`` rows get their final status later."""
    channel, kind, mtype, cost, goal, days = CAMPAIGNS[campaign]
    planned = datetime.combine(run + timedelta(days=1), time(9), KST)
    out = []
    for cid in customers:
        key = f"{campaign}:{run.isoformat()}:{cid}:main"
        sent = status == "sent"
        out.append(
            {
                "intent_id": hashlib.sha256(key.encode()).hexdigest()[:32],
                "idempotency_key": key,
                "run_id": f"scheduled__{run.isoformat()}",
                "run_date": run,
                "campaign_id": campaign,
                "step": "main",
                "customer_id": str(cid),
                "member_id": str(cid),
                "channel": channel,
                "destination": "solapi",
                "message_kind": kind,
                "message_type": mtype,
                "variant": variant,
                "is_control": False,
                "is_holdout": status == "holdout",
                "priority": 100,
                "status": status,
                "reason": {"holdout": "holdout", "suppressed": "no_consent"}.get(status),
                "planned_send_at": sent_at or planned,
                "send_at": sent_at if sent else None,
                "sent_at": sent_at if sent else None,
                "message_id": "M" + hashlib.md5(key.encode()).hexdigest()[:16] if sent else None,
                "group_id": f"G{run.strftime('%Y%m%d')}" if sent else None,
                "cost_krw": cost if sent else 0.0,
                "goal_event": goal,
                "attribution_days": days,
                "attempts": 1 if sent else 0,
                "created_at": planned,
                "updated_at": (sent_at or planned) + timedelta(minutes=5),
                "_dlt_load_id": LOAD_ID,
                "_dlt_id": key,
            }
        )
    return out


def _reports(rng: np.random.Generator, log: pd.DataFrame) -> pd.DataFrame:
    sent = log[log["status"] == "sent"]
    u = rng.random(len(sent))
    status = np.where(u < 0.06, "3059", "4000")
    fallback = (status == "4000") & (rng.random(len(sent)) < 0.1)
    created = sent["sent_at"]
    return pd.DataFrame(
        {
            "message_id": sent["message_id"].to_numpy(),
            "group_id": sent["group_id"].to_numpy(),
            "type": np.where(sent["channel"] == "alimtalk", "ATA", "CTA"),
            "to": "01000000000",
            "from": "0212345678",
            "status_code": status,
            "status_message": np.where(status == "4000", "수신완료", "전송실패"),
            "date_created": created.to_numpy(),
            "date_processed": created.to_numpy(),
            "date_reported": (created + timedelta(minutes=1)).to_numpy(),
            "date_updated": (created + timedelta(minutes=1)).to_numpy(),
            "replacement": fallback,
            "custom_fields": [
                json.dumps({"campaign_id": c, "variant": v, "customer_id": k, "run_date": r.isoformat()})
                for c, v, k, r in zip(
                    sent["campaign_id"], sent["variant"], sent["customer_id"], sent["run_date"], strict=True
                )
            ],
            "_dlt_load_id": LOAD_ID,
            "_dlt_id": sent["message_id"].to_numpy(),
        }
    )


def _clicks(rng: np.random.Generator, log: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """A message-click session an hour before each order of a delivered coupon recipient, plus some idle clicks."""
    sent = log[(log["status"] == "delivered") & (log["campaign_id"] == "g2_time_limited_coupon")]
    rows = []
    for s in sent.itertuples():
        mine = orders[
            (orders["member_id"] == s.customer_id)
            & (orders["ordered_at"] >= s.sent_at + timedelta(hours=2))
            & (orders["ordered_at"] < s.sent_at + timedelta(days=3))
        ]
        if len(mine):
            at = mine["ordered_at"].min() - timedelta(hours=1)
        elif rng.random() < 0.12:
            at = s.sent_at + timedelta(hours=float(rng.uniform(1, 48)))
        else:
            continue
        ms = int(at.timestamp() * 1000)
        props = {
            "utm_source": "crm",
            "utm_medium": "kakao",
            "utm_campaign": s.campaign_id,
            "utm_content": s.variant,
        }
        rows.append(
            {
                "insert_id": f"click-{s.intent_id}",
                "event_type": "session_start",
                "event_time": at,
                "user_id": s.customer_id,
                "device_id": f"dev-{s.customer_id}",
                "session_id": ms,
                "platform": "iOS",
                "city": "Seoul",
                "event_properties": json.dumps(props),
                "drop_date": at.astimezone(KST).date(),
                "drop_file": "campaign_history.jsonl",
                "_dlt_load_id": LOAD_ID,
                "_dlt_id": f"click-{s.intent_id}",
            }
        )
    return pd.DataFrame(rows)
