"""Deterministic assignment: global control group, per-campaign holdout, A/B variant, max-recipient order.

Every decision is a pure function of ``(purpose, campaign id, customer id, salt)`` through SHA-256, so it is the same
on every run, machine and engine (SQL can reproduce it: the first 16 hex digits of
``sha256(purpose || 0x1f || campaign || 0x1f || customer || 0x1f || salt)`` read as an unsigned integer over 2^64).
Separate purposes give independent draws: being in a holdout says nothing about the variant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

GLOBAL = "__global__"


def unit_hash(purpose: str, campaign_id: str, customer_id: str, salt: str) -> float:
    """A number in [0, 1) that is uniform over customers and stable forever for the same inputs."""
    key = "\x1f".join((purpose, campaign_id, customer_id, salt)).encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def in_control(customer_id: str, salt: str, pct: float) -> bool:
    """Member of the global control group (``pct`` percent of all customers, the same for every campaign)."""
    return unit_hash("control", GLOBAL, customer_id, salt) < pct / 100.0


def in_holdout(campaign_id: str, customer_id: str, salt: str, pct: float) -> bool:
    """Member of the campaign's holdout (``pct`` percent of its eligible audience)."""
    return unit_hash("holdout", campaign_id, customer_id, salt) < pct / 100.0


def pick_variant(campaign_id: str, customer_id: str, salt: str, variants: Sequence[tuple[str, float]]) -> str:
    """The variant id for a customer, in proportion to the weights (order of ``variants`` matters, not its sum)."""
    if not variants:
        raise ValueError("no variants to pick from")
    total = sum(w for _, w in variants)
    if total <= 0:
        raise ValueError("variant weights must be positive")
    u = unit_hash("variant", campaign_id, customer_id, salt) * total
    acc = 0.0
    for vid, weight in variants:
        acc += weight
        if u < acc:
            return vid
    return variants[-1][0]


def rank(campaign_id: str, customer_id: str, salt: str) -> float:
    """Order used to choose recipients when a campaign has more eligible customers than ``max_recipients``."""
    return unit_hash("rank", campaign_id, customer_id, salt)
