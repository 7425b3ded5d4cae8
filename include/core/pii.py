"""Masking of personal data (phones, e-mails) for logs, reports and exports.

Every log line and artifact that could carry a customer's contact goes through :func:`mask_text` (the
:class:`PiiMaskingFilter` does it for log records). Masked forms keep enough to debug (`010-****-5678`,
`k***@example.com`) and nothing to contact.
"""

from __future__ import annotations

import hashlib
import logging
import re

_PHONE = re.compile(r"(?<!\d)(01[016789])[-. ]?(\d{3,4})[-. ]?(\d{4})(?!\d)")
# The international (E.164) form Channel Talk and other APIs use: +82 10 1234 5678, +82-10-1234-5678, +82 (0)10…
_PHONE_INTL = re.compile(r"\+82[-. ]?(?:\(0\)[-. ]?|0)?(1[016789])[-. ]?(\d{3,4})[-. ]?(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_phone(phone: str | None) -> str | None:
    """`01012345678` → `010-****-5678`; anything not a phone is returned as `***`."""
    if phone is None:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "***"
    return f"{digits[:3]}-****-{digits[-4:]}"


def mask_email(email: str | None) -> str | None:
    """`kim@example.com` → `k***@example.com`."""
    if email is None:
        return None
    if "@" not in email:
        return "***"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def hash_contact(value: str | None, salt: str = "") -> str | None:
    """Stable SHA-256 hex of a normalised contact (digits for phones, lower-case for e-mails)."""
    if value is None:
        return None
    norm = value.strip().lower()
    if "@" not in norm:
        norm = re.sub(r"\D", "", norm)
    return hashlib.sha256((salt + norm).encode()).hexdigest()


def mask_text(text: str) -> str:
    """Masks every Korean mobile number (domestic or ``+82`` form) and e-mail address inside free text."""
    text = _PHONE_INTL.sub(lambda m: f"+82-{m.group(1)}-****-{m.group(3)}", text)
    text = _PHONE.sub(lambda m: f"{m.group(1)}-****-{m.group(3)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


class PiiMaskingFilter(logging.Filter):
    """Logging filter that masks phones and e-mails in the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            rendered = record.getMessage()
        except Exception:  # a broken format string must not break logging
            return True
        masked = mask_text(rendered)
        if masked != rendered:
            record.msg, record.args = masked, None
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Adds the masking filter to a logger's handlers (root by default), once."""
    target = logger or logging.getLogger()
    for handler in target.handlers or []:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())
    if not any(isinstance(f, PiiMaskingFilter) for f in target.filters):
        target.addFilter(PiiMaskingFilter())
