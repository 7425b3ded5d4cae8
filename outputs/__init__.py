"""What marketers open every morning: the nightly audience files and the marketing-cycle report.

- :func:`outputs.exports.export_audiences` writes every audience model, each G1–G4 segment and each
  campaign-ready audience of a data date as CSV (UTF-8 with BOM, for Excel) and Parquet, contacts masked or hashed,
  with a manifest of row counts and checksums, replacing the date's folder atomically;
- :func:`outputs.report.build_report` writes one self-contained HTML page (Korean, Plotly charts inlined)
  and ``report.json`` with the same numbers.

Both read the warehouse read-only and never the wall clock: a rerun of a date writes the same files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from outputs.exports import export_audiences
    from outputs.report import build_report

__all__ = ["build_report", "export_audiences"]

_LAZY = {"export_audiences": "outputs.exports", "build_report": "outputs.report"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
