"""Activation: campaigns, compliance policies, the send ledger, destinations (Solapi, webhook, Channel Talk).

Entry points (imported lazily, so ``import activation`` stays cheap at DAG-parse time)::

    from activation import plan_and_send, preview, run_status, sync_audiences, campaigns_due, load_campaigns

See docs/campaigns.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["campaigns_due", "load_campaigns", "plan_and_send", "preview", "run_status", "sync_audiences"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from activation import api

        return getattr(api, name)
    raise AttributeError(f"module 'activation' has no attribute {name!r}")
