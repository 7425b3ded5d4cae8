"""Benchmark 5: activation throughput vs the destinations' limits, and the same audience synced by drt as a peer.

On the dbt-built warehouse: one daily advertising SMS campaign to every member (``plan_and_send`` → Solapi
emulator: planning, ledger, batching into groups of ≤ 10,000 messages per request), then the Channel Talk sync of a
fixed audience (members m0000001–m0000300) twice — the second run sees an unchanged audience and must make zero write
calls. Channel Talk allows one user per request at 10 requests/s (the emulator enforces it on the wall clock), so
that sync's baseline is the limit itself: members / 10 s. Requests are counted at the emulators.

The peer is drt-core (``drt`` CLI, its own venv under ``benchmarks/.peer/``, see :mod:`benchmarks.drt_peer`),
configured to read the same audience (a Parquet export) and push it to the same Channel Talk emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import ROOT, Section, as_of, print_table

SHIPPED = ROOT / "include" / "campaigns"
CAMPAIGN = {
    "id": "bench_daily_sms",
    "name": "benchmark: daily SMS to every member",
    "audience": {
        "model": "audience_customers",
        "filter": [{"column": "is_member", "op": "eq", "value": True}],
    },
    "trigger": {"type": "schedule", "cron": "0 10 * * *", "timezone": "Asia/Seoul"},
    "channel": "sms",
    "kind": "advertising",
    "message": {"text": "#{이름}님, #{카테고리} 신상품 소식입니다. #{링크}", "subject": "신상품"},
    "priority": 100,
}


def sync_spec(members: int) -> dict:
    """The benchmark sync: member ids ``m0000001..`` up to ``members`` (the same audience at every scale)."""
    return {**SYNC, "audience": {**SYNC["audience"], "filter": [
        {"column": "is_member", "op": "eq", "value": True},
        {"column": "member_id", "op": "lt", "value": below(members)},
    ]}}  # fmt: skip


def below(members: int) -> str:
    return f"m{members + 1:07d}"


SYNC = {
    "id": "bench_members",
    "destination": "channeltalk",
    "audience": {
        "model": "audience_customers",
        "filter": [{"column": "is_member", "op": "eq", "value": True}],
    },
    "profile": {"name": "customer_name", "mobileNumber": "phone", "email": "email", "segment": "segment",
                "tier": "tier"},
    "tag_columns": ["segment", "tier"],
    "tag_prefix": "crm_",
    "delete_policy": "remove_tag",
}  # fmt: skip


def campaigns_folder(work: Path, max_recipients: int | None, sync_members: int) -> Path:
    """Shipped settings and templates with only the benchmark campaign and sync."""
    out = work / "campaigns"
    out.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((SHIPPED / "settings.yml").read_text(encoding="utf-8"))
    settings["syncs"] = [sync_spec(sync_members)]
    settings["control_group_pct"] = 0
    (out / "settings.yml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    shutil.copy(SHIPPED / "templates.yml", out / "templates.yml")
    body = dict(CAMPAIGN)
    if max_recipients:
        body["max_recipients"] = max_recipients
    (out / f"{body['id']}.yml").write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return out


def _stats(handle: Any, prefix: str) -> dict[str, int]:
    return handle.ctx.stats.snapshot(prefix)


def run(
    warehouse: Path,
    work: Path,
    scale: str,
    run_date: date,
    *,
    max_recipients: int | None,
    sync_members: int = 300,
) -> Section:
    """Campaign send + two syncs (ours), then the drt peer on the same audience."""
    from activation.api import plan_and_send, sync_audiences
    from testbed.emulators.runner import start_emulators

    sec = Section("activation", scale)
    work.mkdir(parents=True, exist_ok=True)
    folder = campaigns_folder(work, max_recipients, sync_members)
    ledger = f"sqlite:///{work / 'ledger.sqlite'}"
    ref = as_of(run_date)
    options = {
        "templates_path": str(folder / "templates.yml"),
        "solapi_senders": ["0212345678"],
        "solapi_auth_clock": "wall",
        "solapi_processing_delay_s": 0,
        "solapi_report_delay_s": 0,
    }
    handle = start_emulators(work / "emu" / "shop", work / "emu" / "state", work / "emu" / "drops", ref,
                             apis=("solapi", "channeltalk"), options=options)  # fmt: skip
    saved_env = dict(os.environ)
    try:
        os.environ.update(handle.connection_env())
        kw = {"campaigns_dir": folder, "ledger_url": ledger, "warehouse": warehouse}
        t0 = time.perf_counter()
        result = plan_and_send(run_date, reference_time=ref, run_id="bench-send", **kw)
        send_s = time.perf_counter() - t0
        solapi = _stats(handle, "solapi.")
        sent = sum(v for k, v in solapi.items() if k.startswith("solapi.messages.accepted."))
        adds = solapi.get("solapi.add_group_messages.200", 0)
        summary = result.campaigns.get(CAMPAIGN["id"])
        planned = summary.to_send if summary is not None and hasattr(summary, "to_send") else None
        sec.rows.append({
            "step": "campaign send (SMS/LMS via Solapi)", "items": sent, "requests": solapi.get("solapi.total.requests", 0),
            "wall_s": round(send_s, 1), "items_per_s": round(sent / send_s) if send_s else None,
            "limit": "10,000 messages/request", "batch_fill": round(sent / adds / 10_000, 3) if adds else None,
            "write_calls": adds,
        })  # fmt: skip
        sec.facts["send"] = {"errors": result.errors, "batches": result.batches, "planned_to_send": planned,
                             "add_requests": adds, "messages_accepted": sent}  # fmt: skip

        for label in ("first", "unchanged"):
            before = _stats(handle, "channeltalk.")
            t0 = time.perf_counter()
            (report,) = sync_audiences(run_date, reference_time=ref, run_id=f"bench-sync-{label}", **kw)
            wall = time.perf_counter() - t0
            after = _stats(handle, "channeltalk.")
            writes = after.get("channeltalk.writes", 0) - before.get("channeltalk.writes", 0)
            total = after.get("channeltalk.total.requests", 0) - before.get("channeltalk.total.requests", 0)
            limited = after.get("channeltalk.rate_limited", 0) - before.get("channeltalk.rate_limited", 0)
            sec.rows.append({
                "step": f"Channel Talk sync, {label} run (ours)", "items": report.members, "requests": total,
                "wall_s": round(wall, 1), "items_per_s": round(report.writes / wall, 1) if wall else None,
                "limit": "10 requests/s", "batch_fill": None, "write_calls": writes, "http_429": limited,
                "floor_s": round(max(report.writes - 10, 0) / 10, 1),
            })  # fmt: skip
            if label == "unchanged" and writes:
                sec.error = f"an unchanged audience made {writes} write calls"
        export = work / "audience.parquet"
        _export_audience(warehouse, export, below(sync_members))
        from benchmarks import drt_peer

        peer = drt_peer.run(export, handle, work / "drt")
        sec.rows += peer["rows"]
        sec.facts["drt"] = {k: v for k, v in peer.items() if k != "rows"}
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        handle.stop()
    print_table(f"[{scale}] activation vs destination limits (and drt-core as a peer)", sec.rows,
                ["step", "items", "requests", "write_calls", "wall_s", "items_per_s", "limit", "batch_fill"])  # fmt: skip
    for note in sec.facts.get("drt", {}).get("notes", []):
        print(f"  drt: {note}", flush=True)
    return sec


def _export_audience(warehouse: Path, out: Path, member_below: str) -> None:
    """The sync's audience as Parquet (what drt reads): the same rows and columns our sync reads."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(
            "COPY (SELECT member_id, customer_name, phone, email, segment, tier, is_opted_out "
            "FROM audiences.audience_customers WHERE is_member AND member_id < ? ORDER BY member_id) "
            f"TO '{out}' (FORMAT parquet)",
            [member_below],
        )


__all__ = ["json", "run"]
