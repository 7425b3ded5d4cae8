"""Fixtures for the emulator tests: a runner on ephemeral ports in tmp dirs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulators.helpers import NOW, SENDER, TEMPLATES, Solapi
from testbed.emulators.runner import EmulatorHandle, start_emulators


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {name: tmp_path / name for name in ("shop", "state", "drops")}
    out["shop"].mkdir()
    templates = tmp_path / "templates.yml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    out["templates"] = templates
    return out


@pytest.fixture
def start(dirs: dict[str, Path]) -> Iterator[Callable[..., EmulatorHandle]]:
    """Starts emulators (``start(apis=..., faults=..., **options)``); all are stopped after the test."""
    handles: list[EmulatorHandle] = []

    def _start(apis=("solapi", "channeltalk", "webhook"), faults=None, now=NOW, **options) -> EmulatorHandle:
        opts = {"templates_path": str(dirs["templates"]), "solapi_senders": [SENDER], **options}
        handle = start_emulators(
            dirs["shop"], dirs["state"], dirs["drops"], now, apis=apis, faults=faults, options=opts
        )
        handles.append(handle)
        return handle

    yield _start
    for handle in handles:
        handle.stop()


@pytest.fixture
def solapi(start) -> Solapi:
    """A Solapi emulator whose messages reach their final status at once (no reveal delay)."""
    return Solapi(start(apis=("solapi",), solapi_processing_delay_s=0, solapi_report_delay_s=0))
