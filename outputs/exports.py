"""Nightly audience files for marketers: every audience model, every G1–G4 segment and every campaign-ready audience.

Layout of one night (``out_dir/<data_date>/audiences/``)::

    models/audience_<kind>.csv|.parquet     every dbt audience model, as built for the date
    segments/G1.csv|.parquet … G4           audience_customers split by segment
    campaigns/<campaign_id>.csv|.parquet    the targeting of each campaign active on the date, with a pre-check
    manifest.json                           row counts, columns, SHA-256 of every file, contact mode
    README.txt                              the same in Korean, for whoever opens the folder

CSV files are UTF-8 with a BOM (Excel shows Hangul) and times in KST; Parquet keeps the warehouse types. Phones and
e-mails are masked (:mod:`include.core.pii`), hashed (SHA-256 salted with ``CRM_EXPORT_HASH_SALT``; columns renamed
``phone_sha256``/``email_sha256``) or, only when configured, plain. The warehouse is opened read-only; the date's
folder is built in a temporary folder and renamed into place, so readers never see half an export and a rerun
replaces the previous one. Nothing reads the wall clock: the same warehouse gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from include.core.pii import hash_contact, mask_email, mask_phone
from include.core.timezone import TIMEZONE
from outputs.labels import SEGMENT_ORDER, SEGMENTS

if TYPE_CHECKING:
    from activation.config.loader import ActivationConfig
    from activation.config.models import Campaign
    from activation.planning.policies import OptOuts

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SCHEMA = "audiences"
CONTACT_MODES = ("mask", "hash", "plain")
SALT_ENV = "CRM_EXPORT_HASH_SALT"
CONTACT_COLUMNS = ("phone", "email")
BOM = b"\xef\xbb\xbf"
READY = "ready"

ContactMode = Literal["mask", "hash", "plain"]


class ExportError(RuntimeError):
    """The audiences cannot be exported as asked (missing model, stale date, bad campaign, no salt…)."""


@dataclass
class _Job:
    kind: str  # model | segment | campaign
    name: str
    model: str
    where: str = "TRUE"
    params: list[Any] = field(default_factory=list)
    campaign: Campaign | None = None


def export_audiences(
    warehouse: Path,
    data_date: date,
    out_dir: Path,
    *,
    contact_mode: ContactMode = "mask",
    campaigns: ActivationConfig | Sequence[Campaign] | str | Path | None = None,
    opt_outs: OptOuts | None = None,
    ledger_url: str | None = None,
) -> dict:
    """Writes the night's audience files into ``out_dir/<data_date>/audiences/`` (replacing a previous export).

    Args:
        warehouse: the DuckDB warehouse file (opened read-only).
        data_date: the run's data date; every audience model must have been built for it (stale data is refused).
        out_dir: root of the per-date folders (the pipeline passes ``settings.runs``).
        contact_mode: ``mask`` (default), ``hash`` (SHA-256 salted by env ``CRM_EXPORT_HASH_SALT``) or ``plain``.
        campaigns: campaigns whose audiences to export: ``None`` reads the campaigns folder of the settings, a
            path reads that folder, or pass a loaded config / list of campaigns (``[]`` exports none). Only
            campaigns active on ``data_date`` are exported.
        opt_outs: the opt-outs the send ledger learned; ``None`` reads them from ``ledger_url`` (default the ledger
            of the settings), so a campaign export marks ``ready`` only whom the planner would not suppress.
        ledger_url: the send ledger to read opt-outs from when ``opt_outs`` is not given.

    Returns:
        A JSON-friendly summary: folder, manifest path, contact mode, file count, rows per export, seconds.

    Raises:
        ExportError: on a missing warehouse or audience model, a stale model, an unknown column in a campaign
            filter, or ``hash`` mode without a salt. Nothing is replaced then: the previous export stays.
    """
    started = time.perf_counter()
    if contact_mode not in CONTACT_MODES:
        raise ExportError(f"contact_mode must be one of {', '.join(CONTACT_MODES)}, got {contact_mode!r}")
    salt = _salt() if contact_mode == "hash" else ""
    selected = _campaigns(campaigns, data_date)
    if opt_outs is None and selected:
        opt_outs = _learned_opt_outs(ledger_url)
    date_dir = Path(out_dir) / data_date.isoformat()
    final = date_dir / "audiences"
    date_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(date_dir)
    tmp = date_dir / f".audiences.tmp-{uuid.uuid4().hex[:12]}"
    entries: list[dict[str, Any]] = []
    con = _connect(Path(warehouse))
    try:
        models = _audience_models(con, data_date)
        for job in _jobs(models, selected):
            table = _fetch(con, job, models[job.model])
            extra: dict[str, Any] = {}
            if job.campaign is not None:
                table, ready = _precheck(table, job.campaign, data_date, opt_outs)
                extra = _campaign_info(job.campaign, ready)
            table = _protect_contacts(table, contact_mode, salt)
            entries.append(_write(tmp, job, table, extra))
        manifest = _manifest(data_date, contact_mode, entries)
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
        (tmp / "README.txt").write_bytes(BOM + _readme(manifest).encode("utf-8"))
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        con.close()
    rows = {f"{e['kind']}/{e['name']}": e["rows"] for e in entries}
    log.info(
        "exported %d audience files for %s into %s (%s contacts)",
        2 * len(entries),
        data_date,
        final,
        contact_mode,
    )
    return {
        "data_date": data_date.isoformat(),
        "folder": str(final),
        "manifest": str(final / "manifest.json"),
        "contact_mode": contact_mode,
        "files": 2 * len(entries),
        "exports": len(entries),
        "rows": rows,
        "campaigns": [e["name"] for e in entries if e["kind"] == "campaign"],
        "seconds": round(time.perf_counter() - started, 3),
    }


# ---- inputs -----------------------------------------------------------------------------------------------------


def _salt() -> str:
    salt = os.environ.get(SALT_ENV, "")
    if not salt.strip():
        raise ExportError(
            f"contact_mode 'hash' needs a secret salt in env {SALT_ENV}: an unsalted hash of a phone number "
            "can be reversed by trying every number"
        )
    return salt


def _campaigns(
    campaigns: ActivationConfig | Sequence[Campaign] | str | Path | None, data_date: date
) -> list[Campaign]:
    from activation.config.loader import ActivationConfig, load_config

    if campaigns is None or isinstance(campaigns, str | Path):
        campaigns = load_config(campaigns)  # raises ConfigError naming every bad file
    if isinstance(campaigns, ActivationConfig):
        campaigns = campaigns.campaigns
    return sorted((c for c in campaigns if c.is_active(data_date)), key=lambda c: c.id)


def _learned_opt_outs(ledger_url: str | None) -> OptOuts:
    from sqlalchemy.engine import make_url

    from activation.ledger import Ledger
    from activation.planning.policies import OptOuts
    from include.core.settings import get_settings

    url = ledger_url or get_settings().ledger
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).exists()):
        return OptOuts()  # no ledger yet: nothing learned (and an export does not create one)
    ledger = Ledger(url)
    try:
        return OptOuts.of(ledger.opt_out_keys())
    finally:
        ledger.close()


def _connect(warehouse: Path) -> Any:
    import duckdb

    if not warehouse.exists():
        raise ExportError(f"warehouse {warehouse} does not exist: run extraction and dbt first")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ExportError(f"cannot open warehouse {warehouse} read-only: {exc}") from exc
    con.execute(f"set TimeZone = '{TIMEZONE}'")
    return con


def _audience_models(con: Any, data_date: date) -> dict[str, list[str]]:
    """``audience_*`` models of schema ``audiences`` → their columns; checks the contract and the run date."""
    from include.core.rules import audience_columns

    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = ? and table_name like 'audience\\_%' escape '\\' order by table_name, ordinal_position",
        [SCHEMA],
    ).fetchall()
    models: dict[str, list[str]] = {}
    for table, column in rows:
        models.setdefault(table, []).append(column)
    if "audience_customers" not in models:
        raise ExportError(f"{SCHEMA}.audience_customers not found: run the dbt build for {data_date} first")
    for model, cols in models.items():
        missing = [c for c in audience_columns() if c not in cols]
        if missing:
            raise ExportError(f"{SCHEMA}.{model} breaks the audience contract: missing columns {missing}")
        dates = [r[0] for r in con.execute(f"select distinct run_date from {SCHEMA}.{_q(model)}").fetchall()]
        if any(d != data_date for d in dates):
            raise ExportError(
                f"{SCHEMA}.{model} holds run_date {', '.join(sorted(map(str, dates)))}, not {data_date}: "
                "refusing to export stale audiences (build the models for this date first)"
            )
    return models


def _jobs(models: dict[str, list[str]], campaigns: list[Campaign]) -> list[_Job]:
    from activation.audience import compile_filter, trigger_conditions

    jobs = [_Job("model", m, m) for m in sorted(models)]
    jobs += [_Job("segment", s, "audience_customers", '"segment" = ?', [s]) for s in SEGMENT_ORDER]
    for c in campaigns:
        if c.audience.model not in models:
            raise ExportError(
                f"campaign {c.id}: audience model {SCHEMA}.{c.audience.model} does not exist "
                f"(have: {', '.join(sorted(models))})"
            )
        conditions = [*c.audience.filter, *trigger_conditions(c)]
        unknown = sorted({k.column for k in conditions} - set(models[c.audience.model]))
        if unknown:
            raise ExportError(f"campaign {c.id}: {SCHEMA}.{c.audience.model} has no column(s) {unknown}")
        where, params = compile_filter(conditions)
        jobs.append(_Job("campaign", c.id, c.audience.model, where, params, c))
    return jobs


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _fetch(con: Any, job: _Job, columns: list[str]) -> pa.Table:
    # customer_id first (contract order), then every other column: a total, deterministic order
    order = ", ".join(_q(c) for c in ["customer_id", *[c for c in columns if c != "customer_id"]])
    sql = f"select * from {SCHEMA}.{_q(job.model)} where {job.where} order by {order}"
    return con.sql(sql, params=job.params).to_arrow_table()


# ---- transformations --------------------------------------------------------------------------------------------


def _precheck(
    table: pa.Table, campaign: Campaign, data_date: date, opt_outs: OptOuts
) -> tuple[pa.Table, int]:
    """Adds ``campaign_id``, ``channel`` and ``send_precheck``: ``ready`` or the first contact/opt-out/consent rule
    the row fails, decided by the planner's own :func:`~activation.planning.policies.precheck` for the send day of
    ``data_date`` (learned opt-outs included). Caps, priority, holdout and quiet hours are decided at send time."""
    from activation.planning import policies
    from activation.schedule import send_day

    needed = [c for c in table.column_names if c in _PRECHECK_COLUMNS]
    rows = table.select(needed).to_pylist()
    on = send_day(data_date)
    checks = [
        policies.precheck(campaign.channel, campaign.kind, row, on, opt_outs).reason or READY for row in rows
    ]
    n = table.num_rows
    table = table.append_column("campaign_id", pa.array([campaign.id] * n, pa.string()))
    table = table.append_column("channel", pa.array([campaign.channel] * n, pa.string()))
    table = table.append_column("send_precheck", pa.array(checks, pa.string()))
    return table, sum(1 for c in checks if c == READY)


_PRECHECK_COLUMNS = {
    "customer_id",
    "phone",
    "has_valid_phone",
    "email",
    "member_id",
    "is_member",
    "is_opted_out",
    *(f"consent_{k}" for k in ("sms", "kakao", "email", "push")),
    *(f"consent_{k}_at" for k in ("sms", "kakao", "email", "push")),
}


def _protect_contacts(table: pa.Table, mode: str, salt: str) -> pa.Table:
    if mode == "plain":
        return table
    for name in CONTACT_COLUMNS:
        if name not in table.column_names:
            continue
        idx = table.column_names.index(name)
        values = table.column(name).to_pylist()
        if mode == "mask":
            fn = mask_phone if name == "phone" else mask_email
            table = table.set_column(idx, name, pa.array([fn(v) for v in values], pa.string()))
        else:
            hashed = [hash_contact(v, salt) if v else None for v in values]
            table = table.set_column(idx, f"{name}_sha256", pa.array(hashed, pa.string()))
    return table


def _for_csv(table: pa.Table) -> pa.Table:
    """Timestamps as KST ``YYYY-MM-DD HH:MM:SS`` text (what Excel and people read); other types as they are."""
    cols = []
    for col, fld in zip(table.columns, table.schema, strict=True):
        if pa.types.is_timestamp(fld.type):
            local = col if fld.type.tz else pc.assume_timezone(col, TIMEZONE)
            cols.append(pc.strftime(local.cast(pa.timestamp("s", tz=TIMEZONE)), format="%Y-%m-%d %H:%M:%S"))
        else:
            cols.append(col)
    return pa.table(cols, names=table.column_names)


# ---- output -----------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write(tmp: Path, job: _Job, table: pa.Table, extra: dict[str, Any]) -> dict[str, Any]:
    folder = tmp / {"model": "models", "segment": "segments", "campaign": "campaigns"}[job.kind]
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = folder / f"{job.name}.csv", folder / f"{job.name}.parquet"
    with csv_path.open("wb") as fh:
        fh.write(BOM)
        pacsv.write_csv(_for_csv(table), fh)
    pq.write_table(table, parquet_path, compression="zstd")
    files = []
    for path, fmt in ((csv_path, "csv"), (parquet_path, "parquet")):
        files.append(
            {
                "path": path.relative_to(tmp).as_posix(),
                "format": fmt,
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
            }
        )
    entry: dict[str, Any] = {
        "kind": job.kind,
        "name": job.name,
        "model": job.model,
        "rows": table.num_rows,
        "columns": table.column_names,
        "files": files,
    }
    if job.kind == "segment":
        entry["label"] = f"{job.name} {SEGMENTS[job.name]['name']}"
    entry.update(extra)
    return entry


def _campaign_info(campaign: Campaign, ready: int) -> dict[str, Any]:
    return {
        "label": campaign.name,
        "channel": campaign.channel,
        "message_kind": campaign.kind,
        "trigger": campaign.trigger.type,
        "filter": [c.model_dump(mode="json") for c in campaign.audience.filter],
        "ready_rows": ready,
    }


def _manifest(data_date: date, mode: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    contacts = {
        "mask": "masked (010-****-1234, k***@example.com)",
        "hash": "SHA-256 of the normalised contact (digits / lower-case e-mail), salted; columns *_sha256",
        "plain": "plain text: handle as personal data",
    }[mode]
    return {
        "format_version": FORMAT_VERSION,
        "data_date": data_date.isoformat(),
        "contact_mode": mode,
        "contacts": contacts,
        "csv": {"encoding": "utf-8-sig", "timezone": TIMEZONE, "timestamp_format": "%Y-%m-%d %H:%M:%S"},
        "exports": entries,
        "totals": {"exports": len(entries), "files": 2 * len(entries)},
    }


def _readme(manifest: dict[str, Any]) -> str:
    mode_ko = {
        "mask": "마스킹됨 (010-****-1234)",
        "hash": "SHA-256 해시 (솔트 적용)",
        "plain": "원문 (개인정보 취급 주의)",
    }
    lines = [
        f"CRM 오디언스 파일 — 기준일 {manifest['data_date']}",
        "",
        f"연락처: {mode_ko[manifest['contact_mode']]}. CSV 시간은 한국 시간(KST)입니다.",
        "campaigns/ 파일의 send_precheck 열: ready = 연락처·수신동의 확인됨. 그 밖의 값은 발송에서 빠지는 이유이며,",
        "빈도 제한·우선순위·홀드아웃·야간 규칙은 실제 발송 시점에 적용됩니다.",
        "",
    ]
    titles = {"model": "오디언스 모델", "segment": "세그먼트별 고객", "campaign": "캠페인 대상"}
    for kind, title in titles.items():
        rows = [e for e in manifest["exports"] if e["kind"] == kind]
        if not rows:
            continue
        lines.append(f"[{title}]")
        for e in rows:
            label = f" ({e['label']})" if e.get("label") else ""
            ready = f", 발송 가능 {e['ready_rows']:,}명" if kind == "campaign" else ""
            lines.append(f"  {e['files'][0]['path']}{label}: {e['rows']:,}행{ready}")
        lines.append("")
    lines.append("각 파일의 행 수와 SHA-256 체크섬은 manifest.json에 있습니다.")
    return "\r\n".join(lines) + "\r\n"


def _remove_leftovers(date_dir: Path) -> None:
    """Removes temporary folders a crashed export left behind (never the published folder)."""
    for p in date_dir.glob(".audiences.*-*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Publishes ``tmp`` as ``final``: rename the old folder aside, rename the new one in, delete the old."""
    old = None
    if final.exists():
        old = final.with_name(f".audiences.old-{uuid.uuid4().hex[:12]}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError:
        if old is not None:
            os.rename(old, final)  # put the previous export back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
