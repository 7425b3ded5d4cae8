"""What a gate returns: one :class:`Outcome` per evaluated expectation, summed up in a :class:`GateResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"


@dataclass
class Outcome:
    """One evaluated expectation on one batch, in plain words.

    Attributes:
        suite: suite name (``raw.raw_cafe24.orders``).
        table_name: the validated table or derived frame (``raw_cafe24.orders``).
        column_name: the column, or None for table-level expectations.
        expectation: GX expectation type (``expect_column_values_to_be_unique``).
        severity: ``critical`` (fails the gate), ``warning`` (reported) or ``info``.
        success: whether the expectation held.
        observed_value: short text of what was seen (count of offending rows, max timestamp, …), contacts masked.
        reason: one sentence a non-engineer can read; for failures it names the fault.
        details: the GX result (counts, samples, rule parameters), JSON-serialisable, contacts masked.
    """

    suite: str
    table_name: str
    column_name: str | None
    expectation: str
    severity: str
    success: bool
    observed_value: str | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"{self.table_name}.{self.column_name}" if self.column_name else self.table_name


class GateFailedError(RuntimeError):
    """Raised by :meth:`GateResult.raise_if_failed`; the first line names the gate, the date and the faults."""

    def __init__(self, result: GateResult):
        self.result = result
        crit = result.critical
        head = "; ".join(f"{o.reason} ({o.expectation})" for o in crit[:5])
        more = f"; and {len(crit) - 5} more" if len(crit) > 5 else ""
        lines = [f"{result.gate} gate FAILED for {result.data_date.isoformat()}: {head}{more}"]
        lines += [f"  - [{o.severity}] {o.reason} ({o.expectation})" for o in crit]
        if result.report_path:
            lines.append(f"  report: {result.report_path}")
        super().__init__("\n".join(lines))


@dataclass
class GateResult:
    """The verdict of one gate on one run.

    Attributes:
        gate: ``raw``, ``marts`` or ``send_list``.
        data_date: the run's data date (KST day).
        run_id: the Airflow run id.
        passed: True when no critical expectation failed (warnings allowed).
        counts: evaluated/succeeded/critical_failures/warnings, rows per validated table, quarantined rows.
        failures: every expectation that did not hold (critical and warning), in report order.
        outcomes: every evaluated expectation (also the passing ones).
        report_path: the HTML report of this gate for this run.
    """

    gate: str
    data_date: date
    run_id: str
    passed: bool
    counts: dict[str, Any]
    failures: list[Outcome]
    outcomes: list[Outcome]
    report_path: Path | None = None

    @property
    def critical(self) -> list[Outcome]:
        return [o for o in self.failures if o.severity == CRITICAL]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.failures if o.severity != CRITICAL]

    @property
    def status(self) -> str:
        """``PASS`` (all held), ``WARN`` (only warnings failed) or ``FAIL`` (a critical failure)."""
        if not self.passed:
            return "FAIL"
        return "WARN" if self.failures else "PASS"

    def summary(self) -> str:
        """One log line: ``raw gate WARN for 2026-11-22 (run …): 61/62 checks held; warnings: …``."""
        n, ok = self.counts.get("evaluated", 0), self.counts.get("succeeded", 0)
        parts = [
            f"{self.gate} gate {self.status} for {self.data_date.isoformat()} (run {self.run_id}): {ok}/{n} checks held"
        ]
        by_rule = self.counts.get("quarantined_by_rule") or {}
        if by_rule:
            parts.append(
                "quarantined: "
                + "; ".join(
                    f"{t} " + ", ".join(f"{rule} {n}" for rule, n in by.items()) for t, by in by_rule.items()
                )
            )
        if self.critical:
            parts.append("CRITICAL: " + "; ".join(o.reason for o in self.critical))
        if self.warnings:
            parts.append("warnings: " + "; ".join(o.reason for o in self.warnings))
        if self.report_path:
            parts.append(f"report {self.report_path}")
        return " | ".join(parts)

    def raise_if_failed(self) -> GateResult:
        """Raises :class:`GateFailedError` when a critical expectation failed; returns self otherwise."""
        if not self.passed:
            raise GateFailedError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (for an Airflow XCom): status, counts, faults, report path."""
        return {
            "gate": self.gate,
            "data_date": self.data_date.isoformat(),
            "run_id": self.run_id,
            "passed": self.passed,
            "status": self.status,
            "counts": self.counts,
            "failures": [
                {
                    "table": o.table_name,
                    "column": o.column_name,
                    "expectation": o.expectation,
                    "observed": o.observed_value,
                    "severity": o.severity,
                    "reason": o.reason,
                }
                for o in self.failures
            ],
            "report_path": str(self.report_path) if self.report_path else None,
        }
