"""The run's notion of time, derived from the Airflow data interval and never from the wall clock.

A nightly run processes one *data date* ``D`` (a KST calendar day): its data interval is ``[D 00:00, D+1 00:00)`` in the
business timezone and its *reference time* (the instant the run "happens" for every time-dependent rule: extraction
upper bounds, send times, quiet hours) is the interval end. Re-running a date therefore reproduces the same tables and
the same decisions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from include.core.timezone import KST


@dataclass(frozen=True)
class RunContext:
    """Everything a task needs to know about which run it belongs to."""

    data_date: date
    interval_start: datetime
    interval_end: datetime
    run_id: str
    is_backfill: bool = False

    @property
    def reference_time(self) -> datetime:
        return self.interval_end

    @property
    def ds(self) -> str:
        return self.data_date.isoformat()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            **d,
            "data_date": self.ds,
            "interval_start": self.interval_start.isoformat(),
            "interval_end": self.interval_end.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunContext:
        return cls(
            data_date=date.fromisoformat(d["data_date"]),
            interval_start=datetime.fromisoformat(d["interval_start"]),
            interval_end=datetime.fromisoformat(d["interval_end"]),
            run_id=d["run_id"],
            is_backfill=bool(d.get("is_backfill", False)),
        )


def for_date(data_date: date, run_id: str | None = None, *, is_backfill: bool = False) -> RunContext:
    """The run context of the nightly run for ``data_date`` (used by the CLI, tests and benchmarks)."""
    start = datetime.combine(data_date, time(0, 0), tzinfo=KST)
    return RunContext(
        data_date=data_date,
        interval_start=start,
        interval_end=start + timedelta(days=1),
        run_id=run_id or f"manual__{data_date.isoformat()}",
        is_backfill=is_backfill,
    )


def from_airflow(context: dict[str, Any]) -> RunContext:
    """Builds the run context from an Airflow task context (data interval, run id, run type)."""
    dag_run = context.get("dag_run")
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("data_date"):
        # asset-triggered and manual runs may name the data date explicitly
        return for_date(
            date.fromisoformat(conf["data_date"]),
            context.get("run_id") or getattr(dag_run, "run_id", None),
            is_backfill=_is_backfill(dag_run),
        )
    if start is None or end is None:
        events = context.get("triggering_asset_events") or {}
        for evs in events.values():
            for ev in evs:
                dd = (ev.extra or {}).get("data_date")
                if dd:
                    return for_date(date.fromisoformat(dd), context.get("run_id"))
        raise ValueError("run has neither a data interval nor a data_date (conf or asset event extra)")
    start_local = start.astimezone(KST)
    return RunContext(
        data_date=start_local.date(),
        interval_start=start_local,
        interval_end=end.astimezone(KST),
        run_id=context.get("run_id") or getattr(dag_run, "run_id", "unknown"),
        is_backfill=_is_backfill(dag_run),
    )


def _is_backfill(dag_run: Any) -> bool:
    run_type = getattr(dag_run, "run_type", None)
    return str(getattr(run_type, "value", run_type) or "").lower() == "backfill"
