"""The three pipeline histories the suite compares: clean reference, faults everywhere, and crashes mid-step.

Every history runs the two data dates of :data:`rel_harness.DATES`, each as two tasks in fresh worker processes
(``nightly`` then ``campaigns``), as Airflow runs tasks. What each returns (:class:`Result`) holds the fingerprint,
the raw material of the exactly-once checks, the emulators' counters and secrets, every log written, and — for
the crash history — the evidence of where each kill landed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rel_fingerprint import (
    SENT_GROUP_STATES,
    Fingerprint,
    fingerprint,
    ledger_batches,
    ledger_intents,
    solapi_messages,
    webhook_messages,
)
from rel_harness import DATES, Scenario, scenario
from rel_scan import emulator_secrets

# 20 % of the requests to every emulator fail: rate limits, server errors, timeouts the client really waits out
# (the emulator holds the answer 2 s, the destination clients give up after 1 s) and connection resets. Where a
# lost answer is the dangerous case — sending — the faults also include requests that took effect but whose answer
# was lost (reset_after, timeout_after) or garbled (malformed_json); the storefront API also replays pages. The
# Cafe24 token endpoint is part of the faulted API, but never with a lost answer: its refresh tokens are single
# use, so a refresh whose answer is lost locks any client out until someone re-authorises the app.
BASE_KINDS = "429,500,502,503,timeout,reset"
SEND_KINDS = BASE_KINDS + ",reset_after,timeout_after,malformed_json"
FAULTS = (
    f"rate=0.2;kinds={BASE_KINDS};seed=7;timeout_s=2;cafe24.kinds={BASE_KINDS},duplicate_page;"
    f"solapi.kinds={SEND_KINDS};webhook.kinds={SEND_KINDS}"
)
# only the add request: reading a group back (GET, same path) must not take the held slot
ADD_PATH = "PUT /messages/v4/groups/*/messages"
INFLIGHT = ("open", "group_created", "added")


@dataclass
class Result:
    """What one history leaves behind."""

    name: str
    root: Path
    fingerprint: Fingerprint
    messages: list[dict[str, Any]]
    hooks: list[dict[str, Any]]
    intents: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    stats: dict[str, dict[str, int]]
    secrets: dict[str, str]
    logs: list[Path]
    seconds: float
    restarts: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)

    def step(self, data_date: date, name: str) -> dict[str, Any]:
        return json.loads((self.root / "runs" / data_date.isoformat() / "steps" / f"{name}.json").read_text())


def collect(sc: Scenario, name: str, started: float, **extra: Any) -> Result:
    """Reads everything the checks need while the emulators still run."""
    state = Path(sc.emu.ctx.state_dir)
    return Result(
        name=name,
        root=sc.root,
        fingerprint=fingerprint(sc.root, sc.emu),
        messages=solapi_messages(state),
        hooks=webhook_messages(state),
        intents=ledger_intents(sc.ledger),
        batches=ledger_batches(sc.ledger),
        stats={api: sc.stats(api) for api in sc.emu.urls},
        secrets=emulator_secrets(sc.emu),
        logs=[*sc.logs, *sorted((sc.root / "dbt_logs").glob("dbt.log*"))],
        seconds=round(time.monotonic() - started, 1),
        **extra,
    )


def every_logger(level: int) -> dict[str, int]:
    """Sets ``level`` on root and on every logger that set its own level; returns the previous levels."""
    saved = {"": logging.getLogger().level}
    logging.getLogger().setLevel(level)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            saved[name] = logger.level
            logger.setLevel(level)
    return saved


@contextmanager
def capture_logs(path: Path) -> Iterator[None]:
    """Every log record of this process (the emulators' threads) at DEBUG into ``path``, for the leak scan."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s"))
    saved = every_logger(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        for name, level in saved.items():
            logging.getLogger(name or None).setLevel(level)


def run_reference(template: Path, root: Path) -> Result:
    """The clean history, every task in a fresh worker (as Airflow runs tasks), with every logger of every process
    at DEBUG: workers' stderr, dbt's own log, and the emulator threads of this process (``emulators.log``)."""
    root.mkdir(parents=True, exist_ok=True)
    with capture_logs(root / "emulators.log"):
        with scenario(template, root) as sc:
            every_logger(logging.DEBUG)  # uvicorn set its own loggers to WARNING when the servers started
            started = time.monotonic()
            for d in DATES:
                for phase in ("nightly", "campaigns"):
                    sc.run([(phase, d)], log_level="DEBUG")
            result = collect(sc, "reference", started)
    result.logs.append(root / "emulators.log")
    return result


def run_faults(template: Path, root: Path, stop: threading.Event | None = None) -> Result:
    """The history under :data:`FAULTS`, one worker per date; a failed one is re-run like the DAGs' task retries."""
    with scenario(template, root, faults=FAULTS) as sc:
        started = time.monotonic()
        restarts = sum(sc.run([("nightly", d), ("campaigns", d)], retries=2, stop=stop) for d in DATES)
        return collect(sc, "faults", started, restarts=restarts)


# --- crash history ---------------------------------------------------------------------------------------------


def hold_after_adds(n: int) -> str:
    """A Solapi fault spec under which the first ``n`` add-message requests pass and the next one is *held*: the
    messages are stored in the group, then the answer is withheld (``timeout_after``) — a worker killed now dies
    between "the provider has the messages" and "the ledger knows it". Decisions depend only on (seed, api, n),
    so the seed is searched once here instead of hoping a poll catches a millisecond window."""
    from testbed.emulators.faults import FaultConfig

    for seed in range(100_000):
        cfg = FaultConfig(rate=0.5, kinds=("timeout_after",), seed=seed, only_paths=(ADD_PATH,))
        decisions = [cfg.decide("solapi", "/messages/v4/groups/G/messages", "PUT") for _ in range(n + 1)]
        if decisions == [None] * n + ["timeout_after"]:
            return f"rate=0.5;kinds=timeout_after;seed={seed};timeout_s=60;only_paths={ADD_PATH}"
    raise AssertionError("no seed found")  # pragma: no cover


def _sqlite(path: Path, sql: str, params: tuple = ()) -> list[dict[str, Any]] | None:
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return None
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params).fetchall()]
    except sqlite3.Error:
        return None
    finally:
        con.close()


