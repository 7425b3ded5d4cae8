"""Send-list suites: the planned messages of a campaign run, checked before anything leaves (Korean Network Act art. 50).

The frame is the activation side's planned send list (see docs/quality.md, "Send-list adapter") plus two columns
the gate derives: ``send_hour_kst`` and ``is_night_kst``.
"""

from __future__ import annotations

import re
from typing import Any

from expectations.config import SendGateConfig
from expectations.result import WARNING
from expectations.suites import Suite
from include.core.contracts import SEND_LIST_REQUIRED_COLUMNS
from include.core.rules import korean_mobile_regex

SUITE_VERSION = "v1"
CHANNELS = ("alimtalk", "friendtalk", "sms", "push", "email")
PHONE_CHANNELS = ("alimtalk", "friendtalk", "sms")
MESSAGE_KINDS = ("informational", "advertising")
FLAGS = ("has_channel_consent", "consent_night", "is_opted_out", "is_holdout", "is_control")


def _m(rule: str, **extra: Any) -> dict[str, Any]:
    return {"rule": rule, **extra}


def rows_suite(cfg: SendGateConfig, campaign_ids: list[str]) -> Any:
    """Row-level rules of the send list (one suite, one pass over the frame)."""
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations
    ad = Column("message_kind") == "advertising"
    suite = Suite(name=f"send_list.{SUITE_VERSION}.rows")
    add = suite.add_expectation
    for col in SEND_LIST_REQUIRED_COLUMNS:
        add(E.ExpectColumnToExist(column=col, meta=_m("column of the send-list adapter exists")))
    for col in ("campaign_id", "customer_id", "channel", "message_kind", *FLAGS):
        add(E.ExpectColumnValuesToNotBeNull(column=col, meta=_m("always filled (unknown is not allowed)")))
    add(
        E.ExpectColumnValuesToBeInSet(
            column="campaign_id", value_set=campaign_ids, meta=_m("a campaign of this run")
        )
    )
    add(E.ExpectColumnValuesToBeInSet(column="channel", value_set=list(CHANNELS), meta=_m("a known channel")))
    add(
        E.ExpectColumnValuesToBeInSet(
            column="message_kind", value_set=list(MESSAGE_KINDS), meta=_m("informational or advertising")
        )
    )
    add(
        E.ExpectCompoundColumnsToBeUnique(
            column_list=["campaign_id", "customer_id"],
            meta=_m("one message per customer per campaign (no duplicate sends)"),
        )
    )
    # contact present and valid for the channel
    add(E.ExpectColumnValuesToNotBeNull(column="recipient", meta=_m("a contact to send to", pii="contact")))
    add(
        E.ExpectColumnValuesToMatchRegex(
            column="recipient",
            regex=korean_mobile_regex(),
            row_condition=Column("channel").is_in(list(PHONE_CHANNELS)),
            meta=_m("Kakao/SMS recipient is a Korean mobile number (digits)", pii="contact"),
        )
    )
    add(
        E.ExpectColumnValuesToMatchRegex(
            column="recipient",
            regex=cfg.email_regex,
            row_condition=Column("channel") == "email",
            meta=_m("e-mail recipient is an e-mail address", pii="contact"),
        )
    )
    add(
        E.ExpectColumnValuesToMatchRegex(
            column="recipient",
            regex=r"\S",
            row_condition=Column("channel") == "push",
            meta=_m("push recipient is not blank"),
        )
    )
    # consent, opt-out, holdout, control
    add(
        E.ExpectColumnValuesToBeInSet(
            column="has_channel_consent",
            value_set=[True],
            row_condition=ad,
            meta=_m("advertising only with consent for the channel"),
        )
    )
    add(
        E.ExpectColumnValuesToBeInSet(
            column="consent_night",
            value_set=[True],
            row_condition=ad & (Column("is_night_kst") == True) & (Column("channel") != "email"),  # noqa: E712
            meta=_m(
                f"no advertising {cfg.night_start_hour:02d}:00–{cfg.night_end_hour:02d}:00 KST without night-time consent "
                "(e-mail exempt)"
            ),
        )
    )
    add(
        E.ExpectColumnValuesToBeInSet(
            column="is_opted_out", value_set=[False], meta=_m("no opted-out customer")
        )
    )
    add(
        E.ExpectColumnValuesToBeInSet(
            column="is_holdout", value_set=[False], meta=_m("no holdout customer (they must not get it)")
        )
    )
    add(
        E.ExpectColumnValuesToBeInSet(
            column="is_control", value_set=[False], meta=_m("no global-control customer")
        )
    )
    # legal marks of advertising text
    add(
        E.ExpectColumnValuesToMatchRegex(
            column="text",
            regex="^" + re.escape(cfg.ad_prefix),
            row_condition=ad,
            meta=_m(f"advertising text starts with {cfg.ad_prefix}", pii="text"),
        )
    )
    add(
        E.ExpectColumnValuesToMatchRegex(
            column="text",
            regex=re.escape(cfg.opt_out_marker),
            row_condition=ad,
            meta=_m(f"advertising text carries a free opt-out footer ({cfg.opt_out_marker})", pii="text"),
        )
    )
    add(E.ExpectColumnValuesToNotBeNull(column="text", meta=_m("every message has a text", pii="text")))
    add(
        E.ExpectColumnValuesToBeInSet(
            column="message_kind",
            value_set=["informational"],
            row_condition=Column("channel") == "alimtalk",
            meta=_m("AlimTalk carries informational messages only (advertising goes by FriendTalk/SMS)"),
        )
    )
    add(
        E.ExpectColumnValuesToBeBetween(
            column="send_hour_kst",
            min_value=cfg.friendtalk_start_hour,
            max_value=cfg.friendtalk_end_hour - 1,
            row_condition=Column("channel") == "friendtalk",
            severity=WARNING,
            meta=_m(
                f"FriendTalk planned {cfg.friendtalk_start_hour:02d}:00–{cfg.friendtalk_end_hour:02d}:00 KST "
                "(else Solapi rejects it, 3108)"
            ),
        )
    )
    return suite


def size_suite(campaigns: dict[str, dict]) -> Any:
    """Per-campaign size rules on the frame ``(campaign_id, n_recipients)`` of counts."""
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations
    suite = Suite(name=f"send_list.{SUITE_VERSION}.sizes")
    for cid, spec in sorted(campaigns.items()):
        lo, hi, cap = spec.get("expected_min"), spec.get("expected_max"), spec.get("max_recipients")
        if lo is not None or hi is not None:
            suite.add_expectation(
                E.ExpectColumnValuesToBeBetween(
                    column="n_recipients",
                    min_value=lo,
                    max_value=hi,
                    row_condition=Column("campaign_id") == cid,
                    meta=_m(f"campaign {cid}: list size within the expected band {lo}–{hi}", campaign_id=cid),
                )
            )
        if cap is not None:
            suite.add_expectation(
                E.ExpectColumnValuesToBeBetween(
                    column="n_recipients",
                    max_value=cap,
                    row_condition=Column("campaign_id") == cid,
                    meta=_m(f"campaign {cid}: at most {cap} recipients", campaign_id=cid),
                )
            )
    return suite
