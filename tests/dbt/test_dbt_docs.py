"""`dbt docs generate` works and the project documents itself: every mart column described, every model tested.

Also checks the house style that can be read from the manifest: only staging reads sources, every model has a
yml with a description and a key test, audience models expose the activation consumers.
"""

from __future__ import annotations

import json

import pytest
from dbt_helpers import END, run_dbt

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def docs(duckdb_build) -> tuple[dict, dict]:
    """manifest.json and catalog.json of ``dbt docs generate`` on the built warehouse."""
    run_dbt(
        ["docs", "generate"], run_date=END, workdir=duckdb_build.workdir, warehouse=duckdb_build.warehouse
    )
    target = duckdb_build.workdir / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    return manifest, catalog


def _models(manifest: dict) -> dict[str, dict]:
    return {
        k: v
        for k, v in manifest["nodes"].items()
        if v["resource_type"] == "model" and v["package_name"] == "crm"
    }


def test_every_mart_column_is_described(docs) -> None:
    manifest, catalog = docs
    missing = []
    marts = [k for k, v in _models(manifest).items() if v["fqn"][1] == "marts"]
    assert len(marts) >= 20
    for key in marts:
        described = {
            c: d.get("description", "").strip() for c, d in manifest["nodes"][key]["columns"].items()
        }
        for column in catalog["nodes"][key]["columns"]:
            if not described.get(column.lower()):
                missing.append(f"{key}.{column}")
    assert not missing, f"undocumented mart columns: {missing}"


def test_every_model_has_a_yml_description_and_key_test(docs) -> None:
    manifest, _ = docs
    tested: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            name = (node.get("test_metadata") or {}).get("name", "singular")
            for parent in node["depends_on"]["nodes"]:
                tested.setdefault(parent, set()).add(name)
    for key, model in _models(manifest).items():
        assert model["patch_path"], f"{key} has no yml"
        assert len(model["description"]) > 40, f"{key} needs a real description"
        keys = tested.get(key, set()) & {"unique", "unique_combination_of_columns"}
        assert keys, f"{key} has no key test (unique / unique_combination_of_columns)"


def test_only_staging_reads_sources(docs) -> None:
    manifest, _ = docs
    for key, model in _models(manifest).items():
        reads_sources = any(d.startswith("source.") for d in model["depends_on"]["nodes"])
        layer = model["fqn"][1]
        assert reads_sources == (layer == "staging"), f"{key} ({layer}) reads sources: {reads_sources}"


def test_audiences_are_exposed_to_activation(docs) -> None:
    manifest, _ = docs
    audiences = {k for k, v in _models(manifest).items() if v["name"].startswith("audience_")}
    exposed = set()
    for exposure in manifest["exposures"].values():
        exposed |= set(exposure["depends_on"]["nodes"])
    assert len(audiences) == 6 and audiences <= exposed
    assert all(manifest["nodes"][a]["schema"] == "audiences" for a in audiences)
