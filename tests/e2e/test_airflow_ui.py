"""`make airflow-ui` (scripts/airflow_ui.sh) serves Airflow on localhost and lists the project's DAGs, without import errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = fn()
            if result:
                return result
        except requests.RequestException as exc:
            last = exc
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what} ({last})")


def test_local_airflow_ui_serves_and_lists_the_dags(tmp_path: Path) -> None:
    port = _free_port()
    home = tmp_path / "airflow"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_UI_PORT": str(port),
        "CRM_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "standalone.log").open("w")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "airflow_ui.sh")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        health = _wait(
            lambda: (
                (r := requests.get(f"{base}/api/v2/monitor/health", timeout=5)).status_code == 200
                and r.json()
            ),
            240,
            "the API server's health endpoint",
        )
        assert health["metadatabase"]["status"] == "healthy"
        # a login, not "every local user is admin": the password is the one printed once on the terminal
        assert requests.get(f"{base}/api/v2/dags", timeout=10).status_code in (401, 403)
        password = re.search(r"login: admin / (\S+)", (tmp_path / "standalone.log").read_text()).group(1)
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password},
                              timeout=10).json()["access_token"]  # fmt: skip
        assert not [p for p in home.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
        auth = {"Authorization": f"Bearer {token}"}

        def dags():
            r = requests.get(f"{base}/api/v2/dags", params={"limit": 100}, headers=auth, timeout=10)
            r.raise_for_status()
            ids = {d["dag_id"] for d in r.json()["dags"]}
            return ids if {"crm_nightly", "crm_messaging_reports"} <= ids else None

        ids = _wait(dags, 240, "the dag-processor to register the DAGs")
        assert any(i.startswith("crm_campaign__") for i in ids)
        errors = requests.get(f"{base}/api/v2/importErrors", headers=auth, timeout=10).json()
        assert errors["total_entries"] == 0, errors
        page = requests.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
