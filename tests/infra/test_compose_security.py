"""Secure defaults of docker-compose.yml, checked statically (no Docker engine here): a required Fernet key and JWT
secret, no password written in the file, the ledger on its own credentials, ports on loopback unless told otherwise,
and the secrets in a git-ignored .env with a committed .env.example."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = re.compile(r"^\$\{(\w+):\?[^}]+\}$")
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
]


@pytest.fixture(scope="module")
def text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(text: str) -> dict:
    return yaml.safe_load(text)


def _env(compose: dict, service: str) -> dict:
    env = compose["services"][service].get("environment") or {}
    return env if isinstance(env, dict) else dict(e.split("=", 1) for e in env)


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_fernet_key_and_jwt_secret_are_required(compose, service) -> None:
    env = _env(compose, service)
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        value = str(env.get(key, ""))
        assert REQUIRED.match(value), f"{service}: {key} must be ${{VAR:?…}} (required), not {value!r}"
    # one variable each, shared by every component (a JWT signed by the scheduler must verify at the api-server)
    assert {REQUIRED.match(env["AIRFLOW__API_AUTH__JWT_SECRET"]).group(1)} == {"AIRFLOW_JWT_SECRET"}


def _urls(compose: dict) -> dict[str, str]:
    out = {}
    for name in compose["services"]:
        for key, value in _env(compose, name).items():
            if isinstance(value, str) and "://" in value:
                out[f"{name}.{key}"] = value
    return out


def test_no_password_is_written_in_the_file(compose, text) -> None:
    for where, url in _urls(compose).items():
        m = re.match(r"^[\w+]+://([^:@/]+):([^@]*)@", url)
        if m:
            assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", m.group(2)), f"{where}: password in the URL: {url}"
    for name in compose["services"]:
        for key, value in _env(compose, name).items():
            if re.search(r"PASSWORD|SECRET|FERNET", key) and not key.endswith("_FILE"):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}.{key} = {value!r}"
    # no well-known default password anywhere (user names may be 'airflow', passwords may not)
    for literal in (
        ":airflow@",
        ":postgres@",
        "PASSWORD: airflow",
        "PASSWORD: postgres",
        'ALL_ADMINS: "true"',
    ):
        assert literal not in text, literal


def test_the_ledger_has_its_own_role_and_password(compose) -> None:
    ledger = _urls(compose)["airflow-scheduler.CRM_LEDGER_URL"]
    airflow = _urls(compose)["airflow-scheduler.AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    user_pw = lambda url: re.match(r"^[\w+]+://([^:@/]+):([^@]*)@", url).groups()  # noqa: E731
    assert user_pw(ledger)[0] != user_pw(airflow)[0]
    assert user_pw(ledger)[1] != user_pw(airflow)[1]
    postgres = compose["services"]["postgres"]
    assert any("postgres-init-ledger.sh" in v for v in postgres["volumes"])
    init = (ROOT / "include" / "airflow" / "postgres-init-ledger.sh").read_text()
    assert "CREATE ROLE crm_ledger" in init and "CRM_LEDGER_DB_PASSWORD" in init
    assert "OWNER TO crm_ledger" in init


def test_ports_bind_to_loopback_by_default(compose) -> None:
    published = [(n, p) for n, svc in compose["services"].items() for p in svc.get("ports", [])]
    assert published, "the API server publishes its port"
    for name, port in published:
        assert isinstance(port, str) and port.startswith("${CRM_BIND:-127.0.0.1}:"), f"{name}: {port!r}"
    assert "ports" not in compose["services"]["postgres"], "the database is never published"


def test_the_ui_needs_a_login(compose) -> None:
    env = _env(compose, "airflow-apiserver")
    assert str(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"]).lower() == "false"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/opt/airflow/secrets/")


def test_env_file_is_ignored_and_the_example_is_committed(compose) -> None:
    example = (ROOT / ".env.example").read_text()
    required = set()
    for name in compose["services"]:
        for value in _env(compose, name).values():
            required |= set(re.findall(r"\$\{(\w+):\?", str(value)))
    assert required >= {
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_DB_PASSWORD",
        "CRM_LEDGER_DB_PASSWORD",
    }
    for var in required:
        assert re.search(rf"^{var}=change-me$", example, re.M), f".env.example lacks a placeholder for {var}"
    assert "Fernet.generate_key" in example and "openssl rand" in example, "say how to generate the values"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT).returncode
    assert ignored == 0, ".env must be git-ignored"
    assert subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT).returncode == 1
