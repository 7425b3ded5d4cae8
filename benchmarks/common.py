"""Shared helpers of the benchmark suite: measured child processes, dbt runs, table checksums, machine facts.

Every timing that also reports memory runs in a child process and reads that command's peak RSS from the kernel
(``os.wait4`` in a small launcher process, see ``_LAUNCHER``), so one benchmark's memory, or the benchmark
driver's own, never leaks into another's number.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from include.core.timezone import KST

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
RUN_DATE = date(2026, 11, 22)  # the data date D of every benchmark; shops end on it
OUTPUT_SCHEMAS = ("staging", "intermediate", "marts", "audiences")
SCALES = {"XS": 1_500, "S": 10_000, "M": 1_000_000, "L": 10_000_000}
# Days of events at L: what ~70 GB of scratch disk holds. Measured at M (1M members, 90 event days, 2026-12-07):
# tables 0.70 GB, drops 2.95 GB (0.033 GB per event day), raw warehouse 4.70 GB = 0.86 GB after the snapshot +
# 3.84 GB of events from 89 drop days (0.043 GB per day). L has 10× the members (orders per member do not change),
# so with d event days:
#   generator output  G(d) = 7.0 + 0.33·d GB;  raw warehouse  W(d) = 8.6 + 0.43·d GB
#   G + W + two copies of W = 32.8 + 1.62·d GB  ≤ 70 GB  →  d ≤ 22.
# 14 days: 55 GB, leaving ~15 GB for DuckDB's spill files. (The dbt-built warehouses were 4–5× the raw one at M, so
# the dbt sections at L need more than this disk at any number of days: the L plan runs the others.) 14 days is
# below the 30/90-day engagement windows of the segmentation: L scales members, not history.
L_EVENT_DAYS = 14


@dataclass
class Measured:
    """A finished child process: wall time, peak RSS and what it printed."""

    cmd: list[str]
    returncode: int
    wall_s: float
    max_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> Measured:
        if self.returncode != 0:
            tail = "\n".join((self.stdout + "\n" + self.stderr).splitlines()[-40:])
            raise RuntimeError(f"{what} failed with exit code {self.returncode}:\n{tail}")
        return self


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (from ``/proc``; 0 once they are gone)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


# A small launcher between the benchmark and the measured command. Linux carries a process's peak RSS across
# fork/exec (the child starts from its parent's high-water mark), so a command started straight from a large
# pytest or benchmark process would report the parent's peak. The launcher forks once more from a small
# interpreter, waits for the command and writes the command's own rusage peak to the file named in argv[1].
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
"""


def run_measured(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 7200,
    max_rss_mb: float | None = None,
) -> Measured:
    """Runs ``cmd`` as a child and returns its wall time and peak RSS (``ru_maxrss`` of that command alone).

    ``max_rss_mb`` kills the child when its resident memory passes it (the machine is shared: a baseline that
    does not fit is reported as such instead of pushing other processes out); the result then says so in
    ``stderr`` and has return code -9.
    """
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        launch = [sys.executable, "-c", _LAUNCHER, rss.name, *cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            launch, env=env, cwd=cwd, stdout=out, stderr=err, text=True, start_new_session=True
        )
        deadline = t0 + timeout
        killed = ""
        while proc.poll() is None:
            over = max_rss_mb is not None and _tree_rss_mb(proc.pid) > max_rss_mb
            if over or time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                proc.wait()
                killed = f"RSS above {max_rss_mb} MB" if over else "timeout"
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        returncode = proc.returncode
        if killed:
            err.write(f"\nkilled by the benchmark: {killed}")
            returncode = -9
        elif returncode > 128:  # the launcher's way of saying "the command died of signal N"
            returncode = 128 - returncode
        peak_kb = rss.read().strip()
        out.seek(0)
        err.seek(0)
        return Measured(list(cmd), returncode, wall, int(peak_kb or 0) / 1024, out.read(), err.read())


def python_child(
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 7200,
    max_rss_mb: float | None = None,
) -> Measured:
    """``python -m module args`` of this interpreter, measured, from the repo root (``max_rss_mb``: see above)."""
    full_env = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-m", module, *args]
    return run_measured(cmd, env=full_env, cwd=ROOT, timeout=timeout, max_rss_mb=max_rss_mb)


def dbt_env(warehouse: Path, workdir: Path, threads: int | None = None) -> dict[str, str]:
    """Environment of a dbt child on ``warehouse`` with its own target and log folders under ``workdir``."""
    env = {
        **os.environ,
        "CRM_DBT_TARGET": "duckdb",
        "CRM_WAREHOUSE_PATH": str(Path(warehouse).resolve()),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_USE_COLORS": "False",
        "DO_NOT_TRACK": "1",
    }
    if threads is not None:
        env["CRM_DBT_THREADS"] = str(threads)
    return env


