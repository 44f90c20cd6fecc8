"""The package as a user gets it: a wheel, installed non-editable into a fresh venv.

The wheel is built from a copy of the project's files (so no ``build/`` folder, stale or
not, is left in or taken from the checkout), installed with ``--no-deps`` into a venv
without pip, and that venv reaches the already-installed dependencies through a ``.pth``
line naming this interpreter's ``site-packages`` (a plain path line: the ``.pth`` files
there, such as the editable install's finder, are not run). ``risk_model`` and
``pipelines`` therefore come from the wheel alone, and the pipelines run from a folder
that is not the checkout, with their default paths: ``./data/...`` and ``./mlflow.db``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.install  # about a minute: run by .ci/run, not the default run
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("risk_model", "pipelines")
SMALL_CONFIG = "[model]\nmin_data_in_leaf = 40\nnum_boost_round = 60\n"


def _run(cwd: Path, program: str | Path, line: str, *paths: str | Path, code: int = 0) -> str:
    """Run ``program`` with the words of ``line`` then ``paths`` in ``cwd``; check the exit code."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    env.update(OMP_WAIT_POLICY="passive", MLFLOW_DISABLE_TELEMETRY="true")
    cmd = [str(program), *line.split(), *map(str, paths)]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == code, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _source_copy(target: Path) -> Path:
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("pyproject.toml", "README.md", *PACKAGES):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=ignore)
        else:
            shutil.copy2(path, target / name)
    return target


def _modules(names) -> set[str]:
    return {n for n in names if n.endswith(".py") and n.split("/")[0] in PACKAGES}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip wheel --no-deps`` builds from the project's files."""
    base = tmp_path_factory.mktemp("wheel")
    source = _source_copy(base / "source")
    pip = "-m pip wheel --no-deps --no-build-isolation --no-index --quiet --wheel-dir"
    _run(base, sys.executable, pip, base / "dist", source)
    (found,) = (base / "dist").glob("closure_risk-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; the dependencies are this environment's."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    _run(home.parent, sys.executable, "-m venv --without-pip", home)
    python = home / "bin" / "python"
    pip = f"-m pip --python {python} install --quiet --no-deps --no-index --no-compile"
    _run(home.parent, sys.executable, pip, wheel)
    site = _run(home, python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site.strip()) / "_closure_risk_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return home


def test_the_wheel_holds_every_module_of_the_source_tree(wheel):
    with zipfile.ZipFile(wheel) as archive:
        packed = _modules(archive.namelist())
    tracked = _modules(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py"))
    assert packed == tracked
    assert "risk_model/modeling/pyfunc_model.py" in packed  # logged with the served model


def test_installed_wheel_generates_trains_and_scores_from_another_folder(wheel, venv, tmp_path):
    python, work = venv / "bin" / "python", tmp_path / "work"
    work.mkdir()
    where = _run(work, python, "-c", "import risk_model; print(risk_model.__file__)")
    assert Path(where.strip()).is_relative_to(venv), where
    assert not Path(where.strip()).is_relative_to(ROOT)

    _run(work, python, "-m pipelines.generate --accounts 1200 --months 18 --seed 11 --quiet")
    (work / "small.toml").write_text(SMALL_CONFIG)
    _run(work, python, "-m pipelines.train --config small.toml --max-months 10 --quiet")
    _run(work, python, "-m pipelines.score data/world/histories.parquet --workers 1")

    assert {p.name for p in work.iterdir()} >= {"data", "mlflow.db", "mlruns"}
    assert not list(venv.rglob("site-packages/data"))  # nothing written beside the code
    spec = json.loads((work / "data" / "models" / "latest" / "spec.json").read_text())
    version = wheel.name.split("-")[1]
    assert spec["code_version"] == f"closure-risk=={version}"  # metadata, not a git commit
    scores = pq.read_table(work / "data" / "scores" / "histories.scores.parquet")
    histories = work / "data" / "world" / "histories.parquet"
    assert scores.num_rows == pq.read_metadata(histories).num_rows

    # The store is the working directory's: from a folder without ./mlflow.db the champion
    # is unknown (exit 2) although the one above is on disk, and nothing is written.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _run(elsewhere, python, "-m pipelines.score", histories, "--out", "s.parquet", code=2)
    assert not (elsewhere / "s.parquet").exists()
