"""Message text rules: ``#{변수}`` placeholders, EUC-KR byte length, SMS/LMS choice, advertising marks.

The legal marks (Korean Network Act art. 50) are applied here, in code, so a marketer never has to remember them:
advertising text starts with exactly ``(광고)`` followed by the sender name and contact, and ends with a free opt-out
line (``무료수신거부 080-…``). Marks a marketer typed are recognised in every form (``[광고]``, ``( 광고 )``,
``【광고】``, a sender line ``[펫마켓]``/``펫마켓 1588-0000``, ``수신거부`` lines) and replaced, never doubled.
Customer-entered values pass :func:`clean_value` before they are printed.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Any

AD_PREFIX = "(광고)"
OPTOUT_LABEL = "무료수신거부"
SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000
KAKAO_MAX_CHARS = 1000

_PLACEHOLDER = re.compile(r"#\{([^{}#\s]{1,30})\}")
# "(광고)" as marketers type it: any bracket style, full-width forms, spaces inside ("[광고]", "( 광고 )", "【광고】");
# finding it anywhere in a text (advertising detection) is the "advertising marker" pattern of activation/advertising.yml
_OPEN = r"\(\[\{<（［｛＜【〔〈《「『"
_CLOSE = r"\)\]\}>）］｝＞】〕〉》」』"
_LEADING_AD_MARKER = re.compile(rf"^\s*(?:[{_OPEN}]\s*광\s*고\s*[{_CLOSE}]|광\s*고\s*[:|)\]\-])\s*")
_OPTOUT_LINE = re.compile(r"수\s*신\s*거\s*부")
# customer-entered values: links are neutralised (removed), so a name can never carry a link into the shop's message
_URL = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|kr|co|io|me|ly|gl|gd|to|xyz|shop|link|site|info|biz|app"
    r"|dev|cc|gg|tv|us|jp|cn|top|club|online|store|page|click)\b(?:/\S*)?",
    re.IGNORECASE,
)


def placeholders(text: str) -> set[str]:
    """Names of every ``#{name}`` placeholder in ``text``."""
    return set(_PLACEHOLDER.findall(text))


