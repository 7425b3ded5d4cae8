"""The marketing-cycle report: one self-contained Korean HTML page per night, plus ``report.json``.

:func:`build_report` reads the marts of a data date (:mod:`.data`), draws the Plotly figures (:mod:`.charts`) and
renders ``templates/report.html.j2`` with plotly.js, the styles and every number inlined, so the page opens from
disk with no network. docs/outputs.md describes each section for marketers.
"""

from outputs.report.build import build_report

__all__ = ["build_report"]
