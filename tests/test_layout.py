"""The project's layout rules: tests mirror modules, declared dependencies are used.

A module ``risk_model/a/b.py`` is tested in ``tests/a/test_b.py``, ``pipelines/x.py`` in
``tests/pipelines/test_x.py`` (a leading underscore is dropped: ``_masks.py`` ->
``test_masks.py``). :data:`ELSEWHERE` names the few test files that live in another
folder, each with its reason.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("risk_model", "pipelines")

ELSEWHERE = {
    # Need the session-wide Spark fixtures of tests/spark/conftest.py.
    "risk_model/spark/features.py": "tests/spark/test_features_spark.py",
    "pipelines/_score_spark.py": "tests/spark/test_score_spark.py",
    "pipelines/_spark_parity.py": "tests/spark/test_spark_udf.py",
    "pipelines/_train_spark.py": "tests/spark/test_features_spark.py",
    # Parts split out of a command or a page for size, tested through what they build.
    "pipelines/_outputs.py": "tests/pipelines/test_score_outputs.py",
    "pipelines/_reading.py": "tests/pipelines/test_score_hostile.py",
    "pipelines/_train_summary.py": "tests/pipelines/test_train.py",
    "pipelines/_train_tracking.py": "tests/pipelines/test_train.py",
    "pipelines/_monitor_tracking.py": "tests/pipelines/test_monitor.py",
    "risk_model/modeling/config_load.py": "tests/modeling/test_config.py",
    "risk_model/modeling/report_html.py": "tests/modeling/test_report.py",
    "risk_model/modeling/report_limits.py": "tests/modeling/test_report.py",
    "risk_model/modeling/report_sections.py": "tests/modeling/test_report.py",
    "risk_model/monitoring_report.py": "tests/test_monitoring.py",
    # The contract's checks, split out of validation.py for size: every check code is
    # raised by a test of validate_histories / split_valid there or in the hostile twin.
    "risk_model/_checks.py": "tests/test_validation.py",
    "risk_model/_conform.py": "tests/test_validation_hostile.py",
    "risk_model/_shapes.py": "tests/test_validation_hostile.py",
    # The artefact loader's checks: each refusal is tested on a crafted artefact there.
    "risk_model/modeling/artefact_files.py": "tests/modeling/test_artefact_hostile.py",
    "risk_model/modeling/model_text.py": "tests/modeling/test_artefact_hostile.py",
    "risk_model/modeling/spec_check.py": "tests/modeling/test_artefact_hostile.py",
    "risk_model/modeling/spec_values.py": "tests/modeling/test_artefact_hostile.py",
    "risk_model/modeling/registry_lock.py": "tests/modeling/test_tracking.py",
    "risk_model/recourse_edits.py": "tests/test_recourse.py",
    # A benchmark is tested by running its subcommand of pipelines.benchmark.
    "pipelines/_bench_recourse.py": "tests/pipelines/test_benchmark.py",
}

# Distributions imported under another name.
IMPORT_NAMES = {"scikit-learn": "sklearn"}
# Dependencies that another package loads for us, never imported by our code: uvicorn (the
# model server) runs on uvloop when it is installed.
LOADED_BY_OTHERS = {"uvloop"}


def mirror(module: str) -> str:
    """The test file of a module path relative to the project (``risk_model/a/b.py``)."""
    parts = Path(module).parts
    folder = parts[1:-1] if parts[0] == "risk_model" else parts[:-1]
    return Path("tests", *folder, "test_" + parts[-1].lstrip("_")).as_posix()


def modules(root: Path) -> list[str]:
    """Every module of the packages under ``root`` except ``__init__.py``."""
    found = (p for top in CODE for p in (root / top).rglob("*.py") if p.name != "__init__.py")
    return sorted(p.relative_to(root).as_posix() for p in found)


def without_tests(root: Path, elsewhere: dict[str, str]) -> set[str]:
    """Modules under ``root`` with neither a mirroring test file nor one named elsewhere."""
    return {m for m in modules(root) if not (root / elsewhere.get(m, mirror(m))).is_file()}


def test_mirror_paths():
    assert mirror("risk_model/modeling/spec.py") == "tests/modeling/test_spec.py"
    assert mirror("risk_model/_masks.py") == "tests/test_masks.py"
    assert mirror("pipelines/_reading.py") == "tests/pipelines/test_reading.py"
    assert mirror("pipelines/score.py") == "tests/pipelines/test_score.py"


def test_every_module_has_its_test_file():
    assert without_tests(ROOT, ELSEWHERE) == set(), "add the test file (tests mirror modules)"
    assert all((ROOT / path).is_file() for path in ELSEWHERE.values())


def test_a_module_without_its_test_file_is_found(tmp_path):
    for path in ("risk_model/a/b.py", "risk_model/c.py", "pipelines/_d.py", "tests/a/test_b.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    assert without_tests(tmp_path, {}) == {"risk_model/c.py", "pipelines/_d.py"}
    (tmp_path / "tests" / "test_d.py").write_text("")  # in the wrong folder: still missing
    assert without_tests(tmp_path, {}) == {"risk_model/c.py", "pipelines/_d.py"}
    assert without_tests(tmp_path, {"risk_model/c.py": "tests/test_d.py"}) == {"pipelines/_d.py"}


def imported_roots(root: Path) -> set[str]:
    """Top-level names the modules under ``root`` import (absolute imports)."""
    names: set[str] = set()
    for module in modules(root):
        for node in ast.walk(ast.parse((root / module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def unused(requirements: list[str], imported: set[str]) -> list[str]:
    """Requirements (PEP 508 strings) whose import name is not in ``imported``."""
    names = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in requirements]
    return [n for n in names if IMPORT_NAMES.get(n, n.replace("-", "_").lower()) not in imported]


def test_every_runtime_dependency_is_imported_by_the_code():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = project["dependencies"] + project["optional-dependencies"]["spark"]
    imported = imported_roots(ROOT) | LOADED_BY_OTHERS
    assert unused(runtime, imported) == []
    # A declared package nothing imports is named (joblib was, until it was dropped).
    assert unused([*runtime, "joblib>=1.4"], imported) == ["joblib"]