def render(text: str, values: dict[str, str]) -> str:
    """Replaces each ``#{name}`` with ``values[name]``; a name without a value raises ``KeyError``."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def format_value(value: Any) -> str:
    """How a column value reads in a message (``10.0`` → ``10``, dates as ``YYYY-MM-DD``)."""
    if isinstance(value, bool):
        return "예" if value else "아니오"
    if isinstance(value, float | Decimal):
        return str(int(value)) if value == int(value) else f"{float(value):g}"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def clean_value(text: str) -> str:
    """A customer-entered value made safe to print in the shop's message (the one rule, used for every column value).

    Line breaks, tabs and other control or invisible format characters (zero-width, bidi overrides) become a space;
    links (``https://…``, ``www.…``, ``evil.com/x``) are removed, so a customer's name can never put a link or a
    second paragraph into a message signed by the shop; runs of spaces collapse. An empty result means "use the
    variable's fallback".
    """
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        out.append(" " if cat in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs") else ch)
    cleaned = _URL.sub(" ", "".join(out))
    return " ".join(cleaned.split())


def _two_bytes_each(err: UnicodeError) -> tuple[str, int]:
    """Encoding error handler: a character EUC-KR cannot carry counts as 2 bytes (what carriers bill for it)."""
    assert isinstance(err, UnicodeEncodeError)
    return "??" * (err.end - err.start), err.end


codecs.register_error("crm_sms_two_bytes", _two_bytes_each)


def sms_bytes(text: str) -> int:
    """Length in bytes as carriers count it (EUC-KR; a character EUC-KR cannot encode counts 2 bytes).

    One encode of the whole text (a per-character loop took most of the planning time of a large audience)."""
    return len(text.encode("euc-kr", "crm_sms_two_bytes"))


def euc_kr_unencodable(text: str) -> str:
    """Characters of ``text`` that EUC-KR cannot carry (emoji and the like), in order, without repeats."""
    try:
        text.encode("euc-kr")
        return ""
    except UnicodeEncodeError:
        pass
    seen: list[str] = []
    for ch in text:
        try:
            ch.encode("euc-kr")
        except UnicodeEncodeError:
            if ch not in seen:
                seen.append(ch)
    return "".join(seen)


def sms_type(text: str) -> str | None:
    """``SMS`` up to 90 bytes, ``LMS`` up to 2000 bytes, ``None`` when too long for either."""
    n = sms_bytes(text)
    if n <= SMS_MAX_BYTES:
        return "SMS"
    if n <= LMS_MAX_BYTES:
        return "LMS"
    return None


def format_080(number: str) -> str:
    """``0801234567`` → ``080-123-4567`` (a formatted number is returned unchanged)."""
    digits = re.sub(r"\D", "", number)
    if "-" in number or len(digits) not in (10, 11):
        return number
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def strip_ad_marker(text: str) -> str:
    """``text`` without the leading advertising marker a marketer may have typed, in any bracket style."""
    out = text
    while True:
        stripped = _LEADING_AD_MARKER.sub("", out, count=1)
        if stripped == out:
            return out.strip()
        out = stripped


def _strip_sender(text: str, sender_name: str, sender_contact: str | None) -> str:
    """Removes a sender line the marketer wrote at the top: ``[펫마켓]``, ``펫마켓 1588-0000``, a line of just the name.

    Only the shop name in brackets, or followed by the contact, or alone on its line counts: "펫마켓 단골이 되어…"
    is a sentence and stays.
    """
    name = re.escape(sender_name)
    contact = r"\s*" + re.escape(sender_contact) if sender_contact else ""
    header = re.compile(
        rf"^\s*(?:[{_OPEN}]\s*{name}\s*[{_CLOSE}](?:{contact})?|{name}{contact}\s*(?=\n|$)|{name}\s*(?=\n|$))[ \t]*\n?"
    )
    if not sender_contact:
        return header.sub("", text, count=1).lstrip()
    contact_only = re.compile(rf"^\s*{re.escape(sender_contact)}\s*\n")
    return contact_only.sub("", header.sub("", text, count=1), count=1).lstrip()


def strip_marks(body: str, *, sender_name: str | None = None, sender_contact: str | None = None) -> str:
    """Removes the marks a marketer may have typed, so they are never doubled: a leading ``(광고)`` in any bracket
    style, the sender line (when ``sender_name`` is given) and trailing opt-out lines (``무료수신거부 …``)."""
    text = strip_ad_marker(body.strip())
    if sender_name:
        text = strip_ad_marker(_strip_sender(text, sender_name, sender_contact))
    lines = text.split("\n")
    while lines and (_OPTOUT_LINE.search(lines[-1]) or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def mark_advertising(body: str, *, sender_name: str, sender_contact: str, optout_080: str) -> str:
    """Wraps an advertising body: ``(광고)<name> <contact>`` first, ``무료수신거부 <080>`` last (a sender line or
    marks already in ``body`` are replaced, never doubled)."""
    inner = strip_marks(body, sender_name=sender_name, sender_contact=sender_contact)
    return f"{AD_PREFIX}{sender_name} {sender_contact}\n{inner}\n{OPTOUT_LABEL} {format_080(optout_080)}"


def is_marked(text: str, *, sender_name: str, sender_contact: str, optout_080: str) -> bool:
    """True when ``text`` carries every advertising mark in the right place."""
    if not text.startswith(AD_PREFIX):
        return False
    first = text.split("\n", 1)[0]
    last = text.rsplit("\n", 1)[-1]
    return (
        sender_name in first
        and sender_contact in first
        and last.startswith(OPTOUT_LABEL)
        and re.sub(r"\D", "", optout_080) in re.sub(r"\D", "", last)
    )
