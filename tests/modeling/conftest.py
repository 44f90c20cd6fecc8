"""Shared fixtures for the modeling tests: a hand-made snapshot frame and one MLflow store."""

from __future__ import annotations

import pandas as pd
import pytest

from modeling.modeling_helpers import CATALOGUE, FEATURES, make_frame
from risk_model.modeling.config_load import load_config
from risk_model.modeling.train import train_model


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="session")
def small_config():
    return load_config(overrides={"model.min_data_in_leaf": 50, "model.num_boost_round": 200})


@pytest.fixture(scope="session")
def trained(frame, small_config):
    return train_model(frame, FEATURES, CATALOGUE, small_config)


@pytest.fixture(scope="session")
def spec(trained, small_config):
    """The spec of the hand-made model (as ``spec.json`` would hold it)."""
    from risk_model.modeling.spec import build_spec
    from risk_model.policy import PolicyCalendar

    return build_spec(
        result=trained,
        feature_names=FEATURES,
        catalogue=CATALOGUE,
        config=small_config,
        policy=PolicyCalendar(),
        merchant_risk_as_of=None,
        version="v-test",
        data_fingerprint="abc",
        code="unknown",
    )


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """One SQLite store for the whole session (migrations cost ~1 s each)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
