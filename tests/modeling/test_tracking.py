import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from risk_model.modeling import tracking


def test_default_store_is_anchored_to_the_project(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # the current directory must not matter
    uri = tracking.resolve_tracking_uri()
    assert uri == f"sqlite:///{tracking.project_root() / 'mlflow.db'}"
    assert (tracking.project_root() / "risk_model" / "modeling").is_dir()


def test_environment_and_explicit_uri_win(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/env.db")
    assert tracking.resolve_tracking_uri() == "sqlite:////tmp/env.db"
    assert tracking.resolve_tracking_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_artifacts_go_beside_the_database_and_ui_command(mlflow_uri):
    experiment_id = tracking.setup_tracking(mlflow_uri, "unit")
    assert tracking.setup_tracking(mlflow_uri, "unit") == experiment_id  # reused
    location = MlflowClient(mlflow_uri).get_experiment(experiment_id).artifact_location
    assert location.endswith("/mlruns")
    assert mlflow_uri.removeprefix("sqlite:///").rsplit("/", 1)[0] in location
    assert tracking.ui_command(mlflow_uri) == f"mlflow ui --backend-store-uri {mlflow_uri}"


def test_no_champion_gives_nan(mlflow_uri):
    client = MlflowClient(mlflow_uri)
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    gini, note = tracking.champion_gini_on(client, "no-such-model", frame, np.array([0, 1]), 3)
    assert np.isnan(gini) and note == "no champion yet"


def test_requirements_are_pinned():
    reqs = tracking._requirements()
    assert any(r.startswith("lightgbm==") for r in reqs)
    assert not any(r.startswith("closure-risk") for r in reqs)