def _accepted_for(state_dir: Path, data_date: date) -> int:
    rows = _sqlite(
        state_dir / "solapi.sqlite",
        "select count(*) as n from messages m join groups g using (group_id) where m.phase != 'rejected' "
        f"and g.status in ({', '.join(repr(s) for s in SENT_GROUP_STATES)}) "
        "and json_extract(m.doc, '$.customFields.run_date') = ?",
        (data_date.isoformat(),),
    )
    return rows[0]["n"] if rows else 0


def sending_midbatch(sc: Scenario, data_date: date) -> dict[str, Any] | None:
    """The held batch: the held add request took effect (its messages sit in a group not yet sent) and the ledger
    still has the batch in flight."""
    if not sc.stats("solapi").get("solapi.fault.timeout_after"):
        return None
    state = Path(sc.emu.ctx.state_dir)
    batches = _sqlite(
        sc.ledger,
        f"select batch_id, status, group_id from batches where status in {INFLIGHT} and group_id is not null",
    )
    for b in batches or []:
        held = _sqlite(
            state / "solapi.sqlite",
            "select count(*) as n from messages m join groups g using (group_id) "
            "where m.group_id = ? and m.phase = 'registered' and g.status = 'PENDING'",
            (b["group_id"],),
        )
        if held and held[0]["n"] > 0:
            return {**b, "held_in_group": held[0]["n"], "accepted_for_date": _accepted_for(state, data_date)}
    return None


# how long after a kill the evidence is read a second time: anything that still moves then was not killed
SETTLE_S = 1.0


