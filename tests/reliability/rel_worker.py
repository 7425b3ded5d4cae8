"""The pipeline worker of the reliability suite: runs DAG tasks for data dates in its own process.

The test process keeps the API emulators (they outlive a killed worker, like the real services) and starts this
script with the environment a deployment would give it (``CRM_DATA_DIR``, ``AIRFLOW_CONN_*``, dbt log/target
paths). Each step is ``nightly:D`` or ``campaigns:D``; before a date's first step the worker moves the emulators'
simulated clock to the start of ``D+1`` (the harness's job in the demo), then it calls exactly what the DAGs call:
``local.run_nightly(D)`` and ``local.run_campaigns(D)``.

    python tests/reliability/rel_worker.py --clock-url URL --step nightly:2026-11-20 [--step campaigns:2026-11-20]
        [--log-level DEBUG]

Logging goes to stderr at the given level, as a worker's task log would; with ``DEBUG`` every logger is at DEBUG,
including those libraries set quieter themselves (SQLAlchemy, dlt, uvicorn). The test captures and scans it.
A failure ends the process with exit code 1 and the traceback on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

KST = ZoneInfo("Asia/Seoul")


def set_clock(clock_url: str, data_date: date) -> None:
    """Moves the shared simulated clock of the emulators to ``D+1 00:00 KST`` (when the nightly run happens)."""
    now = datetime.combine(data_date + timedelta(days=1), time(0, 0), tzinfo=KST)
    resp = requests.put(f"{clock_url}/_emulator/clock", json={"now": now.isoformat()}, timeout=60)
    resp.raise_for_status()


def every_logger(level: int) -> None:
    """Sets ``level`` on the root logger and on every logger a library configured itself (SQLAlchemy sets its own
    to WARNING on import, dlt and others set theirs from their config); new loggers inherit it from root."""
    logging.getLogger().setLevel(level)
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            logger.setLevel(level)


def parse_step(raw: str) -> tuple[str, date]:
    phase, _, day = raw.partition(":")
    if phase not in ("nightly", "campaigns"):
        raise argparse.ArgumentTypeError(f"step must be nightly:D or campaigns:D, got {raw!r}")
    return phase, date.fromisoformat(day)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clock-url", required=True, help="base URL of any emulator (one shared clock)")
    parser.add_argument("--step", dest="steps", action="append", type=parse_step, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    level = logging.getLevelName(args.log_level.upper())
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    debug = level == logging.DEBUG
    if debug:
        os.environ["RUNTIME__LOG_LEVEL"] = "DEBUG"  # dlt configures its logger from this
        # import what the run uses first, so the libraries' own logger settings are overridden below
        import dlt  # noqa: F401
        import great_expectations  # noqa: F401
        import sqlalchemy  # noqa: F401

        import activation.api  # noqa: F401
        import expectations  # noqa: F401
    from pipeline import local

    clock_at = None
    for phase, day in args.steps:
        if debug:
            every_logger(level)
        if clock_at != day:
            set_clock(args.clock_url, day)
            clock_at = day
        print(f"STEP {phase} {day} start", flush=True)
        if phase == "nightly":
            local.run_nightly(day)
        else:
            local.run_campaigns(day)
        print(f"STEP {phase} {day} done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
