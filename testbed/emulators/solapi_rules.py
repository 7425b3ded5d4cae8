"""Solapi v4 message rules: intake validation (1xxx codes), AlimTalk templates, simulated delivery outcomes.

Pure functions and small classes, no HTTP: :mod:`testbed.emulators.solapi` calls them. Status codes follow the
vendor's published list where one exists (docs/emulators.md lists which codes are exact and which are stand-ins).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from include.core.timezone import KST

log = logging.getLogger(__name__)


SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000
KAKAO_MAX_CHARS = 1000
CUSTOM_KEY_MAX = 30
CUSTOM_VALUE_MAX = 100
FRIENDTALK_HOURS = (8, 20)  # KST, [start, end)

# Price per message (KRW) used for the emulated balance; close to the public price list.
PRICES = {"SMS": 20, "LMS": 50, "MMS": 120, "ATA": 13, "CTA": 20}
TYPES = ("SMS", "LMS", "MMS", "ATA", "CTA")

STATUS_MESSAGES = {
    "2000": "정상 접수(이통사로 접수 예정)",
    "3000": "이통사로 접수 완료",
    "4000": "수신완료",
    "1010": "필수 입력값 누락(to, from, text)",
    "1020": "수신번호 형식 오류",
    "1021": "customFields 형식 오류(키 30자, 값 100자 제한)",
    "1022": "지원하지 않는 메시지 타입",
    "1026": "중복된 수신번호(같은 내용)",
    "1030": "잔액 부족",
    "1031": "메시지 길이 초과",
    "1042": "등록되지 않은 알림톡 템플릿 또는 카카오 채널(pfId)",
    "1043": "알림톡 내용이 템플릿과 일치하지 않음",
    "1061": "080 수신거부 번호",
    "1062": "등록되지 않은 발신번호",
    "3040": "전송시간 초과(이통사)",
    "3043": "단말기 전원 꺼짐(이통사)",
    "3104": "카카오톡 미사용자",
    "3107": "알림톡 수신 차단",
    "3108": "발송 가능 시간이 아님(친구톡 08:00-20:00)",
}
CARRIER_FAILURES = ("3040", "3043")

_RECIPIENT = re.compile(r"^(01[016789]\d{7,8}|0[2-6]\d{7,9}|070\d{8})$")
_SENDER = re.compile(r"^(0\d{8,10}|1[5-9]\d{6})$")
_PLACEHOLDER = re.compile(r"#\{([^{}]+)\}")


def digits(value: Any) -> str:
    """Keeps only the digits of a phone number (``010-1234-5678`` → ``01012345678``)."""
    return re.sub(r"\D", "", str(value or ""))


def euckr_len(text: str) -> int:
    """Byte length as carriers count it (EUC-KR/CP949: ASCII 1 byte, Hangul and symbols 2 bytes)."""
    total = 0
    for ch in text:
        if ord(ch) < 0x80:
            total += 1
            continue
        try:
            total += len(ch.encode("cp949"))
        except UnicodeEncodeError:
            total += 2  # not encodable (emoji …): counted as one double-byte character
    return total


def unit_hash(*parts: Any) -> float:
    """Deterministic uniform number in [0, 1) from the given parts."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Template:
    """A registered AlimTalk template."""

    id: str
    pf_id: str
    name: str
    content: str
    buttons: tuple = ()

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(f"#{{{m}}}" for m in _PLACEHOLDER.findall(self.content))

    def render(self, variables: dict[str, Any]) -> str:
        return _PLACEHOLDER.sub(lambda m: str(variables.get(f"#{{{m.group(1)}}}", m.group(0))), self.content)

    def matches_text(self, text: str) -> bool:
        """Whether ``text`` is this template with every placeholder filled by some non-empty value."""
        parts = _PLACEHOLDER.split(self.content)
        pattern = "".join(re.escape(p) if i % 2 == 0 else "(.+?)" for i, p in enumerate(parts))
        return re.fullmatch(pattern, text, flags=re.DOTALL) is not None


