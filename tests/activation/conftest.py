"""Fixtures for the activation tests: ledgers (SQLite file, local PostgreSQL), emulators on ephemeral ports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from act_helpers import REF, SHIPPED, Emu, connection_env

from testbed.emulators.runner import EmulatorHandle, start_emulators

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture
def pg_ledger_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards)."""
    from sqlalchemy import create_engine, text

    name = f"crm_ledger_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def start_emulators_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Emu]]:
    """Starts the messaging emulators and points the connections at them: ``start(faults=..., extra=..., **options)``."""
    handles: list[EmulatorHandle] = []

    def _start(faults: str | None = None, extra: dict | None = None, now=REF, **options) -> Emu:
        opts = {
            "templates_path": str(SHIPPED / "templates.yml"),
            "solapi_senders": ["0212345678"],
            "solapi_auth_clock": "wall",
            "solapi_processing_delay_s": 0,
            "solapi_report_delay_s": 0,
            "channeltalk_rate_limit": 500,
            "channeltalk_rate_burst": 500,
            **options,
        }
        state = tmp_path / f"emu{len(handles)}"
        handle = start_emulators(
            state / "shop",
            state / "state",
            state / "drops",
            now,
            apis=("solapi", "webhook", "channeltalk"),
            faults=faults,
            options=opts,
        )
        handles.append(handle)
        for key, value in connection_env(handle, **(extra or {})).items():
            monkeypatch.setenv(key, value)
        return Emu(handle)

    yield _start
    for handle in handles:
        handle.stop()
