"""The import direction is a contract (pyproject.toml, [tool.importlinter]), checked here and in lint.

Besides the tree as it is, each contract is shown to fail: an upward import added to a copy of the tree breaks the
layers contract, and a circle between two files breaks the acyclic one. DAG files import only task logic and core.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["pipeline", "outputs", "activation", "include", "expectations", "testbed", "benchmarks"]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The Python packages and pyproject.toml, copied (sources only)."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tree_copy: Path) -> None:
    pii = tree_copy / "include" / "core" / "pii.py"
    pii.write_text(pii.read_text() + "\n\ndef _upward():\n    from pipeline import nightly  # noqa\n")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "Imports run one way" in result.stdout and "BROKEN" in result.stdout
    assert "include.core.pii -> pipeline.nightly" in result.stdout


def test_the_product_importing_the_testbed_breaks_the_contract(tree_copy: Path) -> None:
    exports = tree_copy / "include" / "extract" / "file_import.py"
    exports.write_text(exports.read_text() + "\n\ndef _harness():\n    import testbed.shop.store  # noqa\n")
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "include.extract.file_import -> testbed.shop.store" in result.stdout


def test_a_circle_between_two_files_breaks_the_acyclic_contract(tree_copy: Path) -> None:
    resources = tree_copy / "include" / "extract" / "resources.py"
    resources.write_text(
        resources.read_text() + "\n\ndef _back():\n    from include.extract import storefront  # noqa\n"
    )
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    assert "No import cycle" in result.stdout and "BROKEN" in result.stdout
    assert "No cycles are allowed in include.extract" in result.stdout
    assert ".resources -> .storefront" in result.stdout


def _first_party_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in PACKAGES}


def test_dag_files_import_only_task_logic_and_core() -> None:
    dag_files = sorted((ROOT / "dags").glob("*.py"))
    assert dag_files
    allowed = ("pipeline", "include.core")
    for path in dag_files:
        bad = sorted(
            n for n in _first_party_imports(path) if not any(n == a or n.startswith(a + ".") for a in allowed)
        )
        assert not bad, f"{path.name} imports {bad}: DAG files wire tasks from pipeline (and core)"
