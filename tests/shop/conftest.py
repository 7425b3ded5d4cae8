"""Shops generated once per test session (small ones: the generator is deterministic, so sharing is safe)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from testbed.shop import generate_shop

END = date(2026, 11, 22)


@pytest.fixture(scope="session")
def small_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """2,000 members, 30 days of events."""
    root = tmp_path_factory.mktemp("small_shop")
    manifest = generate_shop(root / "shop", root / "drops", customers=2_000, days=30, end_date=END, seed=7)
    return root / "shop", root / "drops", manifest


@pytest.fixture(scope="session")
def shop_10k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """10,000 members, 90 days of events: the size the distribution properties are asserted at."""
    root = tmp_path_factory.mktemp("shop_10k")
    manifest = generate_shop(root / "shop", root / "drops", customers=10_000, days=90, end_date=END, seed=42)
    return root / "shop", root / "drops", manifest
