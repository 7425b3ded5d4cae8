"""The GX engine of the gates: one ephemeral context per gate call, pandas batches, results in plain words.

GX's SQL datasource does not work over duckdb-engine here (docs/quality.md), so each gate reads the batch it
checks from the warehouse into pandas (only the rows of this run) and validates it with GX's pandas datasource:
every expectation of a suite in one ``batch.validate`` call, so GX computes the metrics of a batch together.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
import uuid
from datetime import date, datetime
from typing import Any

from expectations.result import CRITICAL, Outcome
from include.core.pii import mask_text

_RESULT_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "observed_value",
)


class GxValidator:
    """Validates pandas frames against expectation suites in one ephemeral, telemetry-free GX context."""

    def __init__(self, gate: str, sample_size: int = 10):
        os.environ["GX_ANALYTICS_ENABLED"] = "False"  # no phoning home, also without a network
        logging.getLogger("great_expectations").setLevel(
            logging.WARNING
        )  # GX logs every registration at INFO
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self._gx = gx
        # GX fingerprints every pandas batch below 1 GB by hashing all its values (a batch marker we never use);
        # on a 1M-customer batch that is a fifth of the validation time. GX already skips it above its threshold.
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.datasource = self.context.data_sources.add_pandas(f"{gate}_batches")
        self.sample_size = sample_size
        self.seconds = 0.0  # time spent inside GX validation (for the cost report)
        self._n = 0

    def validate(
        self,
        suite: Any,
        df: Any,
        *,
        table_name: str,
        params: dict[str, Any] | None = None,
        index_columns: list[str] | None = None,
    ) -> list[Outcome]:
        """Validates one frame with every expectation of ``suite``; returns one :class:`Outcome` each.

        Expectations on columns the frame lacks are not run (they could only error): the suite's
        ``expect_column_to_exist`` for that column reports the fault once.

        Args:
            suite: a :class:`~expectations.suites.Suite` (name + GX expectations).
            df: the batch as a pandas DataFrame.
            table_name: name shown in reports (``raw_cafe24.orders``).
            params: values of the suite's ``{"$PARAMETER": …}`` placeholders (interval bounds, volume band).
            index_columns: key columns GX reports for offending rows (``["order_id"]``).
        """
        if not df.index.is_unique:  # GX reports offending rows by index
            df = df.reset_index(drop=True)
        present = set(df.columns)
        runnable = [exp for exp in suite.expectations if _columns_of(exp) <= present]
        if not runnable:
            return []
        gx_suite = suite.to_gx([copy.copy(exp) for exp in runnable])
        for (
            exp
        ) in gx_suite.expectations:  # ids tie results back to expectations (GX sets them only when stored)
            exp.id = str(uuid.uuid4())
        self._n += 1
        asset = self.datasource.add_dataframe_asset(name=f"batch_{self._n}")
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
        keys = [c for c in (index_columns or []) if c in present]
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": self.sample_size,
        }
        if keys:
            result_format["unexpected_index_column_names"] = keys
        started = time.perf_counter()
        batch = batch_def.get_batch(batch_parameters={"dataframe": df})
        validation = batch.validate(
            gx_suite, expectation_parameters=params or {}, result_format=result_format
        )
        self.seconds += time.perf_counter() - started
        self.datasource.delete_asset(asset.name)
        by_id = {r.expectation_config.id: r for r in validation.results}
        outcomes = []
        for exp in gx_suite.expectations:
            r = by_id.get(exp.id)
            if r is not None:
                outcomes.append(
                    to_outcome(r, suite_name=suite.name, table_name=table_name, params=params or {})
                )
        return outcomes


def _columns_of(exp: Any) -> set[str]:
    """Columns an expectation needs in the frame (none for ``expect_column_to_exist``: it checks just that)."""
    cols: set[str] = set()
    if type(exp).__name__ == "ExpectColumnToExist":
        return cols
    for attr in ("column", "column_A", "column_B"):
        val = getattr(exp, attr, None)
        if isinstance(val, str):
            cols.add(val)
    for attr in ("column_list",):
        val = getattr(exp, attr, None)
        if val:
            cols.update(val)
    return cols


def _plain(value: Any) -> Any:
    """JSON-friendly, masked copy of a GX result value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if value is None or isinstance(value, bool | int):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays, pandas series
        return _plain(value.tolist())
    return mask_text(str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _column_label(kwargs: dict[str, Any]) -> str | None:
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if kwargs.get("column_list"):
        return ",".join(kwargs["column_list"])
    return None


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"])
    return value


def to_outcome(r: Any, *, suite_name: str, table_name: str, params: dict[str, Any]) -> Outcome:
    """Turns one GX ``ExpectationValidationResult`` into an :class:`Outcome` with a plain-words reason."""
    cfg = r.expectation_config
    etype = cfg.type
    kwargs = {k: _resolve(v, params) for k, v in dict(cfg.kwargs).items() if k != "batch_id"}
    meta = dict(cfg.meta or {})
    severity = getattr(getattr(cfg, "severity", None), "value", None) or str(
        getattr(cfg, "severity", CRITICAL)
    )
    column = meta.get("column") or _column_label(kwargs)
    target = f"{table_name}.{column}" if column else table_name
    res = dict(r.result or {})
    rule = meta.get("rule") or etype.replace("expect_", "").replace("_", " ")
    details: dict[str, Any] = {"rule": rule, "kwargs": _plain(kwargs)}
    details.update({k: _plain(v) for k, v in meta.items() if k not in ("rule", "column", "pii")})
    for key in _RESULT_KEYS:
        if key in res:
            details[key] = _plain(res[key])
    if meta.get("pii"):
        res = _mask_samples(res, meta["pii"])
    if res.get("partial_unexpected_counts"):
        details["sample_values"] = _plain(res["partial_unexpected_counts"])
    elif res.get("partial_unexpected_list"):
        details["sample_values"] = _plain(res["partial_unexpected_list"])
    if res.get("partial_unexpected_index_list"):
        names = res.get("unexpected_index_column_names") or []
        keys = [
            {k: v for k, v in row.items() if k in names} if isinstance(row, dict) else row
            for row in res["partial_unexpected_index_list"]
        ]  # GX adds the offending value itself; keep only the key columns (no contacts)
        details["sample_keys"] = _plain(keys)
    exc = r.exception_info or {}
    if isinstance(exc, dict) and exc.get("raised_exception"):
        msg = mask_text(str(exc.get("exception_message")))[:300]
        details["error"] = msg
        return Outcome(
            suite_name,
            table_name,
            column,
            etype,
            severity,
            False,
            None,
            f"{target} could not be checked ({msg})",
            details,
        )
    if etype == "expect_table_columns_to_match_set":
        missing = sorted(((res.get("details") or {}).get("mismatched") or {}).get("missing") or [])
        details["missing_columns"] = missing
        if missing:
            column = ",".join(missing)
            label = "column" if len(missing) == 1 else "columns"
            reason = f"{table_name} is missing contract {label}: {', '.join(missing)}"
            return Outcome(suite_name, table_name, column, etype, severity, False, "missing", reason, details)
    key_sample = _sample_text({"sample_keys": details.get("sample_keys", [])})
    observed, reason = _describe(etype, target, rule, res, _sample_text(details), key_sample)
    if r.success:
        reason = f"{target}: {rule}" if etype != "expect_column_to_exist" else f"{target} exists"
    return Outcome(
        suite_name, table_name, column, etype, severity, bool(r.success), observed, reason, details
    )


def _mask_value(value: Any, kind: str) -> Any:
    from include.core.pii import mask_email, mask_phone

    if value is None:
        return None
    text = str(value)
    if kind == "text":  # message texts carry names: keep only their beginning
        return text[:12] + ("…" if len(text) > 12 else "")
    if kind == "contact" and "@" in text:
        return mask_email(text)
    return mask_phone(text)


def _mask_samples(res: dict[str, Any], kind: str) -> dict[str, Any]:
    """Masks sample values of a check on contacts or texts (malformed phones escape mask_text's pattern)."""
    res = dict(res)
    if res.get("partial_unexpected_counts"):
        res["partial_unexpected_counts"] = [
            {"value": _mask_value(c.get("value"), kind), "count": c.get("count")}
            for c in res["partial_unexpected_counts"]
        ]
    if res.get("partial_unexpected_list"):
        res["partial_unexpected_list"] = [_mask_value(v, kind) for v in res["partial_unexpected_list"]]
    return res


def _sample_text(details: dict[str, Any]) -> str:
    """`` (e.g. m0002835: '010-****-9043', …)`` from the sample keys and values of a result (already masked)."""
    keys = [
        "/".join(str(v) for v in k.values()) if isinstance(k, dict) else str(k)
        for k in details.get("sample_keys", [])
    ]
    raw = details.get("sample_values") or []
    values = [v.get("value") if isinstance(v, dict) and "count" in v else v for v in raw]
    if keys:
        shown = ", ".join(list(dict.fromkeys(keys))[:3])
    elif values:
        shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:3])
    else:
        return ""
    return f" (e.g. {shown})"


