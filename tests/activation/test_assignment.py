"""Deterministic assignment: stable values, independent draws, proportions that follow the weights."""

from __future__ import annotations

import hashlib
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from activation import assignment


def test_values_are_pinned_forever() -> None:
    # Reproducible from the documented formula in any engine: sha256(purpose␟campaign␟customer␟salt)[:8] / 2^64.
    key = "\x1f".join(("variant", "c1", "m000001", "salt-123")).encode()
    expected = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    assert assignment.unit_hash("variant", "c1", "m000001", "salt-123") == expected
    assert assignment.pick_variant("c1", "m000001", "salt-123", [("A", 1), ("B", 1)]) == (
        "A" if expected < 0.5 else "B"
    )


def test_control_is_global_and_holdout_is_per_campaign() -> None:
    customers = [f"m{i:06d}" for i in range(20000)]
    control = [c for c in customers if assignment.in_control(c, "salt-xyz", 5)]
    assert 0.045 < len(control) / len(customers) < 0.055
    hold_a = {c for c in customers if assignment.in_holdout("camp_a", c, "salt-xyz", 10)}
    hold_b = {c for c in customers if assignment.in_holdout("camp_b", c, "salt-xyz", 10)}
    assert 0.09 < len(hold_a) / len(customers) < 0.11
    overlap = len(hold_a & hold_b) / len(hold_a)
    assert 0.07 < overlap < 0.13  # independent campaigns: about 10 % of one holdout is in the other
    # holdout and variant are independent draws
    in_hold_b = Counter(
        assignment.pick_variant("camp_a", c, "salt-xyz", [("A", 1), ("B", 1)]) for c in hold_a
    )
    assert abs(in_hold_b["A"] - in_hold_b["B"]) < 0.1 * len(hold_a)


def test_salt_changes_assignment() -> None:
    customers = [f"m{i:06d}" for i in range(2000)]
    a = [assignment.in_holdout("c", x, "salt-one", 50) for x in customers]
    b = [assignment.in_holdout("c", x, "salt-two", 50) for x in customers]
    assert a != b


@settings(max_examples=60, deadline=None)
@given(
    campaign=st.text(min_size=1, max_size=20),
    customer=st.text(min_size=1, max_size=30),
    salt=st.text(min_size=8, max_size=20),
    weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=6),
)
def test_assignment_is_stable(campaign: str, customer: str, salt: str, weights: list[float]) -> None:
    variants = [(f"V{i}", w) for i, w in enumerate(weights)]
    first = assignment.pick_variant(campaign, customer, salt, variants)
    assert first in {v for v, _ in variants}
    assert all(assignment.pick_variant(campaign, customer, salt, variants) == first for _ in range(3))
    assert assignment.in_holdout(campaign, customer, salt, 0) is False
    assert assignment.in_holdout(campaign, customer, salt, 100) is True


@settings(max_examples=15, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=4),
    campaign=st.text(min_size=1, max_size=8),
)
def test_variant_shares_follow_weights(weights: list[int], campaign: str) -> None:
    variants = [(f"V{i}", float(w)) for i, w in enumerate(weights)]
    n = 6000
    counts = Counter(assignment.pick_variant(campaign, f"c{i}", "salt-salt", variants) for i in range(n))
    total = sum(weights)
    for vid, w in variants:
        share = counts[vid] / n
        assert abs(share - w / total) < 0.035, (vid, share, w / total)
