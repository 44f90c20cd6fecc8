"""Session fixtures for the training pipeline tests: one small world, one MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.train import main
from risk_model.synthetic import WorldConfig, write_world

SMALL_WORLD = WorldConfig(n_accounts=1500, n_months=18, seed=11, n_merchants=300)


@pytest.fixture(scope="session")
def train_store(tmp_path_factory) -> str:
    """One SQLite MLflow store for every training test (migrations cost ~1 s each)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(SMALL_WORLD, out)
    return out


@pytest.fixture(scope="session")
def trained_run(small_world, train_store, tmp_path_factory):
    """Train once on the small world with tracking; return (models dir, stdout)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("models")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["--data", str(small_world), "--out", str(out), "--tracking-uri", train_store])
    assert code == 0, buffer.getvalue()
    return out, buffer.getvalue()
