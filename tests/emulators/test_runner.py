"""The runner and the CLI: ports, credentials, Airflow connections, persistence across restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

from emulators.helpers import NOW, Solapi, sms
from include.core import connections
from testbed.emulators.runner import start_emulators

REPO = Path(__file__).resolve().parents[2]


def test_start_is_fast_and_on_loopback(start):
    t0 = time.perf_counter()
    handle = start()
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    ports = {url.rsplit(":", 1)[1] for url in handle.urls.values()}
    assert set(handle.urls) == {"solapi", "channeltalk", "webhook"} and len(ports) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in handle.urls.values())
    for url in handle.urls.values():
        assert requests.get(url + "/_emulator/health", timeout=5).json()["ok"] is True


def test_missing_emulator_modules_are_skipped_with_a_warning(start, caplog):
    handle = start(apis=("nosuchapi", "webhook"))
    assert set(handle.urls) == {"webhook"}
    assert "nosuchapi" in caplog.text and "skipped" in caplog.text


def test_fixed_ports_are_honoured(dirs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handle = start_emulators(
        dirs["shop"], dirs["state"], dirs["drops"], NOW, apis=("webhook",), ports={"webhook": port}
    )
    try:
        assert handle.urls["webhook"] == f"http://127.0.0.1:{port}"
    finally:
        handle.stop()
    # the port is free again after stop(): a restart on the same port works; URLs may use another name
    again = start_emulators(
        dirs["shop"], dirs["state"], dirs["drops"], NOW, apis=("webhook",), ports={"webhook": port},
        public_host="localhost",
    )  # fmt: skip
    try:
        assert again.urls["webhook"] == f"http://localhost:{port}"
        assert requests.get(again.urls["webhook"] + "/_emulator/health", timeout=5).ok
    finally:
        again.stop()


def test_connection_env_points_airflow_clients_at_the_emulators(start, monkeypatch):
    handle = start()
    env = handle.connection_env()
    assert set(env) == {"AIRFLOW_CONN_CRM_SOLAPI", "AIRFLOW_CONN_CRM_CHANNELTALK", "AIRFLOW_CONN_CRM_WEBHOOK"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    conn = connections.get_connection(connections.SOLAPI)
    assert conn.base_url == handle.urls["solapi"]
    assert (conn.login, conn.password) == (
        handle.credentials["solapi"]["key"],
        handle.credentials["solapi"]["secret"],
    )
    assert conn.extra["sender"] == "0212345678"
    assert connections.get_connection(connections.CHANNELTALK).base_url == handle.urls["channeltalk"]


def test_credentials_are_random_per_start_unless_given(start, monkeypatch):
    a, b = start(apis=("webhook",)), start(apis=("webhook",))
    assert a.credentials["webhook"]["secret"] != b.credentials["webhook"]["secret"]
    monkeypatch.setenv("CRM_EMULATOR_WEBHOOK_KEY", "K1")
    monkeypatch.setenv("CRM_EMULATOR_WEBHOOK_SECRET", "S1")
    assert start(apis=("webhook",)).credentials["webhook"] == {"key": "K1", "secret": "S1"}


def test_state_survives_a_restart(dirs, monkeypatch):
    monkeypatch.setenv("CRM_EMULATOR_SOLAPI_KEY", "NCSTESTKEY000001")
    monkeypatch.setenv("CRM_EMULATOR_SOLAPI_SECRET", "secret-for-restart-test")
    opts = {"solapi_senders": ["0212345678"], "solapi_report_delay_s": 60, "solapi_processing_delay_s": 10}

    def run():
        return start_emulators(dirs["shop"], dirs["state"], dirs["drops"], NOW, apis=("solapi", "channeltalk"),
                               options=opts)  # fmt: skip

    first = run()
    try:
        solapi = Solapi(first)
        used = solapi.signer.headers(salt="salt-used-before-restart")
        assert requests.get(solapi.url + "/messages/v4/list", headers=used, timeout=5).status_code == 200
        group_id = solapi.send_many([sms()]).json()["groupInfo"]["groupId"]
        creds = first.credentials["channeltalk"]
        requests.put(first.urls["channeltalk"] + "/open/v5/users/@m0000001", json={"tags": ["G1"]}, timeout=5,
                     headers={"x-access-key": creds["key"], "x-access-secret": creds["secret"]})  # fmt: skip
    finally:
        first.stop()
    second = run()
    try:
        solapi = Solapi(second)
        # the used signature is still remembered (same simulated minute), the message and group are still there
        r = requests.get(solapi.url + "/messages/v4/list", headers=used, timeout=5)
        assert r.json()["errorCode"] == "DuplicatedSignature"
        [msg] = solapi.list()["messageList"].values()
        assert msg["groupId"] == group_id and msg["statusCode"] == "2000"
        solapi.advance(120)  # the new process keeps revealing the old group's progress
        [msg] = solapi.list()["messageList"].values()
        assert msg["statusCode"] != "2000"
        users = requests.get(second.urls["channeltalk"] + "/_emulator/users", timeout=5).json()["users"]
        assert [u["memberId"] for u in users] == ["m0000001"] and users[0]["tags"] == ["G1"]
    finally:
        second.stop()


def test_cli_serve_writes_a_private_endpoints_file_and_stops_on_sigterm(tmp_path):
    endpoints = tmp_path / "endpoints.json"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable, "-m", "testbed.emulators", "serve",
        "--shop-dir", str(tmp_path / "shop"), "--state-dir", str(tmp_path / "state"),
        "--drops-dir", str(tmp_path / "drops"), "--now", NOW.isoformat(),
        "--apis", "solapi,webhook", "--ports", f"webhook={port}", "--faults", "rate=0",
        "--endpoints-file", str(endpoints), "--option", "solapi_senders=[0212345678]",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        line = proc.stdout.readline()
        ready_after = time.perf_counter() - t0
        assert line.startswith("READY "), line + proc.stderr.read()
        urls = json.loads(line[6:])["urls"]
        assert urls["webhook"] == f"http://127.0.0.1:{port}"
        info = json.loads(endpoints.read_text())
        assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600
        secret = info["credentials"]["solapi"]["secret"]
        assert secret not in line  # the readiness line never carries credentials
        assert "AIRFLOW_CONN_CRM_SOLAPI" in info["connections"]
        assert requests.get(urls["solapi"] + "/_emulator/health", timeout=5).status_code == 200
        assert ready_after < 10  # interpreter start + imports + servers; the servers alone start in < 2 s
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        out, err = proc.communicate()
        assert "STOPPED" in out and secret not in err
        assert not endpoints.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
