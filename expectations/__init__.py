"""Quality gates of the nightly run (Great Expectations 1.x on pandas batches).

Three entry points, each returning a :class:`~expectations.result.GateResult` (call ``raise_if_failed()`` to stop
the run on a critical failure):

- :func:`run_raw_gate` — what extraction landed (per raw table of :mod:`include.core.contracts`); rows breaking a
  row rule are quarantined and the night goes on, only an untrustworthy batch fails;
- :func:`gate_import` — the same checks on the rows one file import loaded (its load id), for ``crm import``;
- :func:`run_marts_gate` — what dbt built (dim_customers, segments, funnels, audiences);
- :func:`validate_send_list` — the planned send list of a campaign, before anything is sent.

Importing this package is cheap; GX, pandas and DuckDB are imported when a gate runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from expectations.config import QualityConfig, load_config
from expectations.result import GateFailedError, GateResult, Outcome

if TYPE_CHECKING:
    from expectations.gates.marts import run_marts_gate
    from expectations.gates.raw import gate_import, run_raw_gate
    from expectations.gates.send_list import validate_send_list

__all__ = [
    "GateFailedError",
    "GateResult",
    "Outcome",
    "QualityConfig",
    "gate_import",
    "load_config",
    "run_marts_gate",
    "run_raw_gate",
    "validate_send_list",
]

_LAZY = {
    "run_raw_gate": "expectations.gates.raw",
    "gate_import": "expectations.gates.raw",
    "run_marts_gate": "expectations.gates.marts",
    "validate_send_list": "expectations.gates.send_list",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
