"""Session-wide test settings."""

import os

import pytest

# OpenMP spinning on a busy 2-core machine costs ~100x; keep waits passive.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """The small trained model shared by the scoring tests (trained once per session)."""
    from scoring_model import scoring_model

    return scoring_model(tmp_path_factory.getbasetemp() / "scoring_model")


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
