"""Renders one customer's message for one campaign variant into the exact body a destination receives.

Variables come from the audience row (with fallbacks), constants, dates relative to the send date, and built-ins
(``#{쇼핑몰}``, ``#{링크}``). Advertising marks are added here for every advertising channel; AlimTalk renders the
approved template exactly. The result says which message type goes out (SMS/LMS by byte length, ATA, CTA, PUSH,
EMAIL) or why it cannot (a reason code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from activation.config.models import ActivationSettings, Campaign, Template, Variable, Variant
from activation.text import (
    AD_PREFIX,
    KAKAO_MAX_CHARS,
    euc_kr_unencodable,
    mark_advertising,
    placeholders,
    render,
    sms_type,
)

CHANNEL_MEDIUM = {"alimtalk": "kakao", "friendtalk": "kakao", "sms": "sms", "push": "push", "email": "email"}


@dataclass
class Rendered:
    """A rendered message: destination body (without the recipient), its type, or a reason it cannot go out."""

    message_type: str | None
    text: str
    subject: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    fallback_type: str | None = None
    reason: str | None = None
    detail: str | None = None


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


def tracking_link(settings: ActivationSettings, campaign: Campaign, variant: str) -> str:
    """The shop link with the utm parameters staging uses to credit a session to this campaign and variant."""
    query = urlencode(
        {
            "utm_source": "crm",
            "utm_medium": CHANNEL_MEDIUM[campaign.channel],
            "utm_campaign": campaign.id,
            "utm_content": variant,
        }
    )
    return f"{settings.shop_url.rstrip('/')}/?{query}"


def _value(var: Variable, row: dict[str, Any], send_at: datetime, tz: Any) -> str:
    if var.column is not None:
        raw = row.get(var.column)
        text = "" if raw is None else format_value(raw)
        if var.map is not None:  # codes become words; an unknown code is never printed raw
            text = var.map.get(text, "")
        return text if text else str(var.fallback)
    if var.value is not None:
        return format_value(var.value)
    day = send_at.astimezone(tz).date() + timedelta(days=int(var.days_after_send or 0))
    return day.strftime(var.format) if var.format else day.isoformat()


def variable_values(
    names: set[str],
    campaign: Campaign,
    settings: ActivationSettings,
    row: dict[str, Any],
    send_at: datetime,
    variant: str,
) -> dict[str, str]:
    """Values of the named variables for one customer (campaign definitions win over global ones)."""
    defs = {**settings.variables, **campaign.variables}
    out: dict[str, str] = {}
    for name in names:
        if name in defs:
            out[name] = _value(defs[name], row, send_at, settings.tz)
        elif name == "쇼핑몰":
            out[name] = settings.shop_name
        elif name == "링크":
            out[name] = tracking_link(settings, campaign, variant)
        else:  # the loader rejects undefined variables; this guards direct use
            raise KeyError(f"variable '#{{{name}}}' is not defined")
    return out


def variable_columns(
    campaign: Campaign, settings: ActivationSettings, templates: dict[str, Template]
) -> set[str]:
    """Audience columns a campaign's messages read (checked against the model before planning)."""
    defs = {**settings.variables, **campaign.variables}
    names = set(campaign.placeholders_used())
    for v in campaign.resolved_variants():
        if v.template_id and v.template_id in templates:
            names |= placeholders(templates[v.template_id].content)
    return {defs[n].column for n in names if n in defs and defs[n].column}  # type: ignore[misc]


def _marked(body: str, settings: ActivationSettings) -> str:
    return mark_advertising(
        body,
        sender_name=settings.shop_name,
        sender_contact=settings.sender_contact,
        optout_080=settings.optout_080,
    )


def render_message(
    campaign: Campaign,
    variant: Variant,
    settings: ActivationSettings,
    templates: dict[str, Template],
    row: dict[str, Any],
    send_at: datetime,
    *,
    sms_fallback_allowed: bool,
) -> Rendered:
    """Renders ``variant`` for the customer in ``row``; ``sms_fallback_allowed`` gates Kakao→SMS/LMS fallback."""
    advertising = campaign.kind == "advertising"
    if campaign.channel == "alimtalk":
        tpl = templates[variant.template_id or ""]
        names = placeholders(tpl.content)
        values = variable_values(names, campaign, settings, row, send_at, variant.id)
        text = render(tpl.content, values)
        if len(text) > KAKAO_MAX_CHARS:
            return Rendered(None, text, reason="message_too_long", detail=f"{len(text)} characters > 1000")
        fallback = sms_type(text) if sms_fallback_allowed and not euc_kr_unencodable(text) else None
        kakao = {
            "pfId": settings.kakao_pf_id,
            "templateId": tpl.id,
            "variables": {f"#{{{k}}}": v for k, v in sorted(values.items())},
            "disableSms": fallback is None,
        }
        return Rendered(
            "ATA", text, body={"type": "ATA", "text": text, "kakaoOptions": kakao}, fallback_type=fallback
        )

    names = placeholders(variant.text or "") | placeholders(variant.subject or "")
    values = variable_values(names, campaign, settings, row, send_at, variant.id)
    body_text = render(variant.text or "", values)
    subject = render(variant.subject, values) if variant.subject else None
    text = _marked(body_text, settings) if advertising else body_text

    if campaign.channel == "sms":
        bad = euc_kr_unencodable(text + (subject or ""))
        if bad:
            return Rendered(
                None, text, subject, reason="unencodable_text", detail=f"not in EUC-KR: {bad[:10]!r}"
            )
        mtype = sms_type(text)
        if mtype is None:
            return Rendered(
                None, text, subject, reason="message_too_long", detail="over 2000 bytes (LMS limit)"
            )
        body: dict[str, Any] = {"type": mtype, "text": text}
        if mtype == "LMS" and subject:
            body["subject"] = subject
        return Rendered(mtype, text, subject if mtype == "LMS" else None, body=body)

    if campaign.channel == "friendtalk":
        if len(text) > KAKAO_MAX_CHARS:
            return Rendered(None, text, reason="message_too_long", detail=f"{len(text)} characters > 1000")
        fallback = sms_type(text) if sms_fallback_allowed and not euc_kr_unencodable(text) else None
        kakao = {"pfId": settings.kakao_pf_id, "disableSms": fallback is None}
        if variant.buttons:
            kakao["buttons"] = [b.to_solapi() for b in variant.buttons]
        return Rendered(
            "CTA", text, body={"type": "CTA", "text": text, "kakaoOptions": kakao}, fallback_type=fallback
        )

    title = subject or settings.shop_name
    if advertising and not title.startswith(AD_PREFIX):
        title = f"{AD_PREFIX} {title}"
    mtype = "PUSH" if campaign.channel == "push" else "EMAIL"
    payload: dict[str, Any] = {"type": mtype, "title": title, "text": text}
    if variant.buttons:
        payload["buttons"] = [b.model_dump(exclude_none=True) for b in variant.buttons]
    return Rendered(mtype, text, title, body=payload)
