"""Checks of what a campaign's messages will say, rendered with their fallbacks, when the configuration is loaded.

- **Advertising by content** (정보통신망법 §50): every variant of an informational campaign (AlimTalk templates
  included) is rendered and checked against the advertising list (:mod:`activation.content`). Promotional content
  fails validation with the words found and where, unless the campaign records an ``advertising_review``
  (who decided it is information, and when); the decision is kept as a :class:`ReviewRecord` that the planner
  prints with every plan of the campaign. An explicit ``(광고)``/``[광고]`` marker is never overridable.
- **SMS/LMS text**: characters EUC-KR cannot carry (emoji) and a text over the LMS limit once the advertising
  marks are added; **FriendTalk** over 1000 characters with the marks.

Personal column values are unknown here (the fallback stands in), so the planner keeps its per-customer checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from activation.config.errors import ConfigIssue
from activation.config.models import ActivationSettings, Campaign, Template, Variant
from activation.config.variables import BUILTIN_VARIABLES, variable_values
from activation.content import MARKER_LABEL, Finding, advertising_findings
from activation.text import (
    KAKAO_MAX_CHARS,
    LMS_MAX_BYTES,
    euc_kr_unencodable,
    mark_advertising,
    placeholders,
    render,
    sms_bytes,
)

SAMPLE_DAY = datetime(2026, 1, 5).date()  # any day: only days_after_send variables read it


@dataclass(frozen=True)
class ReviewRecord:
    """An informational campaign whose content matched the advertising list, and the recorded decision about it."""

    campaign_id: str
    approved_by: str
    approved_on: str
    reason: str
    findings: tuple[str, ...]

    def note(self) -> str:
        """One line for plans, run summaries and run files."""
        why = f" ({self.reason})" if self.reason else ""
        found = ", ".join(self.findings) if self.findings else "nothing"
        return (
            f"advertising_review: sent as informational by decision of {self.approved_by} on {self.approved_on}"
            f"{why}; the advertising list matched {found}"
        )


@dataclass
class _Sample:
    """One variant rendered with fallbacks: where it came from and the parts the checks read."""

    where: str
    field: str
    source: str
    body: str
    subject: str
    extra: str  # button names and constant variable values (map words)
    links: list[str]


def _sample(
    campaign: Campaign, idx: int, v: Variant, settings: ActivationSettings, templates: dict[str, Template]
) -> _Sample | None:
    where = f"variants[{idx}]" if campaign.variants else "message"
    defs = {**settings.variables, **campaign.variables}
    links: list[str] = []
    extra: list[str] = []
    if campaign.channel == "alimtalk":
        tpl = templates.get(v.template_id or "")
        if tpl is None:
            return None  # reported by the loader
        raw, subject_raw = tpl.content, ""
        field, source = f"{where}.template_id", f"template '{tpl.id}'"
        for b in tpl.buttons:
            extra.append(str(b.get("buttonName") or b.get("name") or ""))
            links += [str(b[k]) for k in ("linkMo", "linkPc", "link_mobile", "link_pc") if b.get(k)]
    else:
        raw, subject_raw = v.text or "", v.subject or ""
        field, source = f"{where}.text", f"variant '{v.id}'"
        for b in v.buttons:
            extra.append(b.name)
            links += [u for u in (b.link_mobile, b.link_pc) if u]
    names = placeholders(raw) | placeholders(subject_raw)
    known = {n for n in names if n in defs or n in BUILTIN_VARIABLES}
    send_at = datetime.combine(SAMPLE_DAY, time(10, 0), tzinfo=settings.tz)
    values = variable_values(known, campaign, settings, {}, send_at, v.id)
    values.update({n: f"#{{{n}}}" for n in names - known})  # undefined: reported by the loader
    for n in known:
        var = defs.get(n)
        if var is not None and var.map:
            extra += list(var.map.values())
    return _Sample(
        where, field, source, render(raw, values), render(subject_raw, values), "\n".join(extra), links
    )


def _shown(findings: list[Finding]) -> str:
    shown = ", ".join(str(f) for f in findings[:8])
    return shown + (f" and {len(findings) - 8} more" if len(findings) > 8 else "")


def check_content(
    campaign: Campaign,
    file: str,
    settings: ActivationSettings,
    templates: dict[str, Template],
    issues: list[ConfigIssue],
) -> ReviewRecord | None:
    """Appends the content problems of ``campaign`` to ``issues``; returns its review record when one applies."""
    reviewed: list[str] = []
    for idx, v in enumerate(campaign.resolved_variants()):
        s = _sample(campaign, idx, v, settings, templates)
        if s is None:
            continue
        if campaign.kind == "informational":
            text = "\n".join(part for part in (s.subject, s.body, s.extra) if part)
            findings = advertising_findings(text, links=s.links)
            markers = [f for f in findings if f.label == MARKER_LABEL]
            if markers:
                issues.append(
                    ConfigIssue(
                        file,
                        s.field,
                        f"{s.source}: informational text carries {_shown(markers)}: it declares itself an "
                        "advertisement; set kind: advertising (the marks, consent and night rule are then applied)",
                    )
                )
            elif findings and campaign.advertising_review is None:
                issues.append(
                    ConfigIssue(
                        file,
                        s.field,
                        f"{s.source}: informational content reads as advertising (정보통신망법 §50: the content "
                        f"decides, not the label): {_shown(findings)}; set kind: advertising (then the (광고) marks, "
                        "consent and the 21:00-08:00 night rule apply), or, if it truly is information, record the "
                        "decision: advertising_review: {decision: informational, approved_by: <name>, "
                        "approved_on: <YYYY-MM-DD>, reason: <why>}",
                    )
                )
            else:
                reviewed += [str(f) for f in findings if str(f) not in reviewed]
        _check_length(campaign, s, file, settings, issues)
    review = campaign.advertising_review
    if review is None:
        return None
    return ReviewRecord(
        campaign.id, review.approved_by, review.approved_on.isoformat(), review.reason, tuple(reviewed)
    )


def _check_length(
    campaign: Campaign, s: _Sample, file: str, settings: ActivationSettings, issues: list[ConfigIssue]
) -> None:
    if campaign.channel not in ("sms", "friendtalk"):
        return
    final = s.body
    if campaign.kind == "advertising":
        final = mark_advertising(
            s.body,
            sender_name=settings.shop_name,
            sender_contact=settings.sender_contact,
            optout_080=settings.optout_080,
        )
    marks = " with the advertising marks" if campaign.kind == "advertising" else ""
    if campaign.channel == "sms":
        bad = euc_kr_unencodable(s.body + s.subject)
        if bad:
            issues.append(
                ConfigIssue(
                    file,
                    s.field,
                    f"{s.source}: SMS/LMS cannot carry {bad[:10]!r} (not in EUC-KR: emoji and similar symbols); "
                    "remove them or use friendtalk/push",
                )
            )
            return
        n = sms_bytes(final)
        if n > LMS_MAX_BYTES:
            issues.append(
                ConfigIssue(
                    file,
                    s.field,
                    f"{s.source}: {n} bytes (EUC-KR){marks} with the variables' fallbacks, over the LMS limit of "
                    f"{LMS_MAX_BYTES} bytes; shorten the text",
                )
            )
    elif len(final) > KAKAO_MAX_CHARS:
        issues.append(
            ConfigIssue(
                file,
                s.field,
                f"{s.source}: {len(final)} characters{marks} with the variables' fallbacks, over the FriendTalk "
                f"limit of {KAKAO_MAX_CHARS}; shorten the text",
            )
        )
