"""Session-wide test settings, and how pytest-xdist shares the work between its workers.

``pyproject.toml`` runs the suite on two pytest-xdist workers with ``--dist loadscope``: a
module's tests run on one worker, so its module fixtures are built once. Here that is
refined: the modules of one group in :data:`SHARED` (they use a session fixture too costly
to build on both workers) run on one worker together, and the groups start longest first
(:data:`LONGEST_FIRST`), so that the two workers finish at about the same time.

(xdist's own ``--dist loadgroup`` does not group on pytest 9.2: it renames node ids through
an attribute pytest no longer reads, pytest-xdist issue 1386; the scheduler below reads the
node ids as they are.)
"""

import os
from pathlib import Path

import pytest

# Idle OpenMP and OpenBLAS threads sleep instead of spinning, as for the commands: importing
# the entry points sets both variables (pipelines/__init__.py says why; spinning OpenBLAS
# threads were most of a small calibration fit's CPU). The libraries read them when they
# load: no plugin has loaded numpy or LightGBM when this file is imported, and the processes
# that tests start inherit them.
import pipelines  # noqa: F401

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Module path prefix -> group: one Spark JVM (tests/spark/conftest.py); one training world,
# MLflow store and trained run (tests/pipelines/conftest.py); one 10,000-account world
# (tests/features/conftest.py, ~1.6 s of CPU to generate).
SHARED = {
    "tests/spark/": "spark",
    "tests/pipelines/test_train.py": "trained_run",
    "tests/pipelines/test_monitor.py": "trained_run",
    "tests/pipelines/test_train_report.py": "trained_run",
    "tests/features/test_merchant_risk.py": "features_world",
    "tests/features/test_parity.py": "features_world",
    "tests/features/test_separation.py": "features_world",
}
# Groups measured to take longest (about 10 s or more alone), longest first; the others
# follow in collection order.
LONGEST_FIRST = (
    "spark",
    "tests/test_notebooks.py",
    "trained_run",
    "tests/modeling/test_tracking.py",
    "tests/modeling/test_mlflow_adapter.py",
    "tests/modeling/test_bands.py",
    "tests/pipelines/test_hostile_sweep.py",
    "tests/test_serve_http.py",
)


def group_of(nodeid: str) -> str:
    """The group a test runs in: its module, or the module's group in :data:`SHARED`."""
    module = nodeid.split("::", 1)[0]
    return next((g for prefix, g in SHARED.items() if module.startswith(prefix)), module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` with :func:`group_of` as the scope of a test."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # A stable sort: tests keep their order inside a group (the notebooks run in file order).
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of(item.nodeid), len(rank)))


def shared_folder(tmp_path_factory, name: str) -> Path:
    """``name`` under the run's temporary folder, the same for every xdist worker of a run."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The small trained model shared by the scoring tests (trained once per run)."""
    from scoring_model import scoring_model

    return scoring_model(shared_folder(tmp_path_factory, "scoring_model"))


@pytest.fixture(scope="session")
def predictor(model):
    """The verified predictor of :func:`model`."""
    from risk_model.predict import load

    return load(model.artefact)


@pytest.fixture(scope="session", autouse=True)
def _features_cache(tmp_path_factory):
    """Trainings in tests share one features cache in a temporary folder, not ./data/cache."""
    from risk_model.modeling import stage_cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stage_cache, "DEFAULT_DIR", tmp_path_factory.mktemp("features_cache"))
        yield
