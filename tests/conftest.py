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