class TemplateRegistry:
    """Templates from the YAML file (``templates: [{id, pf_id, name, content, buttons}]``), reloaded on change."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime: float | None = None
        self._templates: dict[str, Template] = {}

    def _refresh(self) -> None:
        if self.path is None or not self.path.exists():
            self._templates, self._mtime = {}, None
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        import yaml

        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            entries = data.get("templates") or []
            loaded = {
                str(t["id"]): Template(
                    str(t["id"]),
                    str(t["pf_id"]),
                    str(t.get("name", "")),
                    str(t["content"]),
                    tuple(t.get("buttons") or ()),
                )
                for t in entries
            }
        except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
            log.warning("templates file %s is not valid (%s); no templates registered", self.path, exc)
            loaded = {}
        self._templates, self._mtime = loaded, mtime

    def get(self, template_id: str) -> Template | None:
        self._refresh()
        return self._templates.get(template_id)

    def pf_ids(self) -> set[str]:
        self._refresh()
        return {t.pf_id for t in self._templates.values()}


@dataclass
class IntakeConfig:
    """What the account has registered: sender numbers, Kakao channels, 080 opt-outs."""

    senders: set[str]
    templates: TemplateRegistry
    extra_pf_ids: set[str] = field(default_factory=set)
    optout_numbers: set[str] = field(default_factory=set)


@dataclass
class Intake:
    """A message after intake: the normalised public fields and its status code (2000 when accepted)."""

    doc: dict[str, Any]
    type: str
    status_code: str

    @property
    def accepted(self) -> bool:
        return self.status_code == "2000"

    @property
    def dedup_key(self) -> str:
        return hashlib.sha256(f"{self.doc.get('to')}|{self.type}|{self.doc.get('text')}".encode()).hexdigest()


def _detect_type(msg: dict, kakao: dict, text: str) -> str:
    given = str(msg.get("type") or "").upper()
    if given:
        return given
    if kakao.get("templateId"):
        return "ATA"
    if kakao.get("pfId"):
        return "CTA"
    return "SMS" if euckr_len(text) <= SMS_MAX_BYTES else "LMS"


def check_message(msg: Any, cfg: IntakeConfig) -> Intake:
    """Validates one message of a send/add request (everything except duplicates and balance)."""
    if not isinstance(msg, dict):
        return Intake({"to": None, "from": None, "text": None}, "SMS", "1010")
    kakao = msg.get("kakaoOptions") if isinstance(msg.get("kakaoOptions"), dict) else {}
    text = msg.get("text")
    doc: dict[str, Any] = {
        "to": digits(msg.get("to")),
        "from": digits(msg.get("from")),
        "text": text if isinstance(text, str) else None,
        "subject": msg.get("subject"),
        "country": str(msg.get("country") or "82"),
        "kakaoOptions": {
            "pfId": kakao.get("pfId"),
            "templateId": kakao.get("templateId"),
            "variables": kakao.get("variables") if isinstance(kakao.get("variables"), dict) else None,
            "disableSms": bool(kakao.get("disableSms", False)),
            "buttons": kakao.get("buttons") or [],
        },
        "customFields": msg.get("customFields") if isinstance(msg.get("customFields"), dict) else {},
        "autoTypeDetect": msg.get("autoTypeDetect", True) is not False,
    }
    template = cfg.templates.get(str(kakao["templateId"])) if kakao.get("templateId") else None
    # AlimTalk may omit the text: Solapi renders the template with the variables.
    if doc["text"] is None and template is not None and doc["kakaoOptions"]["variables"] is not None:
        doc["text"] = template.render(doc["kakaoOptions"]["variables"])
    mtype = _detect_type(msg, kakao, doc["text"] or "")
    if not doc["to"] or not doc["from"]:
        return Intake(doc, mtype, "1010")
    if mtype not in TYPES:
        return Intake(doc, mtype, "1022")
    if mtype == "ATA" and (template is None or doc["kakaoOptions"]["pfId"] != template.pf_id):
        return Intake(doc, mtype, "1042")
    if not doc["text"]:
        return Intake(doc, mtype, "1010")
    if not _RECIPIENT.match(doc["to"]):
        return Intake(doc, mtype, "1020")
    if not _SENDER.match(doc["from"]) or doc["from"] not in cfg.senders:
        return Intake(doc, mtype, "1062")
    if not _custom_fields_ok(msg.get("customFields")):
        return Intake(doc, mtype, "1021")
    code = _length_code(mtype, doc["text"])
    if code:
        return Intake(doc, mtype, code)
    if mtype == "ATA":
        code = _template_code(doc, template)
        if code:
            return Intake(doc, mtype, code)
    if mtype == "CTA" and doc["kakaoOptions"]["pfId"] not in (cfg.templates.pf_ids() | cfg.extra_pf_ids):
        return Intake(doc, mtype, "1042")
    if mtype != "ATA" and doc["to"] in cfg.optout_numbers:
        return Intake(doc, mtype, "1061")
    return Intake(doc, mtype, "2000")


def _custom_fields_ok(fields: Any) -> bool:
    if fields is None:
        return True
    if not isinstance(fields, dict):
        return False
    for key, value in fields.items():
        if len(str(key)) > CUSTOM_KEY_MAX or not isinstance(value, str | int | float | bool):
            return False
        if len(str(value)) > CUSTOM_VALUE_MAX:
            return False
    return True


def _length_code(mtype: str, text: str) -> str | None:
    if mtype == "SMS" and euckr_len(text) > SMS_MAX_BYTES:
        return "1031"
    if mtype in ("LMS", "MMS") and euckr_len(text) > LMS_MAX_BYTES:
        return "1031"
    if mtype in ("ATA", "CTA") and len(text) > KAKAO_MAX_CHARS:
        return "1031"
    return None


def _template_code(doc: dict, template: Template | None) -> str | None:
    kakao = doc["kakaoOptions"]
    if template is None or kakao.get("pfId") != template.pf_id:
        return "1042"
    variables = kakao.get("variables")
    if variables is not None:
        if set(variables) != template.placeholders:
            return "1043"  # a missing or an extra variable
        if doc["text"] != template.render(variables):
            return "1043"
        return None
    return None if template.matches_text(doc["text"]) else "1043"


@dataclass(frozen=True)
class Outcome:
    """How a sent message ends: final status code, the type it was delivered as, whether by SMS fallback."""

    code: str
    type: str
    replacement: bool


@dataclass(frozen=True)
class OutcomeRates:
    """Shares of recipients with each simulated fate (decided by a hash of the phone number and the seed)."""

    non_kakao: float = 0.10
    blocked: float = 0.02
    carrier_failure: float = 0.03


def simulate_outcome(doc: dict, mtype: str, sent_at: datetime, seed: int, rates: OutcomeRates) -> Outcome:
    """Deterministic fate of an accepted message sent at ``sent_at`` (see docs/emulators.md)."""
    to = doc["to"]
    carrier = unit_hash("carrier", to, seed)
    carrier_code = CARRIER_FAILURES[int(unit_hash("carrier-code", to, seed) * len(CARRIER_FAILURES))]
    if mtype in ("SMS", "LMS", "MMS"):
        return Outcome(carrier_code if carrier < rates.carrier_failure else "4000", mtype, False)
    if mtype == "CTA":
        hour = sent_at.astimezone(KST).hour
        if not FRIENDTALK_HOURS[0] <= hour < FRIENDTALK_HOURS[1]:
            return Outcome("3108", mtype, False)
    kakao = unit_hash("kakao", to, seed)
    if kakao >= rates.non_kakao + rates.blocked:
        return Outcome("4000", mtype, False)
    code = "3104" if kakao < rates.non_kakao else "3107"
    if doc["kakaoOptions"].get("disableSms"):
        return Outcome(code, mtype, False)
    size = euckr_len(doc["text"])
    if size > LMS_MAX_BYTES:
        return Outcome(code, mtype, False)
    fallback = "SMS" if size <= SMS_MAX_BYTES else "LMS"
    return Outcome(carrier_code if carrier < rates.carrier_failure else "4000", fallback, True)