def run_dbt(
    args: Sequence[str],
    *,
    warehouse: Path,
    workdir: Path,
    run_date: date = RUN_DATE,
    threads: int | None = None,
    extra_vars: dict[str, Any] | None = None,
    check: bool = True,
) -> Measured:
    """``dbt <args>`` on the project for ``run_date`` as a measured child (wall time includes dbt's parse)."""
    workdir.mkdir(parents=True, exist_ok=True)
    variables = {"run_date": run_date.isoformat(), **(extra_vars or {})}
    cmd = [str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    cmd += ["--vars", json.dumps(variables)]
    m = run_measured(cmd, env=dbt_env(warehouse, workdir, threads), cwd=workdir)
    return m.check(f"dbt {' '.join(args)}") if check else m


def run_results(workdir: Path) -> dict[str, dict]:
    """Per-node results of the last dbt command in ``workdir``: ``{unique_id: {status, execution_time, ...}}``."""
    data = json.loads((workdir / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r for r in data["results"]}


def copy_warehouse(src: Path, dst: Path) -> Path:
    """Copies a closed DuckDB file (and its WAL if any) to ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        s = Path(f"{src}{suffix}")
        d = Path(f"{dst}{suffix}")
        d.unlink(missing_ok=True)
        if s.exists():
            shutil.copyfile(s, d)
    return dst


# The per-run change set of the event history (what that run wrote; empty on a full refresh by design).
PER_RUN_TABLES = frozenset({"intermediate.int_events_this_run"})


def model_tables(warehouse: Path, schemas: Iterable[str] = OUTPUT_SCHEMAS) -> list[str]:
    """``schema.table`` of every base table in ``schemas`` (views excluded: they hold no rows of their own), except
    :data:`PER_RUN_TABLES`."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in (select unnest(?::varchar[])) order by 1",
            [list(schemas)],
        ).fetchall()
    return [r[0] for r in rows if r[0] not in PER_RUN_TABLES]


def _checksum_sql(con: Any, table: str) -> str:
    schema, name = table.split(".", 1)
    # by column name, not position: a column an incremental model gained later (on_schema_change
    # append_new_columns) sits last in the nightly table and in its place in a fresh build; same data either way
    cols = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "order by column_name",
        [schema, name],
    ).fetchall()
    exprs = []
    for col, dtype in cols:
        q = '"' + col.replace('"', '""') + '"'
        # doubles: parallel aggregation may sum in another order, so compare them at 6 significant decimals
        exprs.append(f"round({q}, 6)" if dtype in ("DOUBLE", "FLOAT", "REAL") else q)
    return f"select count(*), coalesce(sum(hash({', '.join(exprs)})), 0)::varchar from {table}"


def table_checksums(warehouse: Path, tables: Iterable[str]) -> dict[str, tuple[int, str]]:
    """``{table: (row count, order-independent checksum of every row)}`` for the given tables."""
    import duckdb

    out: dict[str, tuple[int, str]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            n, chk = con.execute(_checksum_sql(con, table)).fetchone()
            out[table] = (int(n), str(chk))
    return out


def compare_checksums(left: dict[str, tuple[int, str]], right: dict[str, tuple[int, str]]) -> list[str]:
    """Tables whose row count or checksum differ (or exist on one side only)."""
    return sorted(t for t in set(left) | set(right) if left.get(t) != right.get(t))


# ----------------------------------------------------------------------------------------------- machine facts

PACKAGES = (
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "pandas",
    "numpy",
    "pyarrow",
    "dlt",
    "great-expectations",
    "apache-airflow",
    "astronomer-cosmos",
    "fastapi",
    "uvicorn",
    "requests",
    "sqlalchemy",
)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and package versions of this machine, for the report."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem_gib = round(int(m.group(1)) / 1024 / 1024, 1) if m else None
    except OSError:
        pass
    os_name = platform.platform()
    try:
        rel = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
        pretty = rel.get("PRETTY_NAME", "").strip('"')
        os_name = f"{pretty} (kernel {platform.release()})"
    except OSError:
        pass
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem_gib,
        "os": os_name,
        "python": platform.python_version(),
        "packages": versions,
    }


def load_average() -> list[float]:
    """The 1/5/15-minute load averages (other jobs on the machine skew timings; the report shows them)."""
    return [round(x, 2) for x in os.getloadavg()]


def free_disk_gib(path: Path) -> float:
    return round(shutil.disk_usage(path).free / 1024**3, 1)


def available_memory_gib() -> float:
    m = re.search(r"MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    return round(int(m.group(1)) / 1024 / 1024, 1) if m else 0.0


def dir_size_gib(path: Path) -> float:
    total = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return round(total / 1024**3, 2)


@dataclass
class Section:
    """One benchmark's result at one scale: rows of a table plus notes, kept as JSON."""

    name: str
    scale: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def print_table(title: str, rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Prints rows as an aligned text table as soon as a benchmark has them."""
    if not rows:
        print(f"\n{title}: (no rows)", flush=True)
        return
    cols = list(columns or rows[0].keys())
    cells = [[fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print(f"\n{title}", flush=True)
    print("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)), flush=True)


def fmt(value: Any) -> str:
    """A cell as text: floats with sensible precision, thousands separators, ``–`` for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def as_of(day: date) -> datetime:
    """The end of KST day ``day`` (``day+1 00:00`` KST): the instant a run for data date ``day`` sees."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), KST)
