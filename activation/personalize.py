"""Renders one customer's message for one campaign variant into the exact body a destination receives.

Variables come from the audience row (with fallbacks; customer values cleaned by
:func:`activation.text.clean_value`), constants, dates relative to the send date, and built-ins (``#{쇼핑몰}``,
``#{링크}``), all from :mod:`activation.config.variables`. Advertising marks are added here for every advertising
channel; AlimTalk renders the approved template exactly. The result says which message type goes out (SMS/LMS by byte length, ATA, CTA, PUSH,
EMAIL) or why it cannot (a reason code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from activation.config.models import ActivationSettings, Campaign, Template, Variant
from activation.config.variables import (  # noqa: F401 - re-exported: the values live with the configuration
    CHANNEL_MEDIUM,
    tracking_link,
    variable_values,
)
from activation.text import (  # noqa: F401 - format_value re-exported
    AD_PREFIX,
    KAKAO_MAX_CHARS,
    euc_kr_unencodable,
    format_value,
    mark_advertising,
    placeholders,
    render,
    sms_type,
    strip_ad_marker,
)


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
    if advertising:  # a marker the marketer typed ("[광고] …") is replaced, never doubled
        title = f"{AD_PREFIX} {strip_ad_marker(title)}"
    mtype = "PUSH" if campaign.channel == "push" else "EMAIL"
    payload: dict[str, Any] = {"type": mtype, "title": title, "text": text}
    if variant.buttons:
        payload["buttons"] = [b.model_dump(exclude_none=True) for b in variant.buttons]
    return Rendered(mtype, text, title, body=payload)
