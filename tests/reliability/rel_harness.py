"""Scenario harness of the reliability suite: a data folder per scenario, the emulators, and pipeline workers.

A *scenario* is one complete history of the pipeline on its own copy of the generated shop: its own warehouse,
ledger, dlt state, run folders and emulator state. The emulators live in the test process (threads, loopback,
ephemeral ports) and outlive the workers; each worker is a child process (``rel_worker.py``) in its own session,
so a crash test can SIGKILL the worker *and everything it started* (dbt included), like a node that dies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("rel_worker.py")
KST = ZoneInfo("Asia/Seoul")
DATES = (date(2026, 11, 20), date(2026, 11, 21))
SHOP = {"customers": 1000, "days": 45, "end_date": date(2026, 11, 22), "seed": 20261120}
EMULATOR_OPTIONS: dict[str, Any] = {
    # signatures are about the network (real time); the shop and the reports follow the simulated clock
    "solapi_auth_clock": "wall",
    # Channel Talk publishes no limit; 10/s (the emulator's default) would make the first full sync take minutes
    "channeltalk_rate_limit": 500,
    # the Cafe24 bucket drains 5x faster than the real 2/s so a first night's full history is not mostly waiting
    "cafe24_bucket_drain_per_s": 10.0,
}


# Destination clients (Solapi, Channel Talk, webhook): a 1 s read timeout, so the emulator's 2 s "timeout" faults
# are real client timeouts, short backoffs and 10 attempts. The storefront and report extractors keep their defaults.
CLIENT_EXTRA = {"timeout_s": 1.0, "retry_base_s": 0.05, "retry_max_s": 0.5, "max_attempts": 10}
CLIENT_APIS = ("AIRFLOW_CONN_CRM_SOLAPI", "AIRFLOW_CONN_CRM_CHANNELTALK", "AIRFLOW_CONN_CRM_WEBHOOK")


def generate_template(folder: Path) -> Path:
    """Generates the shared shop (Parquet tables + event drops) once; scenarios copy it."""
    from testbed.shop import generate_shop

    generate_shop(folder / "shop", folder / "drops" / "events", **SHOP)
    return folder


@dataclass
class Scenario:
    """One pipeline history: data folder, running emulators, worker environment and every captured log."""

    root: Path
    emu: Any  # testbed.emulators.runner.EmulatorHandle
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)
    workers: int = 0

    @property
    def url(self) -> str:
        return self.emu.urls["solapi"]

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite"

    @property
    def dbt_log(self) -> Path:
        return self.root / "dbt_logs" / "dbt.log"

    def stats(self, api: str) -> dict[str, int]:
        """The emulator's counters for one API (admin route, real HTTP)."""
        return requests.get(self.emu.urls[api] + "/_emulator/stats", timeout=10).json()["stats"]

    def set_faults(self, spec: str | None, *, scope: str = "all", api: str = "solapi") -> None:
        """Replaces the fault configuration (``scope=all``) or one API's (``scope=api``) at runtime."""
        body = {"spec": spec or "off", "scope": scope}
        resp = requests.put(self.emu.urls[api] + "/_emulator/faults", json=body, timeout=10)
        resp.raise_for_status()

    # --- workers ------------------------------------------------------------------------------------------------
    def start(self, steps: list[tuple[str, date]], log_level: str = "INFO") -> Worker:
        """Starts a worker for ``steps`` (``("nightly", D)``, ``("campaigns", D)``) in its own session;
        stdout/stderr go to files kept for the scans."""
        self.workers += 1
        n = self.workers
        out, err = self.root / f"worker-{n}.out", self.root / f"worker-{n}.err"
        self.logs += [out, err]
        cmd = [sys.executable, str(WORKER), "--clock-url", self.url, "--log-level", log_level]
        for phase, d in steps:
            cmd += ["--step", f"{phase}:{d.isoformat()}"]
        with out.open("wb") as fo, err.open("wb") as fe:
            proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=fo, stderr=fe, start_new_session=True)
        return Worker(proc, out, err)

    def run(
        self,
        steps: list[tuple[str, date]],
        log_level: str = "INFO",
        retries: int = 0,
        stop: threading.Event | None = None,
    ) -> int:
        """Runs a worker to the end, restarting a failed one up to ``retries`` times (like the DAGs' task
        retries); returns how many restarts were needed, raises with the last stderr when none succeeded.
        ``stop`` (set by the session's teardown) kills the worker and raises."""
        for attempt in range(retries + 1):
            worker = self.start(steps, log_level)
            worker.wait(timeout=1200, stop=stop)
            if worker.proc.returncode == 0:
                return attempt
        raise AssertionError(f"worker failed ({worker.proc.returncode}):\n{worker.tail()}")


@dataclass
class Worker:
    """A running worker process (its own process group)."""

    proc: subprocess.Popen
    out: Path
    err: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float, stop: threading.Event | None = None) -> int:
        deadline = time.monotonic() + timeout
        while self.alive():
            if stop is not None and stop.is_set():
                self.kill()
                raise RuntimeError("stopped")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"worker still running after {timeout}s:\n{self.tail()}")
            time.sleep(0.1)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL to the whole process group: the worker and every child (dbt) die at once, like a lost node."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def tail(self, n: int = 4000) -> str:
        return self.err.read_text(errors="replace")[-n:]

    def kill_when(self, condition: Callable[[], Any], *, what: str, timeout: float = 300) -> Any:
        """Polls ``condition`` (every 20 ms) and SIGKILLs the worker as soon as it returns something truthy.

        Returns that value (the evidence of where the worker was). Fails the test when the worker ends first or
        the condition never holds: a crash test that did not crash where it meant to proves nothing.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"the worker ended before {what}:\n{self.tail()}")
            found = condition()
            if found:
                self.kill()
                return found
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"timed out waiting for {what}:\n{self.tail()}")


def _worker_env(root: Path, emu: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "AIRFLOW_CONN_", "DBT_"))}
    for key, raw in emu.connection_env().items():
        conn = json.loads(raw)
        if key in CLIENT_APIS:
            conn["extra"] = {**conn.get("extra", {}), **CLIENT_EXTRA}
        env[key] = json.dumps(conn)
    env.update(
        CRM_DATA_DIR=str(root),
        # dbt's own log (debug level, JSON lines) and target folder per scenario: scanned by the tests, and a
        # killed dbt never leaves a half-written target/ behind in the shared project folder
        DBT_LOG_PATH=str(root / "dbt_logs"),
        DBT_TARGET_PATH=str(root / "dbt_target"),
        DBT_LOG_FORMAT_FILE="json",
        DBT_LOG_LEVEL_FILE="debug",
        DBT_LOG_FILE_MAX_BYTES="0",  # no roll-over: the crash test follows the file
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def scenario(template: Path, root: Path, *, faults: str | None = None) -> Iterator[Scenario]:
    """A fresh data folder with a copy of the template shop, and emulators serving it (stopped on exit)."""
    from testbed.emulators.runner import run_emulators

    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template / "shop", root / "shop")
    shutil.copytree(template / "drops", root / "drops")
    start = datetime.combine(DATES[0], datetime.min.time(), tzinfo=KST)
    with run_emulators(
        root / "shop",
        root / "emu",
        root / "drops" / "events",
        start,
        options=EMULATOR_OPTIONS,
        faults=faults,
    ) as emu:
        yield Scenario(root=root, emu=emu, env=_worker_env(root, emu))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
