"""`crm importing` (being written)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the `importing` subcommand to ``crm``."""
