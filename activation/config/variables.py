"""What a ``#{변수}`` becomes: the value of a variable for one customer, and the built-ins ``#{쇼핑몰}``/``#{링크}``.

One definition, used by :mod:`activation.personalize` for every real message and by the configuration checks
(:mod:`activation.config.content`) to render a campaign with its fallbacks before it can reach a customer. Column
values are customer data: they pass through :func:`activation.text.clean_value` (no line breaks, control characters
or links), and an empty result uses the variable's fallback.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from activation.config.models import ActivationSettings, Campaign, Variable
from activation.text import clean_value, format_value

# Variables every message may use without declaring them.
BUILTIN_VARIABLES = frozenset({"쇼핑몰", "링크"})
CHANNEL_MEDIUM = {"alimtalk": "kakao", "friendtalk": "kakao", "sms": "sms", "push": "push", "email": "email"}


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


def variable_value(var: Variable, row: dict[str, Any], send_at: datetime, tz: Any) -> str:
    """The text of one variable for the customer in ``row`` (an empty ``row`` gives the fallback)."""
    if var.column is not None:
        raw = row.get(var.column)
        text = "" if raw is None else clean_value(format_value(raw))
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
            out[name] = variable_value(defs[name], row, send_at, settings.tz)
        elif name == "쇼핑몰":
            out[name] = settings.shop_name
        elif name == "링크":
            out[name] = tracking_link(settings, campaign, variant)
        else:  # the loader rejects undefined variables; this guards direct use
            raise KeyError(f"variable '#{{{name}}}' is not defined")
    return out
