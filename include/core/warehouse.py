"""Process-level hygiene around the DuckDB warehouse file.

DuckDB lets one process open a file in one configuration at a time. Under ``airflow dags test`` (and the demo), every
task runs in the same process, and dbt-duckdb keeps its read-write handle open after Cosmos's in-process dbt run; a
later task opening the warehouse read-only then fails with "different configuration". Tasks that may follow dbt in the
same process call :func:`release_dbt_handle` first. Under a real scheduler each task has its own process and this is
a no-op.
"""

from __future__ import annotations

import sys


def release_dbt_handle() -> bool:
    """Closes dbt-duckdb's cached in-process connection, if dbt ran in this process; returns whether one was open."""
    mod = sys.modules.get("dbt.adapters.duckdb.connections")
    if mod is None:
        return False
    manager = mod.DuckDBConnectionManager
    with manager._LOCK:
        env = manager._ENV
        if env is None:
            return False
        env.close()
        manager._ENV = None
    return True
