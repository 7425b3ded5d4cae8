"""drt-core (open-source reverse ETL, ``drt`` CLI) as a peer of our Channel Talk audience sync.

drt runs from its own virtual environment (``benchmarks/.peer/drt-venv``, git-ignored; created on first use with
``uv venv`` + ``uv pip install drt-core[duckdb]==1.2.1``), so it never shares dependencies with the project. It is
configured the way its docs describe (``drt_project.yml``, ``~/.drt/profiles.yml`` under a private HOME, one sync
YAML): source = DuckDB in memory reading the audience's Parquet export; destination = its generic ``rest_api``
(drt has no Channel Talk connector) with ``method: PUT`` and Channel Talk's upsert route, the body rendered by
its Jinja ``body_template`` from the same columns our sync sends, 10 requests/s. Channel Talk's upsert addresses
each member in the path (``PUT /open/v5/users/@{memberId}``): whatever drt does with a templated ``url`` is what
gets measured — requests and users counted at the emulator, not taken from drt's own report.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import ROOT

PEER_DIR = ROOT / "benchmarks" / ".peer"
VENV = PEER_DIR / "drt-venv"
DRT_SPEC = "drt-core[duckdb]==1.2.1"

BODY = """{
  "profile": {
    "name": {{ row.customer_name | tojson }},
    "mobileNumber": {% if row.phone and row.phone | length in (10, 11) and row.phone[:2] == '01' %}"+82{{ row.phone[1:] }}"{% else %}null{% endif %},
    "email": {% if row.email and '@' in row.email %}{{ row.email | tojson }}{% else %}null{% endif %},
    "segment": {{ row.segment | tojson }},
    "tier": {{ row.tier | tojson }}
  },
  "tags": ["crm_bench_members", "crm_segment_{{ row.segment | lower }}", "crm_tier_{{ row.tier | lower }}"]
  {%- if row.is_opted_out %}, "unsubscribeTexting": true, "unsubscribeEmail": true{% endif %}
}
"""


def ensure_venv() -> Path:
    """The peer's ``drt`` executable, installing drt-core into its own venv when missing."""
    drt = VENV / "bin" / "drt"
    if not drt.exists():
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(VENV)], check=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(VENV / "bin" / "python"), DRT_SPEC],
                       check=True)  # fmt: skip
    return drt


def version() -> str:
    out = subprocess.run([str(VENV / "bin" / "python"), "-c", "import importlib.metadata as m; "
                          "print(m.version('drt-core'))"], capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip() or "unknown"


def write_project(project: Path, audience: Path, ct_url: str) -> None:
    """``drt_project.yml``, the profile (private HOME) and the sync YAML."""
    (project / "syncs").mkdir(parents=True, exist_ok=True)
    (project / "home" / ".drt").mkdir(parents=True, exist_ok=True)
    (project / "drt_project.yml").write_text("name: crm_bench\nversion: '0.1'\nprofile: bench\n")
    (project / "home" / ".drt" / "profiles.yml").write_text(
        "bench:\n  type: duckdb\n  database: ':memory:'\n"
    )
    sync = {
        "name": "channeltalk_members",
        "description": "Members to Channel Talk (same audience as activation's bench_members sync)",
        "model": f"select * from read_parquet('{audience}') order by member_id",
        "destination": {
            "type": "rest_api",
            "url": ct_url + "/open/v5/users/@{{ row.member_id }}",
            "method": "PUT",
            "headers": {
                "Content-Type": "application/json",
                "x-access-key": "${CT_ACCESS_KEY}",
                "x-access-secret": "${CT_ACCESS_SECRET}",
            },
            "body_template": BODY,
        },
        "sync": {
            "mode": "full",
            "batch_size": 100,
            "rate_limit": {"requests_per_second": 10},
            "on_error": "skip",
        },
    }
    import yaml

    (project / "syncs" / "channeltalk_members.yml").write_text(yaml.safe_dump(sync, sort_keys=False))


def _emu_users(url: str) -> list[dict]:
    return requests.get(url + "/_emulator/users", timeout=30).json()["users"]


def run(audience: Path, handle: Any, work: Path) -> dict[str, Any]:
    """Two ``drt run`` of the same audience against the running Channel Talk emulator; rows for the table."""
    out: dict[str, Any] = {"rows": [], "notes": []}
    try:
        drt = ensure_venv()
    except (subprocess.CalledProcessError, OSError) as exc:
        out["notes"].append(f"drt-core could not be installed: {exc}")
        return out
    out["version"] = version()
    url = handle.urls["channeltalk"]
    creds = handle.credentials["channeltalk"]
    write_project(work, audience, url)
    env = {**os.environ, "HOME": str(work / "home"), "CT_ACCESS_KEY": creds["key"],
           "CT_ACCESS_SECRET": creds["secret"], "DO_NOT_TRACK": "1", "DRT_NO_TELEMETRY": "1"}  # fmt: skip
    members_before = {u.get("memberId") for u in _emu_users(url)}
    import duckdb

    con = duckdb.connect()
    expected = con.execute(f"select count(*) from read_parquet('{audience}')").fetchone()[0]
    for label in ("first", "unchanged"):
        before = handle.ctx.stats.snapshot("channeltalk.")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(drt), "run"], cwd=work, env=env, capture_output=True, text=True, timeout=3600
        )
        wall = time.perf_counter() - t0
        after = handle.ctx.stats.snapshot("channeltalk.")
        total = after.get("channeltalk.total.requests", 0) - before.get("channeltalk.total.requests", 0)
        writes = after.get("channeltalk.writes", 0) - before.get("channeltalk.writes", 0)
        ok = after.get("channeltalk.upsert_user.200", 0) - before.get("channeltalk.upsert_user.200", 0)
        out[f"{label}_exit_code"] = proc.returncode
        out[f"{label}_output_tail"] = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
        out["rows"].append({
            "step": f"Channel Talk sync, {label} run (drt-core {out['version']}, rest_api)", "items": expected,
            "requests": total, "write_calls": writes, "wall_s": round(wall, 1),
            "items_per_s": round(writes / wall, 1) if wall else None, "limit": "10 requests/s",
            "batch_fill": None, "answered_200": ok, "exit_code": proc.returncode,
        })  # fmt: skip
    users = _emu_users(url)
    new_ids = sorted({u.get("memberId") for u in users} - members_before)
    audience_ids = {r[0] for r in con.execute(f"select member_id from read_parquet('{audience}')").fetchall()}
    con.close()
    out.update(users_created_by_drt=len(new_ids), audience_members=expected,
               created_member_ids_sample=new_ids[:3])  # fmt: skip
    if new_ids and not set(new_ids) <= audience_ids:
        out["notes"].append(
            f"drt's rest_api destination sends `url` verbatim (it is not a template: only body_template and "
            f"headers are rendered per row), so all {out['rows'][0]['requests']} PUTs went to the same path and the "
            f"emulator created {len(new_ids)} user(s) with memberId {new_ids[:3]!r} instead of {expected} members; "
            f"drt counted every 200 as a success. Channel Talk addresses a member only in the path, so stock drt "
            f"cannot sync this audience to it without code of its own (a destination plugin)."
        )
    out["notes"].append(
        "drt `mode: full` re-sends every row on every run; its content-diff mode (`incremental_strategy: diff`) "
        "snapshots into the source warehouse and is only available for PostgreSQL/Snowflake sources, not DuckDB."
    )
    return out


__all__ = ["json", "run"]
