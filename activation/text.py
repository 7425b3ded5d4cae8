"""Message text rules: ``#{변수}`` placeholders, EUC-KR byte length, SMS/LMS choice, advertising marks.

The legal marks (Korean Network Act art. 50) are applied here, in code, so a marketer never has to remember them:
advertising text starts with exactly ``(광고)`` followed by the sender name and contact, and ends with a free opt-out
line (``무료수신거부 080-…``).
"""

from __future__ import annotations

import re

AD_PREFIX = "(광고)"
OPTOUT_LABEL = "무료수신거부"
SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000
KAKAO_MAX_CHARS = 1000

_PLACEHOLDER = re.compile(r"#\{([^{}#\s]{1,30})\}")


def placeholders(text: str) -> set[str]:
    """Names of every ``#{name}`` placeholder in ``text``."""
    return set(_PLACEHOLDER.findall(text))


def render(text: str, values: dict[str, str]) -> str:
    """Replaces each ``#{name}`` with ``values[name]``; a name without a value raises ``KeyError``."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def sms_bytes(text: str) -> int:
    """Length in bytes as carriers count it (EUC-KR; a character EUC-KR cannot encode counts 2 bytes)."""
    total = 0
    for ch in text:
        try:
            total += len(ch.encode("euc-kr"))
        except UnicodeEncodeError:
            total += 2
    return total


def euc_kr_unencodable(text: str) -> str:
    """Characters of ``text`` that EUC-KR cannot carry (emoji and the like), in order, without repeats."""
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


def strip_marks(body: str) -> str:
    """Removes a leading ``(광고)`` and trailing opt-out line a marketer may have typed, so marks never double."""
    text = body.strip()
    if text.startswith(AD_PREFIX):
        text = text[len(AD_PREFIX) :].lstrip()
    lines = text.split("\n")
    while lines and OPTOUT_LABEL in lines[-1]:
        lines.pop()
    return "\n".join(lines).strip()


def mark_advertising(body: str, *, sender_name: str, sender_contact: str, optout_080: str) -> str:
    """Wraps an advertising body: ``(광고)<name> <contact>`` first, ``무료수신거부 <080>`` last."""
    return f"{AD_PREFIX}{sender_name} {sender_contact}\n{strip_marks(body)}\n{OPTOUT_LABEL} {format_080(optout_080)}"


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
