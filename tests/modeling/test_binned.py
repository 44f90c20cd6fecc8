"""BinnedRows: rows binned once fit as rows binned afresh, for the same rows per leaf."""

import dataclasses

import numpy as np
import pytest

from risk_model.modeling.binned import BinnedRows
from risk_model.modeling.config import ModelConfig
from risk_model.modeling.train import fit_booster, lgb_params

NAMES = ["f_up", "f_down", "f_noise", "f_rare"]
SMALL = ModelConfig(num_boost_round=30, min_data_in_leaf=20, max_depth=3, num_leaves=8)


def _binned(config: ModelConfig) -> BinnedRows:
    """Rows of a logistic truth (3,000 to fit, 1,000 to select) with a rare 0/1 feature."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 4)).astype(np.float32)
    x[:, 3] = 0
    x[rng.choice(4000, 50, replace=False), 3] = 1  # ~40 of the fit rows: split at 20, not 60
    y = (rng.random(4000) < 1 / (1 + np.exp(2.5 - 1.5 * x[:, 0] + 0.7 * x[:, 1]))).astype(float)
    params = lgb_params(config, 0, None)
    return BinnedRows.of(x[:3000], y[:3000], x[3000:], y[3000:], feature_names=NAMES, params=params)


@pytest.mark.parametrize("rows_per_leaf", [20, 60])
def test_rows_binned_once_fit_as_rows_binned_afresh_for_the_same_rows_per_leaf(rows_per_leaf):
    shared = _binned(SMALL)
    fit_booster(shared, config=dataclasses.replace(SMALL, max_depth=2, num_leaves=4), seed=0)
    config = dataclasses.replace(SMALL, min_data_in_leaf=rows_per_leaf)
    again = fit_booster(shared, config=config, seed=0)  # the second fit on the same bins
    fresh = fit_booster(_binned(config), config=config, seed=0)
    same = again.model_to_string() == fresh.model_to_string()
    # binning drops the rare feature for 60 rows per leaf: why fit_model bins per value
    assert same == (rows_per_leaf == SMALL.min_data_in_leaf)
