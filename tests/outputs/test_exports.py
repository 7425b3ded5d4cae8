"""Audience exports against the real small warehouse: counts, masking, hashing, BOM, pre-checks, atomic replacement."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from activation.config.loader import load_config
from activation.config.models import Campaign
from include.core.pii import hash_contact
from include.core.timezone import KST
from outputs.exports import ExportError, export_audiences

pytestmark = pytest.mark.integration

SALT = "test-salt-7f3a"


def q(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        return con.execute(sql, params or []).fetchall()


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no UTF-8 BOM (Excel would garble Hangul)"
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"))))


def entries(manifest: dict) -> dict[str, dict]:
    return {f"{e['kind']}/{e['name']}": e for e in manifest["exports"]}


@pytest.fixture(scope="module", autouse=True)
def _own_ledger(tmp_path_factory):
    """Exports read learned opt-outs from the settings' ledger: point it at one of this module's own (empty)."""
    from include.core.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRM_LEDGER_URL", f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def masked(built, tmp_path_factory) -> tuple[Path, dict, dict]:
    out = tmp_path_factory.mktemp("exports")
    result = export_audiences(built.warehouse, built.data_date, out)
    folder = Path(result["folder"])
    return folder, result, json.loads((folder / "manifest.json").read_text("utf-8"))


def test_every_model_segment_and_active_campaign_is_exported_with_warehouse_counts(built, masked) -> None:
    folder, result, manifest = masked
    assert folder.name == "audiences" and folder.parent.name == built.data_date.isoformat()
    models = [r[0] for r in q(built.warehouse, "select table_name from information_schema.tables "
                               "where table_schema = 'audiences' and table_name like 'audience_%'")]  # fmt: skip
    got = entries(manifest)
    assert len(models) >= 6
    for model in models:
        (n,) = q(built.warehouse, f"select count(*) from audiences.{model}")[0]
        assert got[f"model/{model}"]["rows"] == n, model
    for seg in ("G1", "G2", "G3", "G4"):
        (n,) = q(
            built.warehouse, "select count(*) from audiences.audience_customers where segment = ?", [seg]
        )[0]
        assert got[f"segment/{seg}"]["rows"] == n
        assert got[f"segment/{seg}"]["label"].startswith(seg + " ")
    active = [c.id for c in load_config().campaigns if c.is_active(built.data_date)]
    assert sorted(result["campaigns"]) == sorted(active)
    # campaign targeting = the campaign's filter + trigger, recomputed here in plain SQL for two kinds
    (g2,) = q(built.warehouse, "select count(*) from audiences.audience_customers where segment = 'G2'")[0]
    assert got["campaign/g2_time_limited_coupon"]["rows"] == g2
    (g1g2,) = q(built.warehouse, "select count(*) from audiences.audience_segment_transitions "
                                 "where from_segment = 'G1' and to_segment = 'G2'")[0]  # fmt: skip
    assert got["campaign/transition_g1_to_g2_secret_coupon"]["rows"] == g1g2
    # every file: rows as announced, checksum as announced
    for e in manifest["exports"]:
        for f in e["files"]:
            path = folder / f["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"], f["path"]
            assert path.stat().st_size == f["bytes"]
            n = pq.read_metadata(path).num_rows if f["format"] == "parquet" else len(read_csv(path))
            assert n == e["rows"], f["path"]
    assert manifest["totals"]["files"] == result["files"] == 2 * len(manifest["exports"])
    assert (folder / "README.txt").read_bytes().startswith(b"\xef\xbb\xbf")


def test_csv_is_excel_friendly_with_hangul_and_kst_times(built, masked) -> None:
    folder, _, _ = masked
    rows = read_csv(folder / "models" / "audience_customers.csv")
    assert any(re.search("[가-힣]", r["customer_name"]) for r in rows)
    wh = {
        cid: (name, seg, at)
        for cid, name, seg, at in q(
            built.warehouse,
            "select customer_id, customer_name, segment, strftime(consent_sms_at, '%Y-%m-%d %H:%M:%S') "
            "from audiences.audience_customers",
        )
    }
    for r in rows:
        name, seg, at = wh[r["customer_id"]]
        assert (r["customer_name"], r["segment"], r["consent_sms_at"] or None) == (name, seg, at)
    assert [r["customer_id"] for r in rows] == sorted(r["customer_id"] for r in rows)


def test_contacts_are_masked_everywhere(built, masked) -> None:
    folder, _, manifest = masked
    phones = {
        p
        for (p,) in q(
            built.warehouse, "select phone from audiences.audience_customers where phone is not null"
        )
    }
    emails = {
        e
        for (e,) in q(
            built.warehouse, "select email from audiences.audience_customers where email is not null"
        )
    }
    assert phones and emails
    text = "\n".join(p.read_bytes().decode("utf-8-sig") for p in folder.rglob("*.csv"))
    leaked = [p for p in phones if p in text.replace("-", "")] + [e for e in emails if e in text]
    assert not leaked, f"{len(leaked)} contacts in clear text, e.g. {leaked[:1]}"
    for path in folder.rglob("*.parquet"):
        t = pq.read_table(path, columns=["phone", "email"])
        assert all(
            v is None or re.fullmatch(r"(\d{3}-\*\*\*\*-\d{4}|\*\*\*)", v) for v in t["phone"].to_pylist()
        )
        assert all(v is None or re.fullmatch(r".\*\*\*@.+|\*\*\*", v) for v in t["email"].to_pylist())
    assert manifest["contact_mode"] == "mask"


def test_hash_mode_uses_the_salt_and_renames_columns(built, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CRM_EXPORT_HASH_SALT", raising=False)
    with pytest.raises(ExportError, match="CRM_EXPORT_HASH_SALT"):
        export_audiences(built.warehouse, built.data_date, tmp_path, contact_mode="hash", campaigns=[])
    assert not (tmp_path / built.data_date.isoformat() / "audiences").exists()
    monkeypatch.setenv("CRM_EXPORT_HASH_SALT", SALT)
    folder = Path(
        export_audiences(built.warehouse, built.data_date, tmp_path, contact_mode="hash", campaigns=[])[
            "folder"
        ]
    )
    t = pq.read_table(folder / "segments" / "G4.parquet")
    assert "phone" not in t.column_names and "email" not in t.column_names
    wh = dict(
        q(built.warehouse, "select customer_id, phone from audiences.audience_customers where segment = 'G4'")
    )
    hashed = dict(zip(t["customer_id"].to_pylist(), t["phone_sha256"].to_pylist(), strict=True))
    assert set(hashed) == set(wh)
    for cid, h in hashed.items():
        assert h == (hashlib.sha256((SALT + wh[cid]).encode()).hexdigest() if wh[cid] else None)
        assert h == hash_contact(wh[cid], SALT)
    sample = next(p for p in wh.values() if p)
    assert sample not in (folder / "segments" / "G4.csv").read_text("utf-8-sig")
    csv_rows = read_csv(folder / "segments" / "G4.csv")
    assert set(csv_rows[0]) >= {"phone_sha256", "email_sha256"}


def test_plain_mode_keeps_contacts(built, tmp_path) -> None:
    folder = Path(
        export_audiences(built.warehouse, built.data_date, tmp_path, contact_mode="plain", campaigns=[])[
            "folder"
        ]
    )
    t = pq.read_table(folder / "models" / "audience_customers.parquet", columns=["customer_id", "phone"])
    wh = dict(q(built.warehouse, "select customer_id, phone from audiences.audience_customers"))
    assert dict(zip(t["customer_id"].to_pylist(), t["phone"].to_pylist(), strict=True)) == wh


def test_campaign_precheck_reflects_contact_consent_and_opt_out(built, masked) -> None:
    folder, _, manifest = masked
    e = entries(manifest)["campaign/g2_time_limited_coupon"]  # friendtalk, advertising
    t = pq.read_table(folder / "campaigns" / "g2_time_limited_coupon.parquet")
    rows = t.select(["customer_id", "send_precheck", "channel", "campaign_id"]).to_pylist()
    assert {r["channel"] for r in rows} == {"friendtalk"} and {r["campaign_id"] for r in rows} == {e["name"]}
    wh = {
        r[0]: r[1:]
        for r in q(built.warehouse, "select customer_id, has_valid_phone, is_opted_out, consent_kakao, "
                                    "consent_kakao_at from audiences.audience_customers where segment = 'G2'")
    }  # fmt: skip
    send_day = built.data_date + timedelta(days=1)  # the run of D sends on D+1
    for r in rows:
        valid, opted_out, consent, at = wh[r["customer_id"]]
        # consent is re-confirmed two years after it was given (29 Feb → 28 Feb, like SQL's date arithmetic)
        due = at and (
            at.date().replace(year=at.year + 2)
            if (at.month, at.day) != (2, 29)
            else at.date().replace(year=at.year + 2, day=28)
        )
        ok = valid and not opted_out and consent and (due is None or due > send_day)
        assert (r["send_precheck"] == "ready") == bool(ok), r
    assert e["ready_rows"] == sum(r["send_precheck"] == "ready" for r in rows)
    assert {r["send_precheck"] for r in rows} <= {
        "ready",
        "invalid_contact",
        "opted_out",
        "no_consent",
        "consent_expired",
    }


def test_reexport_is_identical_and_replaces_the_folder(built, tmp_path) -> None:
    first = export_audiences(built.warehouse, built.data_date, tmp_path)
    folder = Path(first["folder"])
    before = (folder / "manifest.json").read_bytes()
    (folder / "stray.csv").write_text("left from an older export")
    second = export_audiences(built.warehouse, built.data_date, tmp_path)
    assert (folder / "manifest.json").read_bytes() == before
    assert first["rows"] == second["rows"]
    assert not (folder / "stray.csv").exists()
    assert [p.name for p in folder.parent.iterdir()] == ["audiences"]


def test_failed_export_leaves_the_previous_one_untouched(built, tmp_path) -> None:
    export_audiences(built.warehouse, built.data_date, tmp_path, campaigns=[])
    folder = tmp_path / built.data_date.isoformat() / "audiences"
    snapshot = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    bad = Campaign.model_validate(
        {
            "id": "broken_filter",
            "name": "잘못된 필터",
            "audience": {
                "model": "audience_customers",
                "filter": [{"column": "no_such_column", "op": "eq", "value": 1}],
            },
            "trigger": {"type": "schedule", "cron": "0 10 * * MON", "timezone": "Asia/Seoul"},
            "channel": "sms",
            "kind": "advertising",
            "message": {"text": "안녕하세요 #{링크}"},
        }
    )
    with pytest.raises(ExportError, match="no_such_column"):
        export_audiences(built.warehouse, built.data_date, tmp_path, campaigns=[bad])
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == snapshot
    assert [p.name for p in folder.parent.iterdir()] == ["audiences"]


def test_stale_audiences_and_bad_arguments_are_refused(built, tmp_path) -> None:
    with pytest.raises(ExportError, match="stale"):
        export_audiences(built.warehouse, built.data_date - timedelta(days=1), tmp_path, campaigns=[])
    with pytest.raises(ExportError, match="contact_mode"):
        export_audiences(built.warehouse, built.data_date, tmp_path, contact_mode="clear", campaigns=[])  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="does not exist"):
        export_audiences(tmp_path / "nope.duckdb", built.data_date, tmp_path, campaigns=[])
    assert not list(tmp_path.rglob("*.csv"))


def test_contract_violation_is_named(wh_copy, built, tmp_path) -> None:
    with duckdb.connect(str(wh_copy)) as con:
        con.execute("alter table audiences.audience_tier_changes drop column consent_sms")
    with pytest.raises(ExportError, match=r"audience_tier_changes breaks the audience contract.*consent_sms"):
        export_audiences(wh_copy, built.data_date, tmp_path, campaigns=[])


def test_export_reads_the_warehouse_read_only(built, tmp_path) -> None:
    digest = hashlib.sha256(built.warehouse.read_bytes()).hexdigest()
    with duckdb.connect(str(built.warehouse), read_only=True):  # another reader at the same time is fine
        export_audiences(built.warehouse, built.data_date, tmp_path, campaigns=[])
    assert hashlib.sha256(built.warehouse.read_bytes()).hexdigest() == digest


PRECHECK_REASONS = {"invalid_contact", "opted_out", "no_consent", "consent_expired"}


def test_export_precheck_is_the_planners_decision_with_ledger_learned_opt_outs(
    built, masked, tmp_path
) -> None:
    """A campaign export never marks ``ready`` a customer the planner would suppress: an opt-out the send ledger
    learned (Solapi 080, Channel Talk) counts in both, and every precheck reason is the planner's own."""
    from activation.audience import AudienceReader
    from activation.config.models import ScheduleTrigger
    from activation.ledger import Ledger
    from activation.planning.planner import Planner
    from activation.planning.policies import OptOuts

    folder, _, _ = masked
    campaign_id = "g2_time_limited_coupon"  # advertising FriendTalk: contact, opt-out and consent all apply
    before = pq.read_table(folder / "campaigns" / f"{campaign_id}.parquet")
    ready = sorted(c for c, r in zip(before["customer_id"].to_pylist(), before["send_precheck"].to_pylist(),
                                     strict=True) if r == "ready")  # fmt: skip
    assert len(ready) >= 2
    by_customer, by_phone = ready[0], ready[1]
    phone = dict(q(built.warehouse, "select customer_id, phone from audiences.audience_customers"))[by_phone]

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger(url)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    ledger.add_opt_outs(
        [
            {"opt_out_id": "t1", "customer_id": by_customer, "contact_hash": None, "source": "channeltalk"},
            {
                "opt_out_id": "t2",
                "customer_id": None,
                "contact_hash": hash_contact(phone),
                "source": "solapi_080",
            },
        ],
        at,
        "test",
    )
    assert export_audiences(built.warehouse, built.data_date, tmp_path / "exp", ledger_url=url)
    after = pq.read_table(tmp_path / "exp" / built.data_date.isoformat() / "audiences" / "campaigns"
                          / f"{campaign_id}.parquet")  # fmt: skip
    exported = dict(zip(after["customer_id"].to_pylist(), after["send_precheck"].to_pylist(), strict=True))
    assert exported[by_customer] == "opted_out" and exported[by_phone] == "opted_out"

    # the planner, on the same warehouse and ledger, for the same campaign made due on the send day
    config = load_config()
    campaign = config.campaign(campaign_id)
    daily = campaign.model_copy(update={"trigger": ScheduleTrigger(type="schedule", cron="0 10 * * *")})
    config.campaigns = [daily]
    ref = datetime.combine(built.data_date + timedelta(days=1), time(0, 0), tzinfo=KST)
    try:
        plan = Planner(config, ledger, AudienceReader(built.warehouse)).plan(built.data_date, ref, "test-run")
    finally:
        ledger.close()
    planned = {i.customer_id: i.reason for i in plan.campaigns[0].intents}
    assert set(planned) == set(exported)
    mismatched = {
        c: (exported[c], planned[c])
        for c in exported
        if exported[c] != (planned[c] if planned[c] in PRECHECK_REASONS else "ready")
    }
    assert not mismatched, (
        f"{len(mismatched)} customers differ (export, planner), e.g. {list(mismatched.items())[:3]}"
    )
    assert planned[by_customer] == planned[by_phone] == "opted_out"
    assert OptOuts() == OptOuts.of((set(), set()))