class DbtLogTail:
    """Follows dbt's JSON log from an offset: which models finished, whether the command completed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.buffer = ""
        self.models_done: list[str] = []
        self.completed = False

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
            self.offset = fh.tell()
        lines = (self.buffer + chunk).split("\n")
        self.buffer = lines.pop()
        for line in lines:
            if '"LogModelResult"' in line or '"CommandCompleted"' in line:
                info = json.loads(line)
                if info["info"]["name"] == "CommandCompleted":
                    self.completed = True
                else:
                    self.models_done.append(info["data"]["node_info"]["unique_id"])


def dbt_models_per_invocation(paths: list[Path]) -> list[int]:
    """Models finished by each dbt invocation in a dbt JSON log, in order."""
    counts: dict[str, int] = {}
    for path in sorted(paths, key=lambda p: (p.name != "dbt.log.1", p.name)):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"LogModelResult"' in line or '"MainReportVersion"' in line:
                info = json.loads(line)["info"]
                counts.setdefault(info["invocation_id"], 0)
                counts[info["invocation_id"]] += info["name"] == "LogModelResult"
    return list(counts.values())


def run_crashes(template: Path, root: Path) -> Result:
    """The history with three SIGKILLs, each followed by a worker that re-runs the killed task and goes on
    (see docs/reliability.md). Evidence of where each kill landed is in ``Result.evidence``."""
    d1, d2 = DATES
    evidence: dict[str, Any] = {}
    with scenario(template, root) as sc:
        started = time.monotonic()
        state = Path(sc.emu.ctx.state_dir)
        storefront_step = sc.root / "runs" / d1.isoformat() / "steps" / "extract_storefront.json"

        # (a) night 1, during extraction: the storefront API has served some pages, the step has not finished
        def extraction_midway() -> dict[str, Any] | None:
            served = sc.stats("cafe24").get("cafe24.total.requests", 0)
            return {"requests_at_kill": served} if served >= 12 and not storefront_step.exists() else None

        def cafe24_requests() -> int:
            return sc.stats("cafe24").get("cafe24.total.requests", 0)

        worker = sc.start([("nightly", d1)])
        evidence["extraction"] = worker.kill_when(extraction_midway, what="the storefront extraction")
        # two snapshots: when the worker had been reaped (a request it sent between the poll and the kill may
        # still be served), and a second later (a dead worker sends nothing more)
        evidence["extraction"]["requests_when_reaped"] = cafe24_requests()
        time.sleep(SETTLE_S)
        evidence["extraction"].update(
            step_written=storefront_step.exists(),
            requests_after_kill=cafe24_requests(),
            raw_orders_after_kill=_raw_count(sc.warehouse, "raw_cafe24.orders"),
        )

        # (c) night 1, during sending: re-run the night, then its campaigns; the first campaign's batch reaches the
        # provider, the next one is held after its messages were added (only add requests are faulted)
        sc.set_faults(hold_after_adds(1), scope="api", api="solapi")
        worker = sc.start([("nightly", d1), ("campaigns", d1)])
        evidence["sending"] = worker.kill_when(lambda: sending_midbatch(sc, d1), what="a batch in flight")
        sc.set_faults(None)
        batch_id = evidence["sending"]["batch_id"]
        evidence["sending"].update(
            batch_after_kill=next(
                b["status"] for b in ledger_batches(sc.ledger) if b["batch_id"] == batch_id
            ),
            accepted_after_kill=_accepted_for(state, d1),
        )

        # (b) night 2, during dbt: re-run night 1's campaigns, then night 2 until some models of its build finished
        tail = DbtLogTail(sc.dbt_log)

        def dbt_midway() -> dict[str, Any] | None:
            tail.poll()
            if tail.completed:
                raise AssertionError("dbt finished before the kill")
            return {"models_done": len(tail.models_done)} if len(tail.models_done) >= 8 else None

        worker = sc.start([("campaigns", d1), ("nightly", d2)])
        evidence["dbt"] = worker.kill_when(dbt_midway, what="the dbt build of night 2")
        tail.poll()
        evidence["dbt"]["models_when_reaped"] = len(tail.models_done)
        time.sleep(SETTLE_S)
        evidence["sending"]["batch_after_rerun"] = next(
            b["status"] for b in ledger_batches(sc.ledger) if b["batch_id"] == batch_id
        )
        tail.poll()
        evidence["dbt"].update(models_logged_after_kill=len(tail.models_done), completed=tail.completed)

        # and night 2 again, to the end
        sc.run([("nightly", d2), ("campaigns", d2)])
        return collect(sc, "crashes", started, evidence=evidence)


def _raw_count(warehouse: Path, table: str) -> int | None:
    import duckdb

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()
