"""Session fixtures of the reliability suite: one generated shop, and the three pipeline histories run at once.

The histories (clean reference, faults, crashes) are independent until they are compared, so they run side by side
in threads of the test process (each drives its own worker processes and emulators): the fault history spends most
of its time waiting out rate limits and timeouts, which the other two fill with work. A test asks for the
history it needs with ``histories["crashes"].result()``.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from rel_harness import generate_template  # noqa: E402
from rel_scenarios import run_crashes, run_faults, run_reference  # noqa: E402


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop every history copies: ≈1k members, 45 days of events, generated once per session."""
    return generate_template(tmp_path_factory.mktemp("shop_template"))


@pytest.fixture(scope="session")
def histories(shop_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """Starts the reference, fault and crash histories in parallel; the futures hold their :class:`Result`."""
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="history")
    futures = {
        "faults": pool.submit(run_faults, shop_template, tmp_path_factory.mktemp("faults"), stop),
        "reference": pool.submit(run_reference, shop_template, tmp_path_factory.mktemp("reference")),
        "crashes": pool.submit(run_crashes, shop_template, tmp_path_factory.mktemp("crashes")),
    }
    yield futures
    stop.set()  # a history still running when the session ends (e.g. one test selected) is killed, not awaited
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session", autouse=True)
def _histories_start_first(request: pytest.FixtureRequest) -> None:
    """When any selected test needs the histories, they start before the first test (the fast property tests
    then run while the histories are under way), not when the first test that needs them comes up."""
    if any("histories" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("histories")