def _describe(
    etype: str, target: str, rule: str, res: dict[str, Any], sample: str, key_sample: str
) -> tuple[str | None, str]:
    """``(observed value, reason)`` for one result; failures name the fault, successes restate the rule."""
    n_bad = res.get("unexpected_count")
    n_all = res.get("element_count")
    if "observed_value" in res:
        obs = res["observed_value"]
        observed = _fmt(_plain(obs)) if obs is not None else "none"
    elif n_bad is not None:
        observed = f"{_fmt(n_bad)} of {_fmt(n_all)} rows"
    else:
        observed = None
    if etype == "expect_column_to_exist":
        return (
            "missing" if not res.get("observed_value", True) else observed
        ), f"{target} must exist in the table"
    if n_bad is None and "observed_value" not in res:
        return observed, f"{target}: {rule}"
    if etype == "expect_column_values_to_be_unique":
        return observed, f"{target} has {_fmt(n_bad)} duplicate values{sample}"
    if etype in (
        "expect_compound_columns_to_be_unique",
        "expect_select_column_values_to_be_unique_within_record",
    ):
        return observed, f"{target} has {_fmt(n_bad)} rows repeating the same combination{sample}"
    if etype == "expect_column_values_to_not_be_null":
        return observed, f"{target} has {_fmt(n_bad)} null values of {_fmt(n_all)} rows{key_sample}"
    if etype == "expect_column_proportion_of_non_null_values_to_be_between":
        return observed, f"{target} is null in every row of the batch (column dropped by the source?)"
    if n_bad is not None:
        return (
            observed,
            f"{target} has {_fmt(n_bad)} of {_fmt(n_all)} rows breaking the rule '{rule}'{sample}",
        )
    return observed, f"{target} is {observed}, breaking the rule '{rule}'"
