"""Test-wide environment: telemetry off, repo on the path, Airflow pointed at the project's DAGs (no examples)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_ANALYTICS", "false")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))

# Parallel runs (`make test` runs pytest-xdist with two workers): a folder's tests stay on one worker, because its
# conftest builds session fixtures (a generated shop, a dbt build, the reliability histories) once per worker that
# needs them; the e2e modules have their own fixtures and travel separately. xdist's own `xdist_group` markers do not
# reach its scheduler under pytest 9.2 (xdist 3.8 renames `item._nodeid`, which pytest 9.2 no longer reads), so the
# scheduler below derives the group from the test's path itself.
# Groups are queued heaviest first (seconds, roughly, measured in CI) so the two workers finish close together;
# unknown groups go last. The order is only a schedule: every group runs either way.
GROUP_WEIGHT_S = {
    "e2e/test_demo.py": 760,
    "reliability": 480,
    "e2e/test_quality_stops_activation.py": 300,
    "e2e/test_backfill.py": 290,
    "e2e/test_replay.py": 280,
    "e2e/test_forget.py": 200,
    "e2e/test_import_command.py": 120,
    "benchmarks": 250,
    "dbt": 250,
    "expectations": 130,
    "outputs": 100,
    "activation": 90,
    "extract": 80,
    "e2e/test_airflow_ui.py": 45,
}


def group_of(nodeid: str) -> str:
    """``tests/dbt/test_x.py::test_y[1]`` → ``dbt``; e2e tests are grouped by module (``e2e/test_demo.py``)."""
    parts = nodeid.split("::", 1)[0].split("/")
    rel = parts[parts.index("tests") + 1 :] if "tests" in parts else parts
    return "/".join(rel[:2]) if rel[0] == "e2e" else rel[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # stable sort: the order inside a group is kept
    items.sort(key=lambda it: -GROUP_WEIGHT_S.get(group_of(it.nodeid), 0))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN201 — xdist's scheduler protocol
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):
        """xdist's load-by-scope scheduler with the scope being :func:`group_of`."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return FolderScheduling(config, log)
