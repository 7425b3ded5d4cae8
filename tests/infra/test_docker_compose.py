"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_follow_the_official_airflow3_layout(compose):
    services = compose["services"]
    for name in [*AIRFLOW_SERVICES, "postgres"]:
        assert name in services, name
    commands = {n: services[n].get("command") for n in AIRFLOW_SERVICES[:-1]}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, svc in compose["services"].items():
        if name == "airflow-init":
            continue
        hc = svc.get("healthcheck")
        assert hc and hc.get("test"), f"{name} has no healthcheck"


def test_image_is_built_from_the_project_not_pip_additional_requirements(compose):
    for name in AIRFLOW_SERVICES:
        svc = compose["services"][name]
        build = svc["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in svc.get("environment", {})
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv.lock" in dockerfile and "uv export --frozen" in dockerfile
    assert "dbt parse" in dockerfile, "the image must carry a parsed manifest for fast DAG parsing"
    for folder in ["pipeline", "outputs", "activation", "include", "expectations", "dbt_project", "dags"]:
        assert f"COPY --chown=airflow:0 {folder}" in dockerfile
        assert (ROOT / folder).is_dir()


def test_project_folders_are_mounted_and_metadata_db_is_postgres(compose):
    svc = compose["services"]["airflow-scheduler"]
    targets = {v.split(":")[1] for v in svc["volumes"]}
    for folder in [
        "dags",
        "dbt_project",
        "pipeline",
        "outputs",
        "include",
        "activation",
        "expectations",
        "data",
    ]:
        assert f"/opt/crm/{folder}" in targets, folder
    env = svc["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    assert compose["services"]["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] == (
        "service_completed_successfully"
    )


def test_secrets_are_not_in_the_file(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    for key, value in env.items():
        if key.startswith("AIRFLOW_CONN_"):
            assert value.startswith("${"), f"{key} must come from the environment"
    init_sql = ROOT / "include" / "airflow" / "postgres-init.sql"
    mounted = [v for v in compose["services"]["postgres"]["volumes"] if "postgres-init.sql" in v]
    assert mounted and init_sql.is_file()


def test_emulators_are_optional(compose):
    emu = compose["services"]["emulators"]
    assert emu["profiles"] == ["emulators"]
    assert (
        "testbed.emulators serve" in " ".join(emu["command"])
        if isinstance(emu["command"], list)
        else emu["command"]
    )


def test_pools_file_declares_a_single_duckdb_writer():
    import json

    pools = json.loads((ROOT / "include" / "airflow" / "pools.json").read_text())
    assert pools["duckdb_writer"]["slots"] == 1


def _stages(dockerfile: str) -> dict[str, dict]:
    """``FROM … AS name`` stages with their base and the sources they COPY (the last stage is the default)."""
    stages: dict[str, dict] = {}
    current: dict | None = None
    for line in dockerfile.splitlines():
        words = line.split()
        if words[:1] == ["FROM"]:
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else f"stage{len(stages)}"
            current = stages.setdefault(name, {"base": words[1], "copies": []})
        elif words[:1] == ["COPY"] and current is not None:
            current["copies"] += [w for w in words[1:-1] if not w.startswith("--")]
    return stages


def test_the_production_image_holds_no_testbed_code(compose):
    stages = _stages((ROOT / "Dockerfile").read_text())
    default = list(stages)[-1]
    chain, name = [], default
    while name in stages:  # the default stage and the stages it is built on
        chain.append(name)
        name = stages[name]["base"]
    copied = [src for n in chain for src in stages[n]["copies"]]
    assert {"pipeline", "outputs", "activation", "include", "expectations", "dags", "dbt_project"} <= set(
        copied
    )
    assert not {"testbed", "benchmarks", "tests", "."} & set(copied), copied
    # nothing in what is shipped is emulator, sample-shop or synthetic-data code, nor imports it
    for folder in ("pipeline", "outputs", "activation", "include", "expectations", "dags"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "import testbed" not in text and "from testbed" not in text, path
            assert "fastapi" not in text and "faker" not in text, f"{path}: emulator/sample-shop library"
    # the Airflow services run the default (product) target; only the emulators use the testbed target
    for svc_name, svc in compose["services"].items():
        target = (svc.get("build") or {}).get("target")
        assert target == ("testbed" if svc_name == "emulators" else None), svc_name
    assert stages["testbed"]["copies"] == ["testbed"]
    # the wheel packages only the product
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'packages = ["pipeline", "outputs", "activation", "expectations", "include"]' in pyproject
