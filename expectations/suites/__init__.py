"""Expectation suites as versioned code: one module per gate, built from :mod:`include.core.contracts` and the config.

Bump a module's ``SUITE_VERSION`` when its rules change; the version is part of every suite name stored in
``quality.gate_results`` (``raw.v1.raw_cafe24.orders``), so results of different rule sets are never mixed up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Suite:
    """A named list of GX expectations, turned into a ``great_expectations.ExpectationSuite`` when validated.

    (GX's own ``add_expectation`` compares each new expectation with every earlier one, which costs seconds on
    suites of a few hundred; building the suite from a list skips that.)
    """

    name: str
    expectations: list[Any] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add_expectation(self, expectation: Any) -> Any:
        self.expectations.append(expectation)
        return expectation

    def to_gx(self, expectations: list[Any] | None = None) -> Any:
        """The GX suite (optionally with a subset of the expectations)."""
        import great_expectations as gx

        exps = self.expectations if expectations is None else expectations
        return gx.ExpectationSuite(name=self.name, expectations=exps, meta=dict(self.meta) or None)
